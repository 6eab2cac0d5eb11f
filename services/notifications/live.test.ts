import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabases, type TestDatabases } from '../../test/helpers/databases';
import { startTcpProxy } from '../../harness/tcp-proxy';
import { waitUntil } from '../../devstack/waits';
import { createNotificationsDb, type NotificationsDb } from './db';
import { NotificationHub, type NotificationSubscription } from './live';
import { NotificationsService, type Notification } from './notifications.service';

jest.setTimeout(30_000);

let databases: TestDatabases;
let url: string;
let db: NotificationsDb;
let notifications: NotificationsService;
let admin: Client;
const hubs: NotificationHub[] = [];
const hubErrors: unknown[] = [];

beforeAll(async () => {
  databases = await createTestDatabases(['notifications']);
  url = databases.urls.notifications;
  db = createNotificationsDb(url);
  notifications = new NotificationsService(db);
  admin = new Client({ connectionString: url });
  await admin.connect();
});

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  expect(hubErrors.splice(0)).toEqual([]);
});

afterAll(async () => {
  await admin?.end();
  await db?.$disconnect();
  await databases?.dispose();
});

function newHub(service: NotificationsService = notifications): { hub: NotificationHub; applicationName: string } {
  const applicationName = `hub-test-${randomUUID().slice(0, 8)}`;
  const hub = new NotificationHub({
    connectionString: url,
    notifications: service,
    applicationName,
    onError: (error) => hubErrors.push(error),
  });
  hubs.push(hub);
  return { hub, applicationName };
}

/** What one subscriber received, with a way to wait for a given notification. */
class Inbox {
  readonly received: Notification[] = [];
  private waiters: { dedupeKey: string; resolve: () => void }[] = [];

  readonly push = (notification: Notification): void => {
    this.received.push(notification);
    this.waiters = this.waiters.filter((w) => {
      if (w.dedupeKey !== notification.dedupeKey) return true;
      w.resolve();
      return false;
    });
  };

  /** Resolves once the notification with this key has arrived. */
  arrival(dedupeKey: string): Promise<void> {
    if (this.received.some((n) => n.dedupeKey === dedupeKey)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ dedupeKey, resolve }));
  }

  keys(): string[] {
    return this.received.map((n) => n.dedupeKey);
  }

  sequences(): number[] {
    return this.received.map((n) => n.sequence);
  }
}

const send = (userId: string, dedupeKey: string, service: NotificationsService = notifications) =>
  service.persist({ userId, type: 'test', payload: { dedupeKey }, dedupeKey });

/** Listening connections of a hub, as the server sees them. */
async function hubConnections(applicationName: string): Promise<{ state: string; query: string }[]> {
  const { rows } = await admin.query<{ state: string; query: string }>(
    'SELECT state, query FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
    [applicationName],
  );
  return rows;
}

/** A backend leaves pg_stat_activity shortly after its client disconnects: wait for that, bounded. */
async function connectionsGone(applicationName: string): Promise<number> {
  let count = 0;
  await waitUntil(
    `the ${applicationName} connections to leave`,
    async () => (count = (await hubConnections(applicationName)).length) === 0,
    { timeoutMs: 5_000, intervalMs: 25 },
  ).catch(() => undefined); // the caller asserts the count, which names what is left
  return count;
}

test('it holds a LISTEN connection only while it has subscribers', async () => {
  const { hub, applicationName } = newHub();
  expect(hub.isListening()).toBe(false);
  expect(await hubConnections(applicationName)).toHaveLength(0);

  const first = await hub.subscribe({ userId: 'watcher', onNotification: () => undefined });
  const second = await hub.subscribe({ userId: 'other', onNotification: () => undefined });
  expect(hub.isListening()).toBe(true);
  const connections = await hubConnections(applicationName);
  expect(connections).toHaveLength(1);
  expect(connections[0]?.query).toMatch(/LISTEN storefront_notifications/);

  await first.unsubscribe();
  expect(hub.isListening()).toBe(true);
  await second.unsubscribe();
  await second.unsubscribe();
  expect(hub.isListening()).toBe(false);
  expect(await connectionsGone(applicationName)).toBe(0);

  // And it starts again for the next subscriber.
  const third = await hub.subscribe({ userId: 'watcher', onNotification: () => undefined });
  expect(hub.isListening()).toBe(true);
  await third.unsubscribe();
  expect(hub.isListening()).toBe(false);
});

