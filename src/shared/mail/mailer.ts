import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { Db } from '../db/pool.js';
import { insertOutboxMessage } from './outbox-queries.js';

/** One plain-text message. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends the service's messages (email verification links). */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/**
 * Keeps a message in the `mail_outbox` table: the mailer of a deployment without SMTP. The log
 * line names the message but never carries its body: a verification mail's body holds the token,
 * which must not reach logs (operators read the body from the table).
 */
function outboxMailer(deps: { db: Db; logger: Logger }): Mailer {
  return {
    async send(message) {
      const outboxId = await insertOutboxMessage(deps.db, message);
      deps.logger.info({ mailTo: message.to, subject: message.subject, outboxId }, 'mail kept in mail_outbox');
    },
  };
}

/**
 * Sends through SMTP (`smtpUrl`, e.g. `smtps://user:pass@smtp.example.com`) from `from`. A message
 * SMTP refuses is kept in the outbox instead, so a signup never fails on a mail server outage.
 * nodemailer is loaded with the first message: most processes never send one.
 */
function smtpMailer(deps: { db: Db; logger: Logger; smtpUrl: string; from: string }): Mailer {
  let transport: Promise<Transporter> | null = null;
  const fallback = outboxMailer(deps);
  return {
    async send(message) {
      try {
        transport ??= import('nodemailer').then(({ default: nodemailer }) => nodemailer.createTransport(deps.smtpUrl));
        await (await transport).sendMail({ from: deps.from, to: message.to, subject: message.subject, text: message.text });
      } catch (error) {
        deps.logger.error({ err: error, mailTo: message.to }, 'SMTP refused a message; keeping it in the outbox');
        await fallback.send(message);
      }
    },
  };
}

/** The mailer the configuration asks for: SMTP when `SMTP_URL` is set, else the database outbox. */
export function createMailer(deps: { db: Db; logger: Logger; config: { SMTP_URL?: string; MAIL_FROM: string } }): Mailer {
  const { SMTP_URL, MAIL_FROM } = deps.config;
  return SMTP_URL ? smtpMailer({ ...deps, smtpUrl: SMTP_URL, from: MAIL_FROM }) : outboxMailer(deps);
}
