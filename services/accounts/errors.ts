/** The accounts service's failures: a DomainError with one of its codes (lib/error-codes.ts gives each its status). */
import { DomainError } from '../../lib/errors';

export type AccountsErrorCode =
  | 'EMAIL_TAKEN'
  | 'INVALID_EMAIL'
  | 'WEAK_PASSWORD'
  | 'INVALID_CREDENTIALS'
  | 'RATE_LIMITED'
  | 'AUTH_BUSY'
  | 'CURRENT_PASSWORD_WRONG'
  | 'LINK_INVALID'
  | 'ACCOUNT_NOT_FOUND';

export class AccountsError extends DomainError {
  declare readonly code: AccountsErrorCode;

  constructor(code: AccountsErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'AccountsError';
  }
}
