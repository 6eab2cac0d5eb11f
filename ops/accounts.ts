/**
 * The operator's account commands of `npm run ops`: the only way anyone becomes an admin, how a
 * user changes plan (told to quota by the accounts service), and signing a user out everywhere. They talk to the accounts and
 * quota databases (ACCOUNTS_DATABASE_URL, QUOTA_DATABASE_URL or DATABASE_URL), not to Temporal.
 */
import { DomainError } from '../lib/errors';
import { OperationError } from './orders';
import type { AccountsService } from '../services/accounts/accounts.service';

export const ACCOUNT_USAGE = `  make-admin <email>                                       give the account the admin role
  revoke-admin <email>                                     take it back
  set-plan <email> <plan>                                  move the account to a plan (free, pro)
  revoke-sessions <email>                                  sign the account out everywhere (every session ends)`;

export const ACCOUNT_COMMANDS = new Set(['make-admin', 'revoke-admin', 'set-plan', 'revoke-sessions']);

export async function runAccountCommand(
  argv: readonly string[],
  accounts: AccountsService,
  out: (line: string) => void,
): Promise<number> {
  const [command, email, plan] = argv;
  if (!email) throw new OperationError(`${command} needs an email\n${ACCOUNT_USAGE}`);
  try {
    switch (command) {
      case 'make-admin':
      case 'revoke-admin': {
        const account = await accounts.setRole(email, command === 'make-admin' ? 'admin' : 'user');
        out(
          `${account.email} (${account.id}) is now ${account.role === 'admin' ? 'an admin' : 'a user'}; it applies to their open sessions at once`,
        );
        return 0;
      }
      case 'set-plan': {
        if (!plan) throw new OperationError(`set-plan needs a plan\n${ACCOUNT_USAGE}`);
        const account = await accounts.setPlan(email, plan);
        out(`${account.email} (${account.id}) is now on the ${account.plan} plan`);
        return 0;
      }
      case 'revoke-sessions': {
        const { account, ended } = await accounts.revokeSessionsByEmail(email);
        out(
          `${account.email} (${account.id}): ${ended} session${ended === 1 ? '' : 's'} ended; their cookies, tokens and open streams are refused from now on`,
        );
        return 0;
      }
      default:
        throw new OperationError(`unknown command "${command}"\n${ACCOUNT_USAGE}`);
    }
  } catch (error) {
    if (error instanceof DomainError) throw new OperationError(error.message);
    throw error;
  }
}
