/** Notifications per user: persisted once per dedupe key with a per-user sequence, then announced to live streams. */
import { DomainError } from '../../lib/errors';
import type { NotificationsDb } from './db';
import type { Prisma } from './generated/client';
import { isUuid } from '../../lib/ids';
import { cursorCodec, pageLimit, toPage, type Page, type PageRequest } from '../../lib/paging';

/** The PostgreSQL channel on which a committed notification is announced as `{userId, sequence}`. */
export const NOTIFICATIONS_CHANNEL = 'storefront_notifications';

export type NotificationKind = 'NOTIFICATION' | 'ORDER';

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
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 15_000 };

type NotificationRow = Prisma.NotificationGetPayload<object>;

export class NotificationsService {
  constructor(private readonly db: NotificationsDb) {}

  /**
   * Stores the notification unless its dedupe key is known, then announces it after commit.
   * The announcement is also sent for a known key: a caller retried because the first
   * announcement failed thereby heals a stream that missed it (streams skip what they have).
   */
  async persist(input: PersistNotificationInput): Promise<PersistNotificationResult> {
    const { userId, dedupeKey } = input;
    const result = await this.db.$transaction(async (tx) => {
      // The per-user sequence row, locked for the rest of the transaction, serializes the
      // notifications of one user: the dedupe check below cannot race, and sequences are
      // handed out without gaps (a rolled back insert never bumped it).
      await tx.$executeRaw`
        INSERT INTO user_sequences (user_id, last_sequence) VALUES (${userId}, 0)
        ON CONFLICT (user_id) DO NOTHING`;
      const [locked] = await tx.$queryRaw<{ last_sequence: number }[]>`
        SELECT last_sequence FROM user_sequences WHERE user_id = ${userId} FOR UPDATE`;

      const existing = await tx.notification.findUnique({ where: { userId_dedupeKey: { userId, dedupeKey } } });
      if (existing) return { notification: toNotification(existing), created: false };

      const sequence = (locked?.last_sequence ?? 0) + 1;
      await tx.userSequence.update({ where: { userId }, data: { lastSequence: sequence } });
      const row = await tx.notification.create({
        data: {
          userId,
          sequence,
          kind: input.kind ?? 'NOTIFICATION',
          type: input.type,
          payload: input.payload as Prisma.InputJsonObject,
          dedupeKey,
        },
      });
      return { notification: toNotification(row), created: true };
    }, TRANSACTION_OPTIONS);

    await this.announce({ userId, sequence: result.notification.sequence });
    return result;
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

  private async announce(announcement: NotificationAnnouncement): Promise<void> {
    await this.db.$executeRaw`SELECT pg_notify(${NOTIFICATIONS_CHANNEL}, ${JSON.stringify(announcement)})`;
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
