/** Business failures with a stable code; activities turn them into non-retryable failures, the API into statuses. */
import type { ErrorCode } from './error-codes';

export class DomainError extends Error {
  constructor(
    /** One of lib/error-codes.ts, which also gives its HTTP status. */
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** PostgreSQL's unique_violation, seen through pg or a Prisma driver adapter. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as {
    code?: string;
    cause?: { code?: string; originalCode?: string };
    meta?: { driverAdapterError?: { cause?: { originalCode?: string } } };
  };
  return (
    e?.code === '23505' ||
    e?.code === 'P2002' ||
    e?.cause?.code === '23505' ||
    e?.cause?.originalCode === '23505' ||
    e?.meta?.driverAdapterError?.cause?.originalCode === '23505'
  );
}
