import type { Db } from '../db/pool.js';
import type { MailMessage } from './mailer.js';

/** Keeps a message in `mail_outbox`; returns its row's id. */
export async function insertOutboxMessage(db: Db, message: MailMessage): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO mail_outbox (to_address, subject, body) VALUES ($1, $2, $3) RETURNING id',
    [message.to, message.subject, message.text],
  );
  return rows[0]?.id;
}
