/**
 * Notifications through the API on real HTTP: list and mark read (another user's is 404), and
 * the SSE stream on two instances over one database: event kinds and ids, keep-alive comments,
 * delivery through either instance, resume after Last-Event-ID without gaps or duplicates,
 * LISTEN held only while a stream is open, a stream that ends with its session (signed out on
 * either instance, or expired), and a clean close with streams open.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { NotificationHub } from '../../services/notifications/live';
import { buildAppBeside } from '../../test/helpers/api';
import { DEFAULT_MAX_STREAMS_PER_USER, SESSION_ENDED_COMMENT } from './notifications.routes';
import { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '../plugins/auth';
import { startLiveApis, type LiveApis, type LiveInstance } from '../../test/helpers/live-api';
import { SseClient } from '../../harness/sse';
import { waitUntil } from '../../devstack/waits';

jest.setTimeout(90_000);

let live: LiveApis;
let one: LiveInstance;
let two: LiveInstance;
const clients: SseClient[] = [];

beforeAll(async () => {
  live = await startLiveApis({ instances: 2, app: { sseKeepAliveMs: 200 } });
  [one, two] = live.instances as [LiveInstance, LiveInstance];
});
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => live?.close());

const user = () => `u-${randomUUID().slice(0, 8)}`;

/** A notification committed as the worker's activity commits it (NOTIFY after commit). */
function persist(userId: string, type = 'test.note', kind: 'NOTIFICATION' | 'ORDER' = 'NOTIFICATION') {
  return live.workerServices.notifications.persist({
    userId,
    kind,
    type,
    payload: { note: type },
    dedupeKey: randomUUID(),
  });
}

async function stream(
  instance: LiveInstance,
  userId: string,
  options: { lastEventId?: string; query?: string } = {},
): Promise<SseClient> {
  const query = `access_token=${live.token(userId)}${options.query ? `&${options.query}` : ''}`;
  const client = await SseClient.connect(`${instance.url}/v1/notifications/stream?${query}`, {
    headers: options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId },
  });
  clients.push(client);
  if (client.status === 200)
    await client.until((c) => c.comments.some((comment) => comment.startsWith('connected')), 'the stream to open');
  return client;
}

/** How long the tests wait for the server side to notice a closed client (it does so asynchronously). */
const NOTICED = { timeoutMs: 10_000, intervalMs: 25 };

const ids = (client: SseClient) => client.events.map((event) => Number(event.id));

interface SignedIn {
  userId: string;
  sessionId: string;
  token: string;
  /** What a browser sends back: the session and CSRF cookies. */
  cookie: string;
  csrf: string;
}