test('subscribes and unsubscribes that interleave with connecting and disconnecting end in the right state', async () => {
  const { hub, applicationName } = newHub();

  // A burst of short-lived subscribers: each unsubscribes as soon as it is in.
  await Promise.all(
    Array.from({ length: 10 }, async (_, i) => {
      const subscription = await hub.subscribe({ userId: `burst-${i}`, onNotification: () => undefined });
      await subscription.unsubscribe();
    }),
  );
  expect(hub.isListening()).toBe(false);
  expect(hub.subscriberTotal()).toBe(0);
  expect(await connectionsGone(applicationName)).toBe(0);

  // The last subscriber leaves while a new one arrives: the stop is followed by a fresh start.
  const leaving = await hub.subscribe({ userId: 'leaving', onNotification: () => undefined });
  const inbox = new Inbox();
  const [, arriving] = await Promise.all([
    leaving.unsubscribe(),
    hub.subscribe({ userId: 'arriving', onNotification: inbox.push }),
  ]);
  expect(hub.isListening()).toBe(true);
  await send('arriving', 'after-the-race');
  await inbox.arrival('after-the-race');
  expect(inbox.keys()).toEqual(['after-the-race']);
  await arriving.unsubscribe();
  expect(hub.isListening()).toBe(false);
});

test('a subscriber receives what another service instance persisted, and only its own user', async () => {
  const otherDb = createNotificationsDb(url);
  try {
    const otherInstance = new NotificationsService(otherDb);
    const { hub } = newHub();
    const mine = new Inbox();
    const theirs = new Inbox();
    await hub.subscribe({ userId: 'alice', onNotification: mine.push });
    await hub.subscribe({ userId: 'bob', onNotification: theirs.push });

    await send('alice', 'a-1', otherInstance);
    await send('bob', 'b-1', otherInstance);
    await send('alice', 'a-2', otherInstance);
    await mine.arrival('a-2');
    await theirs.arrival('b-1');
    expect(mine.keys()).toEqual(['a-1', 'a-2']);
    expect(theirs.keys()).toEqual(['b-1']);
  } finally {
    await otherDb.$disconnect();
  }
});

test('two hubs on one database both deliver, each to its own subscribers', async () => {
  const { hub: first } = newHub();
  const { hub: second } = newHub();
  const onFirst = new Inbox();
  const onSecond = new Inbox();
  await first.subscribe({ userId: 'carol', onNotification: onFirst.push });
  await second.subscribe({ userId: 'carol', onNotification: onSecond.push });

  await send('carol', 'c-1');
  await send('carol', 'c-2');
  await Promise.all([onFirst.arrival('c-2'), onSecond.arrival('c-2')]);
  expect(onFirst.keys()).toEqual(['c-1', 'c-2']);
  expect(onSecond.keys()).toEqual(['c-1', 'c-2']);
});

test('resuming after a sequence delivers exactly the missed ones, then the live ones', async () => {
  for (let i = 1; i <= 5; i++) await send('dave', `d-${i}`);
  const { hub } = newHub();
  const inbox = new Inbox();
  const subscription = await hub.subscribe({ userId: 'dave', afterSequence: 2, onNotification: inbox.push });
  await inbox.arrival('d-5');
  await send('dave', 'd-6');
  await inbox.arrival('d-6');
  expect(inbox.sequences()).toEqual([3, 4, 5, 6]);
  expect(subscription.lastSequence).toBe(6);
});

test('without a starting point a subscriber gets only what comes after it subscribed', async () => {
  await send('erin', 'old');
  const { hub } = newHub();
  const inbox = new Inbox();
  await hub.subscribe({ userId: 'erin', onNotification: inbox.push });
  await send('erin', 'new');
  await inbox.arrival('new');
  expect(inbox.keys()).toEqual(['new']);
});

