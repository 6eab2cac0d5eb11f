/** Business failures with a stable code; activities turn them into non-retryable failures, the API into statuses. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** PostgreSQL's unique_violation, seen through pg or a Prisma driver adapter. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string; originalCode?: string }; meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } };
  return (
    e?.code === '23505' ||
    e?.code === 'P2002' ||
    e?.cause?.code === '23505' ||
    e?.cause?.originalCode === '23505' ||
    e?.meta?.driverAdapterError?.cause?.originalCode === '23505'
  );
}
