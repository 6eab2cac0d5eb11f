/**
 * The account mail: a password-reset link and an address-verification link, sent over SMTP with
 * nodemailer (docs/decisions.md). Links lead to the dashboard at PUBLIC_URL, a setting, never the
 * request's Host header (which an attacker chooses: a reset link pointing at their site). The token
 * rides in the URL's fragment, which browsers never send to a server, so no access log holds it.
 */
import nodemailer from 'nodemailer';
import type { MailSettings } from '../../lib/config';

export interface AccountMail {
  passwordReset(to: string, token: string, expiresAt: Date): Promise<void>;
  emailVerification(to: string, token: string, expiresAt: Date): Promise<void>;
  close(): void;
}

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

export function resetLink(publicUrl: string, token: string): string {
  return `${publicUrl}/#reset-password=${token}`;
}

export function verificationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/#verify-email=${token}`;
}

/** The account mail over SMTP_URL (which must be set) from MAIL_FROM. */
export function accountMail(settings: MailSettings): AccountMail {
  if (!settings.smtpUrl) throw new Error('Account mail needs SMTP_URL');
  const transport = nodemailer.createTransport(settings.smtpUrl);
  const send = async (mail: OutgoingMail) => {
    await transport.sendMail({ from: settings.from, to: mail.to, subject: mail.subject, text: mail.text });
  };
  const until = (expiresAt: Date) => expiresAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  return {
    passwordReset: (to, token, expiresAt) =>
      send({
        to,
        subject: 'Reset your Storefront password',
        text:
          `Someone (we hope you) asked to reset the password of your Storefront account.\n\n` +
          `Choose a new password here (the link works once, until ${until(expiresAt)}):\n\n` +
          `${resetLink(settings.publicUrl, token)}\n\n` +
          `If it was not you, ignore this mail: your password stays as it is.\n`,
      }),
    emailVerification: (to, token, expiresAt) =>
      send({
        to,
        subject: 'Confirm your email address for Storefront',
        text:
          `Confirm that this address is yours to start ordering (the link works until ${until(expiresAt)}):\n\n` +
          `${verificationLink(settings.publicUrl, token)}\n\n` +
          `If you did not sign up, ignore this mail.\n`,
      }),
    close: () => transport.close(),
  };
}