test('rows whose announcement never came are delivered, in order, with the next one', async () => {
  const { hub } = newHub();
  const inbox = new Inbox();
  await hub.subscribe({ userId: 'frank', afterSequence: 0, onNotification: inbox.push });

  // Two rows committed without any NOTIFY (as if the announcing process had crashed)...
  await db.$transaction(async (tx) => {
    await tx.userSequence.create({ data: { userId: 'frank', lastSequence: 2 } });
    await tx.notification.createMany({
      data: [1, 2].map((sequence) => ({
        userId: 'frank',
        sequence,
        type: 'test',
        payload: {},
        dedupeKey: `silent-${sequence}`,
      })),
    });
  });
  // ...then an announced one, and a stale, out-of-order announcement of an old sequence.
  await send('frank', 'announced');
  await admin.query(`SELECT pg_notify('storefront_notifications', $1)`, [
    JSON.stringify({ userId: 'frank', sequence: 1 }),
  ]);
  await send('frank', 'last');
  await inbox.arrival('last');
  expect(inbox.keys()).toEqual(['silent-1', 'silent-2', 'announced', 'last']);
  expect(inbox.sequences()).toEqual([1, 2, 3, 4]);
});

test('many notifications sent at once reach every subscriber once each, in sequence order', async () => {
  const { hub } = newHub();
  const inboxes = [new Inbox(), new Inbox(), new Inbox()];
  for (const inbox of inboxes) await hub.subscribe({ userId: 'gina', onNotification: inbox.push });
  await Promise.all(Array.from({ length: 40 }, (_, i) => send('gina', `g-${i}`)));
  await send('gina', 'g-last');
  for (const inbox of inboxes) {
    await inbox.arrival('g-last');
    expect(inbox.sequences()).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
  }
});

test('an unsubscribed stream gets nothing more; close() stops listening and refuses new subscribers', async () => {
  const { hub, applicationName } = newHub();
  const gone = new Inbox();
  const staying = new Inbox();
  const subscription: NotificationSubscription = await hub.subscribe({ userId: 'hank', onNotification: gone.push });
  await hub.subscribe({ userId: 'hank', onNotification: staying.push });
  await subscription.unsubscribe();
  await send('hank', 'h-1');
  await staying.arrival('h-1');
  expect(gone.keys()).toEqual([]);

  await hub.close();
  expect(hub.isListening()).toBe(false);
  expect(await connectionsGone(applicationName)).toBe(0);
  await expect(hub.subscribe({ userId: 'hank', onNotification: () => undefined })).rejects.toThrow(/closed/);
});

test('a lost LISTEN connection is re-established and what was sent while it was down is delivered', async () => {
  // The hub listens through a proxy the test cuts: whatever is sent while it is cut cannot reach the
  // hub as an announcement, only through the read it makes once it has reconnected.
  const server = new URL(url);
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  let reported: () => void;
  const firstError = new Promise<void>((resolve) => (reported = resolve));
  try {
    const proxied = Object.assign(new URL(url), { host: proxy.address }).toString();
    const hub = new NotificationHub({
      connectionString: proxied,
      notifications,
      applicationName: `hub-test-${randomUUID().slice(0, 8)}`,
      retryDelayMs: 20,
      onError: () => reported(),
    });
    hubs.push(hub);
    const inbox = new Inbox();
    await hub.subscribe({ userId: 'ian', onNotification: inbox.push });
    await send('ian', 'before');
    await inbox.arrival('before');

    proxy.cut();
    await firstError; // the hub has seen the connection go (or a reconnect refused)
    expect(hub.isListening()).toBe(false);
    await send('ian', 'during');
    expect(inbox.keys()).toEqual(['before']);
    proxy.restore();
    await inbox.arrival('during');
    await send('ian', 'after');
    await inbox.arrival('after');
    expect(inbox.keys()).toEqual(['before', 'during', 'after']);
    expect(hub.isListening()).toBe(true);
  } finally {
    await proxy.close();
  }
});
