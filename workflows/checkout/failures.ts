/** What a workflow reads from a failed activity: its code and message, and the details a business failure carries. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import type { CheckoutFailure } from '../contract';

export function failureOf(error: unknown): CheckoutFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? ERROR_CODES.FAILED, message: cause.message };
  return { code: ERROR_CODES.FAILED, message: cause instanceof Error ? cause.message : String(cause) };
}

export function detailsOf(error: unknown): unknown {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
}

/** A charge Stripe kept `processing` past the order's expiresAt: the order expires, its undo looks the intent up. */
export class ProcessingOutlivedOrder extends Error {
  constructor() {
    super('Stripe did not settle the payment within the order’s time');
  }
}
