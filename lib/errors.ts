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

/** What a PostgreSQL error says, however it arrived: from pg itself, a Prisma driver adapter, or Prisma wrapping one. */
export interface DatabaseRefusal {
  /** The SQLSTATE, e.g. 22021 for a NUL in text. */
  sqlState: string;
  /** PostgreSQL's own message, without Prisma's account of the call. */
  message: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function databaseRefusalOf(error: unknown): DatabaseRefusal | undefined {
  const e = error as {
    code?: unknown;
    message?: unknown;
    severity?: unknown;
    cause?: { originalCode?: unknown; originalMessage?: unknown };
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown; originalMessage?: unknown } } };
  };
  // Prisma (P2039, P2010, P2020, ...) keeps the driver adapter's error in meta; the adapter's own error, its cause.
  for (const cause of [e?.meta?.driverAdapterError?.cause, e?.cause]) {
    if (typeof cause?.originalCode === 'string' && SQLSTATE.test(cause.originalCode)) {
      return { sqlState: cause.originalCode, message: String(cause.originalMessage ?? e.message ?? '') };
    }
  }
  // pg's DatabaseError: a SQLSTATE in `code`, with a severity (a Node system error's code has none).
  if (typeof e?.code === 'string' && SQLSTATE.test(e.code) && typeof e.severity === 'string') {
    return { sqlState: e.code, message: String(e.message ?? '') };
  }
  return undefined;
}

/**
 * Integrity violations a concurrent transaction can explain, so that a retry may succeed: a unique
 * or exclusion violation (two writers of one key: the services turn those on idempotency keys into
 * the existing row), and a foreign key or restrict violation (the row referred to may be committed,
 * or its last reference removed, a moment later). The rest of class 23 (not null, check) is about
 * the value itself.
 */
const RACY_INTEGRITY_VIOLATIONS = new Set(['23505', '23P01', '23503', '23001']);

/**
 * A database refusal no retry can change: SQLSTATE class 22 (data exception: a NUL in text, a number
 * out of range, malformed input) always, and class 23 (integrity constraint violation) unless a
 * concurrent transaction could explain it. The same value fails the same way every time.
 */
export function deterministicDatabaseRefusalOf(error: unknown): DatabaseRefusal | undefined {
  const refusal = databaseRefusalOf(error);
  if (!refusal) return undefined;
  const dataClass = refusal.sqlState.slice(0, 2);
  if (dataClass === '22') return refusal;
  if (dataClass === '23' && !RACY_INTEGRITY_VIOLATIONS.has(refusal.sqlState)) return refusal;
  return undefined;
}
