/**
 * The mail a test's API sent, read from the run's Mailpit (started by Jest's global setup,
 * harness/test-infrastructure.ts) through its HTTP API: the message list searched by recipient,
 * then the message's text.
 */
import { waitUntil } from '../../devstack/waits';
import { accountMail, type AccountMail } from '../../services/accounts/mail';

export function mailpitBase(): string {
  const base = process.env.MAILPIT_HTTP_BASE;
  if (!base) throw new Error('MAILPIT_HTTP_BASE is not set: Jest global setup starts Mailpit');
  return base;
}

/** The account mail, sent to the run's Mailpit, with links to `publicUrl`. */
export function testAccountMail(publicUrl = 'http://shop.test'): AccountMail {
  return accountMail({ smtpUrl: process.env.MAILPIT_SMTP_URL, from: 'Storefront <no-reply@shop.test>', publicUrl });
}

export interface ReceivedMail {
  id: string;
  subject: string;
  text: string;
}

interface Summary {
  ID: string;
  Subject: string;
}

/** Every mail to `address` so far, newest first (in the run's Mailpit, or the one at `base`). */
export async function mailTo(address: string, base = mailpitBase()): Promise<Summary[]> {
  const query = encodeURIComponent(`to:"${address}"`);
  const response = await fetch(`${base}/api/v1/search?query=${query}`);
  if (!response.ok) throw new Error(`Mailpit search answered ${response.status}`);
  return ((await response.json()) as { messages: Summary[] }).messages;
}

/** Waits (bounded) for the `count`th mail to `address` whose subject contains `subject`, and reads it. */
export async function waitForMail(
  address: string,
  subject: string,
  count = 1,
  base = mailpitBase(),
): Promise<ReceivedMail> {
  let found: Summary | undefined;
  await waitUntil(
    `mail "${subject}" number ${count} to ${address}`,
    async () => {
      const matching = (await mailTo(address, base)).filter((mail) => mail.Subject.includes(subject));
      found = matching.length >= count ? matching[0] : undefined;
      return found !== undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  const response = await fetch(`${base}/api/v1/message/${found!.ID}`);
  const message = (await response.json()) as { ID: string; Subject: string; Text: string };
  return { id: message.ID, subject: message.Subject, text: message.Text };
}

/** The token of the link in a mail (`…/#reset-password=<token>` or `…/#verify-email=<token>`). */
export function linkToken(mail: ReceivedMail, kind: 'reset-password' | 'verify-email'): string {
  const match = new RegExp(`#${kind}=([A-Za-z0-9_-]+)`).exec(mail.text);
  if (!match) throw new Error(`no ${kind} link in "${mail.text}"`);
  return match[1]!;
}
