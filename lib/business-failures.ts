/**
 * Turns the services' DomainErrors, and database refusals no retry can change, into non-retryable
 * activity failures that carry their code.
 */
import { ApplicationFailure } from '@temporalio/common';
import { DomainError, deterministicDatabaseRefusalOf } from './errors';
import { isErrorCode, type ErrorCode } from './error-codes';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AsyncFunctions = Record<string, (...args: any[]) => Promise<unknown>>;

/**
 * Wraps each activity so that a business failure (out of stock, declined card) fails at once
 * with its code, and so does a value the database refuses (DATA_REJECTED: a NUL in text, a number
 * out of range, a check constraint), which would fail every retry the same way for a minute and
 * then park the order. Anything else (a connection lost, a deadlock, a unique-key race) stays retryable.
 */
export function withBusinessFailures<T extends AsyncFunctions>(activities: T): T {
  const wrapped: AsyncFunctions = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await fn(...args);
      } catch (error) {
        if (error instanceof DomainError)
          throw ApplicationFailure.nonRetryable(error.message, error.code, error.details ?? {});
        const refusal = deterministicDatabaseRefusalOf(error);
        if (refusal) {
          throw ApplicationFailure.create({
            message: `The database refused a value (SQLSTATE ${refusal.sqlState}): ${refusal.message}`,
            type: 'DATA_REJECTED' satisfies ErrorCode,
            nonRetryable: true,
            details: [{ sqlState: refusal.sqlState }],
            cause: error instanceof Error ? error : undefined,
          });
        }
        throw error;
      }
    };
  }
  return wrapped as T;
}

/**
 * The way back, for callers of Temporal (the API): a business failure that crossed an activity or a
 * workflow update as an ApplicationFailure, as the DomainError with its code and details.
 */
export function domainErrorFrom(failure: ApplicationFailure, fallbackCode: ErrorCode = 'FAILED'): DomainError {
  const details = failure.details?.[0];
  return new DomainError(
    isErrorCode(failure.type) ? failure.type : fallbackCode,
    failure.message,
    details && typeof details === 'object' ? (details as Record<string, unknown>) : undefined,
  );
}
