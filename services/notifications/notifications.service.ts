/** Notifications per user: persisted once per dedupe key with a per-user sequence, then announced to live streams. */
import { DomainError, isUniqueViolation } from '../../lib/errors';
import type { NotificationsDb } from './db';
import type { Prisma } from './generated/client';
import { isUuid } from '../../lib/ids';
import { cursorCodec, pageLimit, toPage, type Page, type PageRequest } from '../../lib/paging';

/** The PostgreSQL channel on which a committed notification is announced as `{userId, sequence}`. */
export const NOTIFICATIONS_CHANNEL = 'storefront_notifications';

export type NotificationKind = 'NOTIFICATION' | 'ORDER';

/** The columns a Notification is read from, in the order of the table. */
const NOTIFICATION_COLUMNS = 'id, user_id, sequence, kind, type, payload, dedupe_key, read_at, created_at';

/** The unique index on (user_id, dedupe_key) (prisma/notifications/migrations). */
const DEDUPE_KEY_CONSTRAINT = 'notifications_user_id_dedupe_key_key';

export interface Notification {
  id: string;
  userId: string;
  /** Increases by one per user with every new notification; the SSE event id. */
  sequence: number;
  kind: NotificationKind;
  type: string;
  payload: Record<string, unknown>;
  dedupeKey: string;
  readAt: Date | null;
  createdAt: Date;
}

/** What a NOTIFY on NOTIFICATIONS_CHANNEL carries: just enough to know whom to read for. */
export interface NotificationAnnouncement {
  userId: string;
  sequence: number;
}

export interface PersistNotificationInput {
  userId: string;
  kind?: NotificationKind;
  type: string;
  payload: Record<string, unknown>;
  dedupeKey: string;
}

export interface PersistNotificationResult {
  notification: Notification;
  /** False when the dedupe key was known: the existing notification is returned. */
  created: boolean;
}

export interface ListNotificationsOptions {
  /** Only notifications the user should read and has not (kind NOTIFICATION, unread). */
  unread?: boolean;
  /** Only notifications after this sequence, oldest first (how a stream resumes). */
  afterSequence?: number;
  /** At most this many (default 50, at most 500). */
  limit?: number;
}

export interface NotificationPageRequest extends PageRequest {
  /** Only notifications the user should read and has not (kind NOTIFICATION, unread). */
  unread?: boolean;
}

/** A user's notifications page newest first by sequence: unique per user, and never changed. */
const notificationCursor = cursorCodec(
  'n',
  (parts): parts is [number] => parts.length === 1 && Number.isSafeInteger(parts[0]) && (parts[0] as number) > 0,
);

export type NotificationErrorCode = 'NOT_FOUND';

/** The API maps NOT_FOUND to 404 (also for another user's notification). */
export class NotificationError extends DomainError {
  declare readonly code: NotificationErrorCode;

  constructor(code: NotificationErrorCode, message: string) {
    super(code, message);
    this.name = 'NotificationError';
  }
}

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

type NotificationRow = Prisma.NotificationGetPayload<object>;

export class NotificationsService {
  constructor(private readonly db: NotificationsDb) {}

  /**
   * Stores the notification unless its dedupe key is known, and announces it, in one statement
   * (PERSIST_NOTIFICATION): PostgreSQL delivers the NOTIFY at commit, so a listener never hears of
   * a row it cannot read yet. The announcement is also sent for a known key: a caller retried
   * because the first announcement failed thereby heals a stream that missed it (streams skip what
   * they have).
   */
  async persist(input: PersistNotificationInput): Promise<PersistNotificationResult> {
    const values = [
      input.userId,
      input.dedupeKey,
      input.kind ?? 'NOTIFICATION',
      input.type,
      JSON.stringify(input.payload),
      NOTIFICATIONS_CHANNEL,
    ];
    try {
      return await this.persistOnce(values);
    } catch (error) {
      // A concurrent persist of the same key committed after this statement's snapshot was taken:
      // the unique key refused the twin (rolled back whole, so no sequence was spent). Run again:
      // the new snapshot sees the committed row, which is returned as known.
      if (!isDedupeKeyViolation(error)) throw error;
      return this.persistOnce(values);
    }
  }

  private async persistOnce(values: unknown[]): Promise<PersistNotificationResult> {
    const { rows } = await this.db.sql.query<PersistedRow>(PERSIST_NOTIFICATION, values);
    const [row] = rows;
    if (!row) throw new Error(`persisting notification ${String(values[1])} of ${String(values[0])} returned no row`);
    return { notification: fromRow(row), created: row.created };
  }

