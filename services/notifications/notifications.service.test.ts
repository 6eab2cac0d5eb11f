import { Client } from 'pg';
import { useServiceDatabase } from '../../test/helpers/databases';
import { errorOf } from '../../test/helpers/rejections';
import { createNotificationsDb } from './db';
import {
  NOTIFICATIONS_CHANNEL,
  NotificationError,
  NotificationsService,
  type PersistNotificationInput,
} from './notifications.service';

let notifications: NotificationsService;
const database = useServiceDatabase('notifications', createNotificationsDb, (db) => {
  notifications = new NotificationsService(db);
});

const note = (
  userId: string,
  dedupeKey: string,
  extra: Partial<PersistNotificationInput> = {},
): PersistNotificationInput => ({
  userId,
  type: 'quota.warning',
  payload: { message: `about ${dedupeKey}` },
  dedupeKey,
  ...extra,
});

test('sequences increase by one per user, without gaps, under concurrency', async () => {
  const writes = [
    ...Array.from({ length: 30 }, (_, i) => notifications.persist(note('seq-a', `a-${i}`))),
    ...Array.from({ length: 20 }, (_, i) => notifications.persist(note('seq-b', `b-${i}`))),
  ];
  const results = await Promise.all(writes);
  const sequencesOf = (userId: string) =>
    results
      .filter((r) => r.notification.userId === userId)
      .map((r) => r.notification.sequence)
      .sort((x, y) => x - y);
  expect(sequencesOf('seq-a')).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  expect(sequencesOf('seq-b')).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  expect(await notifications.lastSequence('seq-a')).toBe(30);
  expect(await notifications.lastSequence('seq-b')).toBe(20);
  expect(await notifications.lastSequence('nobody')).toBe(0);
});

test('a dedupe key is stored once and does not bump the sequence, even sent concurrently', async () => {
  await notifications.persist(note('dedupe', 'first'));
  const results = await Promise.all(
    Array.from({ length: 8 }, () => notifications.persist(note('dedupe', 'quota:builds:2026-11:80'))),
  );
  expect(results.filter((r) => r.created)).toHaveLength(1);
  expect(new Set(results.map((r) => r.notification.id)).size).toBe(1);
  expect(results.every((r) => r.notification.sequence === 2)).toBe(true);
  expect(await notifications.lastSequence('dedupe')).toBe(2);

  // The same key for another user is another notification.
  const other = await notifications.persist(note('dedupe-other', 'quota:builds:2026-11:80'));
  expect(other).toMatchObject({ created: true, notification: { sequence: 1 } });

  const next = await notifications.persist(note('dedupe', 'third'));
  expect(next.notification.sequence).toBe(3);
});

