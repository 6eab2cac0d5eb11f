import { AccountsService } from '../services/accounts/accounts.service';
import { createAccountsDb } from '../services/accounts/db';
import { createQuotaDb } from '../services/quota/db';
import { QuotaService } from '../services/quota/quota.service';
import { useServiceDatabase } from '../test/helpers/databases';
import { runAccountCommand } from './accounts';

jest.setTimeout(30_000);

const accountsDb = useServiceDatabase('accounts', createAccountsDb);
const quotaDb = useServiceDatabase('quota', createQuotaDb);
let accounts: AccountsService;
let quota: QuotaService;
beforeAll(() => {
  quota = new QuotaService(quotaDb.db);
  accounts = new AccountsService(accountsDb.db, { plans: quota });
});

test('make-admin gives the role (matching the email in any case) and revoke-admin takes it back', async () => {
  const account = await accounts.createAccount({ email: 'Olga@Example.com', password: 'olga password' });
  const lines: string[] = [];
  expect(await runAccountCommand(['make-admin', 'olga@example.com'], accounts, (line) => lines.push(line))).toBe(0);
  expect(await accounts.findById(account.id)).toMatchObject({ role: 'admin' });
  expect(lines[0]).toContain('is now an admin');
  expect(await runAccountCommand(['revoke-admin', 'OLGA@example.com'], accounts, () => undefined)).toBe(0);
  expect(await accounts.findById(account.id)).toMatchObject({ role: 'user' });
});

test('set-plan moves the account and tells quota; unknown accounts and plans are refused with a message', async () => {
  const account = await accounts.createAccount({ email: 'pat@example.com', password: 'pat password' });
  expect(await runAccountCommand(['set-plan', 'pat@example.com', 'pro'], accounts, () => undefined)).toBe(0);
  expect((await quota.getQuota(account.id)).plan).toBe('pro');
  await expect(runAccountCommand(['set-plan', 'pat@example.com', 'gold'], accounts, () => undefined)).rejects.toThrow(
    'There is no plan "gold"',
  );
  await expect(runAccountCommand(['make-admin', 'nobody@example.com'], accounts, () => undefined)).rejects.toThrow(
    'No account for nobody@example.com',
  );
  await expect(runAccountCommand(['make-admin'], accounts, () => undefined)).rejects.toThrow('needs an email');
});

test('revoke-sessions signs the account out everywhere and says how many sessions ended', async () => {
  const account = await accounts.createAccount({ email: 'rex@example.com', password: 'rex password' });
  const sessions = await Promise.all([1, 2].map(() => accounts.openSession(account.id)));
  const lines: string[] = [];
  expect(await runAccountCommand(['revoke-sessions', 'Rex@example.com'], accounts, (line) => lines.push(line))).toBe(0);
  expect(lines).toEqual([expect.stringContaining('rex@example.com (' + account.id + '): 2 sessions ended')]);
  expect(await accounts.activeSessionIds(sessions.map((session) => session.id))).toEqual(new Set());
  await expect(runAccountCommand(['revoke-sessions', 'nobody@example.com'], accounts, () => undefined)).rejects.toThrow(
    'No account for nobody@example.com',
  );
});