  async list(userId: string, options: ListNotificationsOptions = {}): Promise<Notification[]> {
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
    const where: Prisma.NotificationWhereInput = { userId };
    if (options.unread) Object.assign(where, { kind: 'NOTIFICATION', readAt: null });
    // Resuming reads forward from a sequence; a plain list shows the newest first.
    const resuming = options.afterSequence !== undefined;
    if (resuming) where.sequence = { gt: options.afterSequence };
    const rows = await this.db.notification.findMany({
      where,
      orderBy: { sequence: resuming ? 'asc' : 'desc' },
      take: limit,
    });
    return rows.map(toNotification);
  }

  /** One page of the user's notifications, newest first (the list); `list` reads forward for streams. */
  async listPage(userId: string, request: NotificationPageRequest = {}): Promise<Page<Notification>> {
    const limit = pageLimit(request.limit);
    const where: Prisma.NotificationWhereInput = { userId };
    if (request.unread) Object.assign(where, { kind: 'NOTIFICATION', readAt: null });
    if (request.cursor !== undefined) where.sequence = { lt: notificationCursor.decode(request.cursor)[0] };
    const rows = await this.db.notification.findMany({ where, orderBy: { sequence: 'desc' }, take: limit + 1 });
    return toPage(rows, limit, notificationCursor, (row) => [row.sequence], toNotification);
  }

  /** Marks one of the user's notifications read (idempotent). Another user's id is not found. */
  async markRead(userId: string, id: string): Promise<Notification> {
    if (!isUuid(id)) throw notFound(id);
    await this.db.notification.updateMany({ where: { id, userId, readAt: null }, data: { readAt: new Date() } });
    const row = await this.db.notification.findFirst({ where: { id, userId } });
    if (!row) throw notFound(id);
    return toNotification(row);
  }

  async unreadCount(userId: string): Promise<number> {
    return this.db.notification.count({ where: { userId, kind: 'NOTIFICATION', readAt: null } });
  }

  /** The last sequence handed out to the user (0 before the first notification). */
  async lastSequence(userId: string): Promise<number> {
    const row = await this.db.userSequence.findUnique({ where: { userId } });
    return row?.lastSequence ?? 0;
  }
}

function notFound(id: string): NotificationError {
  return new NotificationError('NOT_FOUND', `notification ${id} not found`);
}

function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    userId: row.userId,
    sequence: row.sequence,
    kind: row.kind,
    type: row.type,
    payload: (row.payload ?? {}) as Record<string, unknown>,
    dedupeKey: row.dedupeKey,
    readAt: row.readAt,
    createdAt: row.createdAt,
  };
}

/**
 * $1 user, $2 dedupe key, $3 kind, $4 type, $5 payload (JSON), $6 channel. The per-user sequence
 * row serializes one user's notifications: ON CONFLICT DO UPDATE locks it and bumps its latest
 * committed value, so sequences are handed out without gaps or duplicates (a statement that fails
 * rolls its bump back). A known dedupe key bumps nothing and returns the stored row. The NOTIFY
 * payload is NotificationAnnouncement's JSON, as JSON.stringify writes it.
 */
const PERSIST_NOTIFICATION = `
  WITH known AS (
    SELECT ${NOTIFICATION_COLUMNS} FROM notifications WHERE user_id = $1 AND dedupe_key = $2
  ), next AS (
    INSERT INTO user_sequences AS counter (user_id, last_sequence)
    SELECT $1, 1 WHERE NOT EXISTS (SELECT FROM known)
    ON CONFLICT (user_id) DO UPDATE SET last_sequence = counter.last_sequence + 1
    RETURNING last_sequence
  ), inserted AS (
    INSERT INTO notifications (id, user_id, sequence, kind, type, payload, dedupe_key)
    SELECT gen_random_uuid(), $1, last_sequence, $3::notification_kind, $4, $5::jsonb, $2 FROM next
    RETURNING ${NOTIFICATION_COLUMNS}
  ), persisted AS (
    SELECT *, true AS created FROM inserted
    UNION ALL
    SELECT *, false AS created FROM known
  )
  SELECT persisted.*,
    pg_notify($6, format('{"userId":%s,"sequence":%s}', to_json(user_id), sequence)) AS announced
  FROM persisted`;

interface PersistedRow {
  id: string;
  user_id: string;
  sequence: number;
  kind: NotificationKind;
  type: string;
  payload: Record<string, unknown> | null;
  dedupe_key: string;
  read_at: Date | null;
  created_at: Date;
  created: boolean;
}

function fromRow(row: PersistedRow): Notification {
  return {
    id: row.id,
    userId: row.user_id,
    sequence: row.sequence,
    kind: row.kind,
    type: row.type,
    payload: row.payload ?? {},
    dedupeKey: row.dedupe_key,
    readAt: row.read_at,
    createdAt: row.created_at,
  };
}

function isDedupeKeyViolation(error: unknown): boolean {
  return isUniqueViolation(error) && (error as { constraint?: string }).constraint === DEDUPE_KEY_CONSTRAINT;
}