test('persist stores every field and announces {userId, sequence} after commit', async () => {
  const listener = new Client({ connectionString: database.url });
  await listener.connect();
  try {
    const announced = new Promise<string>((resolve) => listener.on('notification', (m) => resolve(m.payload ?? '')));
    await listener.query(`LISTEN ${NOTIFICATIONS_CHANNEL}`);
    const { notification, created } = await notifications.persist({
      userId: 'announced',
      kind: 'ORDER',
      type: 'order.status',
      payload: { orderId: 'o-1', status: 'PAID' },
      dedupeKey: 'order:o-1:PAID',
    });
    expect(created).toBe(true);
    expect(notification).toMatchObject({
      userId: 'announced',
      sequence: 1,
      kind: 'ORDER',
      type: 'order.status',
      payload: { orderId: 'o-1', status: 'PAID' },
      dedupeKey: 'order:o-1:PAID',
      readAt: null,
    });
    expect(notification.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(notification.createdAt).toBeInstanceOf(Date);
    // The hubs of every API instance parse this text: its format is JSON.stringify's.
    expect(await announced).toBe('{"userId":"announced","sequence":1}');
  } finally {
    await listener.end();
  }
});

test('every persist announces once, after its row is readable, also for a known dedupe key', async () => {
  const listener = new Client({ connectionString: database.url });
  await listener.connect();
  try {
    const heard: string[] = [];
    // What was readable the moment each announcement arrived: the row it names must be.
    const readOnHearing: Promise<number[]>[] = [];
    // NOTIFYs reach a listener in commit order: the end mark, sent after every persist has
    // returned, arrives after all their announcements.
    const ended = new Promise<void>((resolve) =>
      listener.on('notification', (message) => {
        if (message.payload === 'end') return resolve();
        heard.push(message.payload ?? '');
        const { sequence } = JSON.parse(message.payload ?? '') as { sequence: number };
        readOnHearing.push(
          notifications
            .list('heard', { afterSequence: sequence - 1, limit: 1 })
            .then((rows) => rows.map((n) => n.sequence)),
        );
      }),
    );
    await listener.query(`LISTEN ${NOTIFICATIONS_CHANNEL}`);
    const persisted = await Promise.all(
      Array.from({ length: 6 }, (_, i) => notifications.persist(note('heard', `h-${i}`))),
    );
    await notifications.persist(note('heard', 'h-0')); // a retry heals a stream that missed the first
    await listener.query(`SELECT pg_notify($1, 'end')`, [NOTIFICATIONS_CHANNEL]);
    await ended;

    const announcements = heard.map((payload) => JSON.parse(payload) as { userId: string; sequence: number });
    const h0 = persisted[0]!.notification.sequence;
    const sorted = (numbers: number[]) => [...numbers].sort((x, y) => x - y);
    expect(sorted(announcements.map((a) => a.sequence))).toEqual(sorted([1, 2, 3, 4, 5, 6, h0]));
    expect(announcements.every((a) => a.userId === 'heard')).toBe(true);
    expect(await Promise.all(readOnHearing)).toEqual(announcements.map((a) => [a.sequence]));
  } finally {
    await listener.end();
  }
});

test('list: newest first, unread only, and forward from a sequence', async () => {
  const user = 'lister';
  for (let i = 1; i <= 4; i++) await notifications.persist(note(user, `n-${i}`));
  await notifications.persist({ ...note(user, 'order-1'), kind: 'ORDER', type: 'order.status' });
  await notifications.persist(note('someone-else', 'n-1'));

  expect((await notifications.list(user)).map((n) => n.sequence)).toEqual([5, 4, 3, 2, 1]);
  expect((await notifications.list(user, { limit: 2 })).map((n) => n.sequence)).toEqual([5, 4]);
  expect((await notifications.list(user, { afterSequence: 2 })).map((n) => n.sequence)).toEqual([3, 4, 5]);
  expect((await notifications.list(user, { afterSequence: 2, limit: 2 })).map((n) => n.sequence)).toEqual([3, 4]);
  // Order status changes are pushed, never listed as unread.
  expect((await notifications.list(user, { unread: true })).map((n) => n.dedupeKey)).toEqual([
    'n-4',
    'n-3',
    'n-2',
    'n-1',
  ]);
  expect(await notifications.unreadCount(user)).toBe(4);
});

test('markRead: only the owner can, it is idempotent, and unread counts follow', async () => {
  const { notification } = await notifications.persist(note('reader', 'to-read'));
  await notifications.persist(note('reader', 'stays-unread'));
  expect(await notifications.unreadCount('reader')).toBe(2);

  // Another user's notification is not found (the API answers 404, not 403).
  expect((await errorOf(NotificationError, notifications.markRead('intruder', notification.id))).code).toBe(
    'NOT_FOUND',
  );
  expect((await errorOf(NotificationError, notifications.markRead('reader', 'not-a-uuid'))).code).toBe('NOT_FOUND');
  expect(
    (await errorOf(NotificationError, notifications.markRead('reader', '00000000-0000-4000-8000-000000000000'))).code,
  ).toBe('NOT_FOUND');
  expect(await notifications.unreadCount('reader')).toBe(2);

  const read = await notifications.markRead('reader', notification.id);
  expect(read.readAt).toBeInstanceOf(Date);
  const again = await notifications.markRead('reader', notification.id);
  expect(again.readAt).toEqual(read.readAt);
  expect(await notifications.unreadCount('reader')).toBe(1);
  expect((await notifications.list('reader', { unread: true })).map((n) => n.dedupeKey)).toEqual(['stays-unread']);
});