/** A new account, signed up over HTTP as the dashboard does. */
async function signUp(instance: LiveInstance): Promise<SignedIn> {
  const response = await fetch(`${instance.url}/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `${user()}@example.com`, password: 'a fine long password' }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { user: { id: string }; token: string };
  const cookies = Object.fromEntries(
    response.headers.getSetCookie().map((header) => header.split(';')[0]!.split('=') as [string, string]),
  );
  return {
    userId: body.user.id,
    sessionId: (instance.app.jwt.decode(body.token) as { sid: string }).sid,
    token: body.token,
    cookie: `${SESSION_COOKIE}=${cookies[SESSION_COOKIE]}; ${CSRF_COOKIE}=${cookies[CSRF_COOKIE]}`,
    csrf: cookies[CSRF_COOKIE]!,
  };
}

/** The session's stream, authenticated as a browser's EventSource is (the cookie) or by its bearer token. */
async function sessionStream(instance: LiveInstance, session: SignedIn, by: 'cookie' | 'token'): Promise<SseClient> {
  const client = await SseClient.connect(
    `${instance.url}/v1/notifications/stream${by === 'token' ? `?access_token=${session.token}` : ''}`,
    { headers: by === 'cookie' ? { cookie: session.cookie } : {} },
  );
  clients.push(client);
  if (client.status === 200)
    await client.until((c) => c.comments.some((comment) => comment.startsWith('connected')), 'the stream to open');
  return client;
}

async function signOut(instance: LiveInstance, session: SignedIn, by: 'cookie' | 'token'): Promise<void> {
  const response = await fetch(`${instance.url}/v1/auth/signout`, {
    method: 'POST',
    headers:
      by === 'cookie'
        ? { cookie: session.cookie, [CSRF_HEADER]: session.csrf }
        : { authorization: `Bearer ${session.token}` },
  });
  expect(response.status).toBe(204);
}

describe('GET /v1/notifications and POST /v1/notifications/:id/read', () => {
  it('lists newest first with the unread count, filters unread, marks read; another user gets 404', async () => {
    const alice = user();
    const bob = user();
    const first = await persist(alice, 'quota.warning');
    await persist(alice, 'order.status', 'ORDER');
    const third = await persist(alice, 'quota.exceeded');

    const all = await live.call(one, alice, 'GET', '/v1/notifications');
    expect(all.status).toBe(200);
    expect(all.body.items.map((n: { type: string }) => n.type)).toEqual([
      'quota.exceeded',
      'order.status',
      'quota.warning',
    ]);
    expect(all.body).toMatchObject({ unreadCount: 2, lastSequence: 3 });
    expect(all.body.items[0]).toEqual({
      id: third.notification.id,
      sequence: 3,
      kind: 'NOTIFICATION',
      type: 'quota.exceeded',
      payload: { note: 'quota.exceeded' },
      read: false,
      readAt: null,
      createdAt: third.notification.createdAt.toISOString(),
    });
    const unread = await live.call(two, alice, 'GET', '/v1/notifications?unread=true');
    expect(unread.body.items.map((n: { sequence: number }) => n.sequence)).toEqual([3, 1]);

    const read = await live.call(one, alice, 'POST', `/v1/notifications/${first.notification.id}/read`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: first.notification.id, read: true });
    expect((await live.call(one, alice, 'POST', `/v1/notifications/${first.notification.id}/read`)).body.readAt).toBe(
      read.body.readAt,
    );
    expect((await live.call(one, alice, 'GET', '/v1/notifications?unread=true')).body).toMatchObject({
      unreadCount: 1,
      items: [{ sequence: 3 }],
    });

    const stolen = await live.call(one, bob, 'POST', `/v1/notifications/${third.notification.id}/read`);
    expect([stolen.status, stolen.body.error.code]).toEqual([404, 'NOTIFICATION_NOT_FOUND']);
    expect((await live.call(one, bob, 'GET', '/v1/notifications')).body).toEqual({
      items: [],
      nextCursor: null,
      unreadCount: 0,
      lastSequence: 0,
    });
    expect((await live.call(one, alice, 'POST', `/v1/notifications/${randomUUID()}/read`)).status).toBe(404);
    expect((await live.call(one, alice, 'POST', '/v1/notifications/not-a-uuid/read')).status).toBe(400);
    expect((await fetch(`${one.url}/v1/notifications`)).status).toBe(401);
    expect((await live.call(one, alice, 'GET', '/v1/notifications?unread=true')).body.unreadCount).toBe(1);
  });
});

describe('GET /v1/notifications/stream', () => {
  it('sends `notification` and `order` events with the sequence as id, and keep-alive comments', async () => {
    const alice = user();
    const client = await stream(one, alice);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(client.headers['cache-control']).toBe('no-cache');
    expect(client.retry).toBe(2_000);

    await persist(user(), 'someone.else');
    await persist(alice, 'quota.warning');
    await persist(alice, 'order.status', 'ORDER');
    await client.untilEvents(2);
    expect(client.events.map((e) => [e.id, e.event])).toEqual([
      ['1', 'notification'],
      ['2', 'order'],
    ]);
    expect(client.json()).toEqual([
      expect.objectContaining({ sequence: 1, kind: 'NOTIFICATION', type: 'quota.warning', read: false }),
      expect.objectContaining({ sequence: 2, kind: 'ORDER', type: 'order.status' }),
    ]);
    await client.until((c) => c.comments.includes('heartbeat'), 'a keep-alive comment');
    expect(client.events).toHaveLength(2);
  });

  it('refuses a missing or bad token with 401 and a malformed Last-Event-ID with 400, as JSON', async () => {
    const anonymous = await SseClient.connect(`${one.url}/v1/notifications/stream`);
    clients.push(anonymous);
    await anonymous.until((c) => c.ended, 'the error body');
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.text).error.code).toBe('UNAUTHORIZED');
    const forged = await SseClient.connect(`${one.url}/v1/notifications/stream?access_token=not.a.token`);
    clients.push(forged);
    expect(forged.status).toBe(401);
    const bad = await stream(one, user(), { lastEventId: 'abc' });
    expect(bad.status).toBe(400);
  });

  it('answers 503 STREAM_UNAVAILABLE when the instance cannot listen, or has no hub', async () => {
    const unreachable = new NotificationHub({
      connectionString: 'postgresql://postgres@127.0.0.1:1/nowhere',
      notifications: one.services.notifications,
    });
    for (const notificationHub of [unreachable, undefined]) {
      const app = await buildAppBeside({ services: one.services, temporal: live.temporal }, { notificationHub });
      try {
        const response = await app.inject({
          method: 'GET',
          url: `/v1/notifications/stream?access_token=${live.token('ivy')}`,
        });
        expect([response.statusCode, response.json().error.code]).toEqual([503, 'STREAM_UNAVAILABLE']);
      } finally {
        await app.close();
      }
    }
    expect(unreachable.isListening()).toBe(false);
    await unreachable.close();
  });

  it('delivers a notification created through either of two instances to the clients of both', async () => {
    const carol = user();
    const onOne = await stream(one, carol);
    const onTwo = await stream(two, carol);

    // Usage through instance one crosses 80 %: the quota activity path signals the
    // notification workflow, whose activity persists and NOTIFYs; both instances hear it.
    const sentAt = Date.now();
    expect(
      (await live.call(one, carol, 'POST', '/v1/usage', { resource: 'builds', quantity: 80, idempotencyKey: 'b1' }))
        .status,
    ).toBe(200);
    await Promise.all([onOne.untilEvents(1), onTwo.untilEvents(1)]);
    const latencies = [onOne.events[0]!.receivedAt - sentAt, onTwo.events[0]!.receivedAt - sentAt];

    expect(
      (await live.call(two, carol, 'POST', '/v1/usage', { resource: 'builds', quantity: 25, idempotencyKey: 'b2' }))
        .status,
    ).toBe(200);
    await Promise.all([onOne.untilEvents(2), onTwo.untilEvents(2)]);

    for (const client of [onOne, onTwo]) {
      expect(client.events.map((e) => [e.id, e.event])).toEqual([
        ['1', 'notification'],
        ['2', 'notification'],
      ]);
      expect(client.json().map((n) => n.type)).toEqual(['quota.warning', 'quota.exceeded']);
    }
    console.log(`SSE delivery, POST /v1/usage sent to event received (both instances): ${latencies.join(' ms, ')} ms`);
  });

  it('resumes after Last-Event-ID with exactly what was missed, on either instance', async () => {
    const dave = user();
    const first = await stream(one, dave);
    await persist(dave);
    await persist(dave);
    await first.untilEvents(2);
    first.close();

    // Missed while disconnected.
    for (let i = 0; i < 3; i++) await persist(dave);

    const resumed = await stream(two, dave, { lastEventId: first.events[1]!.id });
    await resumed.untilEvents(3);
    await persist(dave);
    await resumed.untilEvents(4);
    expect(ids(resumed)).toEqual([3, 4, 5, 6]);

    // The query parameter works too (an EventSource's first connection); the header wins over it.
    const byQuery = await stream(one, dave, { query: 'lastEventId=4' });
    await byQuery.untilEvents(2);
    expect(ids(byQuery)).toEqual([5, 6]);
    const headerWins = await stream(one, dave, { query: 'lastEventId=1', lastEventId: '5' });
    await headerWins.untilEvents(1);

    // An id beyond the user's latest (a database reset since) resumes from the latest.
    const ahead = await stream(two, dave, { lastEventId: '999' });
    await persist(dave);
    await Promise.all([
      ahead.untilEvents(1),
      resumed.untilEvents(5),
      headerWins.untilEvents(2),
      byQuery.untilEvents(3),
    ]);
    expect(ids(ahead)).toEqual([7]);
    expect(ids(headerWins)).toEqual([6, 7]);
    expect(ids(resumed)).toEqual([3, 4, 5, 6, 7]);
    expect(ids(byQuery)).toEqual([5, 6, 7]);

    // Without any id, only what comes next.
    const fresh = await stream(one, dave);
    await persist(dave);
    await fresh.untilEvents(1);
    expect(ids(fresh)).toEqual([8]);
  });

  it('refuses a user a stream beyond the cap with 429 TOO_MANY_STREAMS, until one of theirs closes', async () => {
    const greedy = user();
    const open = [];
    for (let i = 0; i < DEFAULT_MAX_STREAMS_PER_USER; i++) open.push(await stream(one, greedy));
    expect(open.map((c) => c.status)).toEqual(Array(DEFAULT_MAX_STREAMS_PER_USER).fill(200));

    const refused = await stream(one, greedy);
    expect(refused.status).toBe(429);
    await refused.until((c) => c.ended, 'the refusal to be read');
    expect(JSON.parse(refused.text).error.code).toBe('TOO_MANY_STREAMS');
    // The cap is per user: someone else still gets a stream.
    expect((await stream(one, user())).status).toBe(200);

    // Closing one frees its place once the server has seen it close.
    open[0]!.close();
    let reopened: SseClient | undefined;
    await waitUntil(
      'a closed stream to free its place',
      async () => {
        const attempt = await stream(one, greedy);
        if (attempt.status === 200) reopened = attempt;
        return attempt.status === 200;
      },
      NOTICED,
    );
    expect(reopened!.status).toBe(200);
  });

  it('holds a LISTEN connection only while the instance has at least one stream open', async () => {
    const connections = () => live.listeningConnections(two.applicationName);
    await waitUntil(
      'instance two to have no stream and no LISTEN connection',
      async () => !two.hub.isListening() && (await connections()) === 0,
      NOTICED,
    );

    const erin = user();
    const a = await stream(two, erin);
    const b = await stream(two, user());
    expect(two.hub.isListening()).toBe(true);
    expect(await connections()).toBe(1);

    a.close();
    await waitUntil(
      'the server to notice the first client leave',
      async () => two.hub.subscriberTotal() === 1,
      NOTICED,
    );
    expect(two.hub.isListening()).toBe(true);
    expect(await connections()).toBe(1);

    b.close();
    await waitUntil(
      'the LISTEN connection to close after the last client',
      async () => !two.hub.isListening() && (await connections()) === 0,
      NOTICED,
    );

    // And it comes back for the next client, which still gets what is new.
    const c = await stream(two, erin);
    expect(await connections()).toBe(1);
    await persist(erin);
    await c.untilEvents(1);
  });

  it('ends a cookie stream when its session signs out, before the sign-out answers: nothing reaches it after', async () => {
    const session = await signUp(one);
    const client = await sessionStream(one, session, 'cookie');
    expect(client.status).toBe(200);
    await persist(session.userId, 'before.signout');
    await client.untilEvents(1);

    await signOut(one, session, 'cookie');
    await persist(session.userId, 'quota.warning');
    await client.until((c) => c.ended, 'the stream to end');
    expect(client.json().map((n) => n.type)).toEqual(['before.signout']);
    expect(client.comments).toContain(SESSION_ENDED_COMMENT);
    // The EventSource's reconnect is refused.
    const again = await sessionStream(one, session, 'cookie');
    expect(again.status).toBe(401);
    await waitUntil('the hub to drop the ended stream', async () => one.hub.subscriberTotal() === 0, NOTICED);
  });

  it('ends a bearer-token stream on another instance when its session signs out through the first', async () => {
    const session = await signUp(one);
    const onTwo = await sessionStream(two, session, 'token');
    const otherSession = await signUp(two);
    const bystander = await sessionStream(two, otherSession, 'cookie');
    await persist(session.userId, 'before.signout');
    await onTwo.untilEvents(1);

    await signOut(one, session, 'token');
    await onTwo.until((c) => c.ended, "the other instance's stream to end");
    await persist(session.userId, 'after.signout');
    await persist(otherSession.userId, 'still.signed.in');
    await bystander.untilEvents(1);
    expect(onTwo.json().map((n) => n.type)).toEqual(['before.signout']);
    expect(bystander.ended).toBe(false);
  });

  it('ends a stream at the next keep-alive once its session has expired', async () => {
    const session = await signUp(one);
    const client = await sessionStream(one, session, 'cookie');
    expect(client.status).toBe(200);
    // Expiry changes no row and announces nothing: the keep-alive's re-check finds it.
    const accounts = new PgClient({ connectionString: live.dbs.urls.accounts });
    await accounts.connect();
    try {
      await accounts.query(`UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [
        session.sessionId,
      ]);
    } finally {
      await accounts.end();
    }
    await client.until((c) => c.ended, 'the stream to end');
    expect(client.comments).toContain(SESSION_ENDED_COMMENT);
    await persist(session.userId);
    expect(client.events).toEqual([]);
  });

  it('ends open streams on app.close() and stops listening', async () => {
    const frank = user();
    const a = await stream(two, frank);
    const b = await stream(two, user());
    expect(two.hub.isListening()).toBe(true);
    await two.app.close();
    await Promise.all([a.until((c) => c.ended, 'the stream to end'), b.until((c) => c.ended, 'the stream to end')]);
    expect(two.hub.subscriberTotal()).toBe(0);
    expect(two.hub.isListening()).toBe(false);
    expect(await live.listeningConnections(two.applicationName)).toBe(0);
  });
});
