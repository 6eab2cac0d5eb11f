/**
 * Notifications: the list, marking one read, and the live stream (Server-Sent Events) fed by
 * the process's NotificationHub. Each user sees only their own (another's id is 404).
 *
 * The stream uses @fastify/sse (framing, headers, keep-alive comments, backpressure) with
 * `sse: 'manual'`: it is an SSE-only route, and 'manual' skips the plugin's Accept
 * negotiation, whose 406 body would not be the API's error shape. Everything before the first
 * byte (auth, validation, the hub's LISTEN) still fails through the API's error handler.
 */
import fastifySse from '@fastify/sse';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import type { SessionWatch, SessionWatcher } from '../../services/accounts/session-watch';
import type { NotificationHub, NotificationSubscription } from '../../services/notifications/live';
import type { Notification, NotificationsService } from '../../services/notifications/notifications.service';
import { customerOrderPayload } from '../customer-messages';
import { NextCursor, PageQueryFields } from '../paging';
import { errors, IdParams, Text, Timestamp, Uuid } from '../schemas';

export interface NotificationRoutesOptions {
  notifications: NotificationsService;
  /** The process's live hub; without it the stream answers 503. */
  hub?: NotificationHub;
  /**
   * Ends a stream when its session ends (signed out, revoked, expired). Without it a stream
   * lives until the client or the server closes it.
   */
  sessions?: SessionWatch;
  /** Interval of the keep-alive comments on open streams (default 15 s). */
  keepAliveMs?: number;
  /** What a disconnected EventSource waits before it reconnects (the stream's `retry:`; default 2 s). */
  reconnectMs?: number;
  /** Open streams one user may hold on this instance; one more is refused with 429 TOO_MANY_STREAMS (default 5). */
  maxStreamsPerUser?: number;
}

export const DEFAULT_SSE_KEEP_ALIVE_MS = 15_000;
/**
 * A dashboard needs one stream per tab: five covers a user's tabs and devices, while every stream
 * costs a database read per announcement, so one user cannot make an instance do unbounded work.
 */
export const DEFAULT_MAX_STREAMS_PER_USER = 5;

const NotificationView = Type.Object({
  id: Uuid,
  sequence: Type.Integer({
    minimum: 1,
    description: "Increases by one with each of the user's notifications; the stream's event id",
  }),
  kind: Type.Union([Type.Literal('NOTIFICATION'), Type.Literal('ORDER')], {
    description: 'ORDER: an order status change (never unread)',
  }),
  type: Type.String({ description: 'e.g. quota.warning, quota.exceeded, payment.declined, order.status' }),
  payload: Type.Record(Type.String(), Type.Unknown()),
  read: Type.Boolean(),
  readAt: Type.Union([Timestamp, Type.Null()]),
  createdAt: Timestamp,
});
const NotificationList = Type.Object({
  items: Type.Array(NotificationView),
  nextCursor: NextCursor,
  unreadCount: Type.Integer({ minimum: 0 }),
  /** The user's latest sequence when the list was read: open the stream with `?lastEventId=` this to miss nothing in between. */
  lastSequence: Type.Integer({ minimum: 0 }),
});
const ListQuery = Type.Object(
  {
    unread: Type.Optional(Type.Boolean({ description: 'Only unread notifications (kind NOTIFICATION)' })),
    ...PageQueryFields,
  },
  { additionalProperties: false },
);
const SequenceText = Type.String({ pattern: '^\\d{1,15}$' });
const StreamQuery = Type.Object({
  access_token: Type.Optional(Text({ description: 'The bearer token, for EventSource (which cannot send headers)' })),
  lastEventId: Type.Optional(
    Type.String({
      pattern: '^\\d{1,15}$',
      description: 'Resume after this sequence; the Last-Event-ID header wins when both are sent',
    }),
  ),
});
const StreamHeaders = Type.Object({ 'last-event-id': Type.Optional(SequenceText) });

export function toNotificationView(notification: Notification) {
  return {
    id: notification.id,
    sequence: notification.sequence,
    kind: notification.kind,
    type: notification.type,
    // Status events carry the saga's failure as the workflow saw it; the customer sees the customer-safe form.
    payload:
      notification.kind === 'ORDER'
        ? customerOrderPayload(notification.payload as Record<string, unknown>)
        : notification.payload,
    read: notification.readAt !== null,
    readAt: notification.readAt?.toISOString() ?? null,
    createdAt: notification.createdAt.toISOString(),
  };
}

interface OpenStream {
  reply: FastifyReply;
  subscription: NotificationSubscription;
}

/** The comment a stream ends with when its session ended: the client's reconnect will get 401. */
export const SESSION_ENDED_COMMENT = 'session ended';

export const notificationRoutes: FastifyPluginAsyncTypebox<NotificationRoutesOptions> = async (app, options) => {
  const { notifications, hub, sessions } = options;
  const reconnectMs = options.reconnectMs ?? 2_000;
  const maxStreamsPerUser = options.maxStreamsPerUser ?? DEFAULT_MAX_STREAMS_PER_USER;
  /** Streams open or opening, per user: counted before the subscription so that a burst of requests cannot pass the cap together. */
  const streamsByUser = new Map<string, number>();
  const releaseStreamSlot = (userId: string) => {
    const left = (streamsByUser.get(userId) ?? 1) - 1;
    if (left > 0) streamsByUser.set(userId, left);
    else streamsByUser.delete(userId);
  };
  await app.register(fastifySse, { heartbeatInterval: options.keepAliveMs ?? DEFAULT_SSE_KEEP_ALIVE_MS });

  app.get(
    '/v1/notifications',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'listNotifications',
        summary: "List the user's notifications",
        tags: ['notifications'],
        description:
          'A page of notifications, newest first; `nextCursor` leads to the next page. ' +
          '`unread=true`: only unread notifications (order status events are never unread).',
        querystring: ListQuery,
        response: { 200: NotificationList, ...errors(400, 401) },
      },
    },
    async (request) => {
      const userId = request.user.sub;
      // The sequence first: anything committed after it is in the list, in the stream, or both
      // (the dashboard drops what it has), never in neither.
      const lastSequence = await notifications.lastSequence(userId);
      const { unread, limit, cursor } = request.query;
      const [page, unreadCount] = await Promise.all([
        notifications.listPage(userId, { unread, limit, cursor }),
        notifications.unreadCount(userId),
      ]);
      return { items: page.items.map(toNotificationView), nextCursor: page.nextCursor, unreadCount, lastSequence };
    },
  );

  app.post(
    '/v1/notifications/:id/read',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'markNotificationRead',
        summary: 'Mark a notification read',
        tags: ['notifications'],
        description: 'Marks one notification read (idempotent).',
        params: IdParams,
        response: { 200: NotificationView, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      try {
        return toNotificationView(await notifications.markRead(request.user.sub, request.params.id));
      } catch (error) {
        if (error instanceof DomainError && error.code === 'NOT_FOUND') {
          throw new DomainError('NOTIFICATION_NOT_FOUND', `No notification ${request.params.id}`);
        }
        throw error;
      }
    },
  );

  // Open streams of this instance, ended before the server closes (an open stream would hold
  // server.close() forever; Fastify only closes idle connections).
  const streams = new Set<OpenStream>();
  app.addHook('preClose', async () => {
    const closing = [...streams];
    streams.clear();
    for (const stream of closing) stream.reply.sse.close();
    await Promise.all(closing.map((stream) => stream.subscription.unsubscribe()));
  });

  app.get(
    '/v1/notifications/stream',
    {
      preHandler: app.authenticate,
      config: { allowQueryToken: true },
      sse: 'manual',
      schema: {
        operationId: 'streamNotifications',
        summary: 'Live notifications (Server-Sent Events)',
        tags: ['notifications'],
        description:
          'Server-Sent Events: `event: notification` or `event: order` (status changes), `id:` the sequence, `data:` the notification. ' +
          'Resumes after `Last-Event-ID` (or `?lastEventId=`) without gaps or duplicates; without either, only new ones. ' +
          'Keep-alive comments every 15 s. Accepts `?access_token=`. ' +
          `At most ${maxStreamsPerUser} open streams per user and instance; one more is refused with 429 TOO_MANY_STREAMS.`,
        querystring: StreamQuery,
        headers: StreamHeaders,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errors(400, 401, 429, 503) },
      },
    },
    async (request, reply) => {
      if (!hub) throw new DomainError('STREAM_UNAVAILABLE', 'Live notifications are not enabled on this instance');
      const userId = request.user.sub;
      const open = streamsByUser.get(userId) ?? 0;
      if (open >= maxStreamsPerUser) {
        throw new DomainError(
          'TOO_MANY_STREAMS',
          `At most ${maxStreamsPerUser} notification streams may be open at once; close one first`,
        );
      }
      streamsByUser.set(userId, open + 1);
      let slotHeld = true;
      const releaseSlot = () => {
        if (!slotHeld) return;
        slotHeld = false;
        releaseStreamSlot(userId);
      };
      const live = hub;
      // Until the stream is open, a session that ends refuses it; once open, it closes it.
      let sessionEnded = false;
      let endStream = () => {
        sessionEnded = true;
      };
      let watcher: SessionWatcher | undefined;
      const stopWatching = () =>
        watcher
          ?.stop()
          .catch((error: unknown) => request.log.warn({ err: error }, 'notification stream: stop watching failed'));
      const openStream = async (): Promise<void> => {
        const sid = request.user.sid;
        // Watched before anything is delivered: a sign-out from here on, on any instance, is heard.
        if (sessions && sid) watcher = await sessions.watch(sid, () => endStream());
        const resumeText = request.headers['last-event-id'] ?? request.query.lastEventId;
        let afterSequence = resumeText === undefined ? undefined : Number(resumeText);
        if (afterSequence !== undefined) {
          // An id from a database that was reset since (or another environment) would leave the
          // stream silent until the sequence caught up: resume from the latest instead.
          afterSequence = Math.min(afterSequence, await notifications.lastSequence(userId));
        }

        // Events wait until the preamble is written, so `retry:` comes first.
        let preambleWritten!: () => void;
        const preamble = new Promise<void>((resolve) => (preambleWritten = resolve));
        const onNotification = async (notification: Notification) => {
          await preamble;
          if (!reply.sse.isConnected || sessionEnded) return;
          await reply.sse.send({
            id: String(notification.sequence),
            event: notification.kind === 'ORDER' ? 'order' : 'notification',
            data: toNotificationView(notification),
          });
        };
        let subscription: NotificationSubscription;
        try {
          subscription = await live.subscribe({ userId, afterSequence, onNotification });
        } catch (error) {
          // The hub could not LISTEN (the notifications database is away): EventSource clients retry.
          request.log.warn({ err: error }, 'notification stream: subscribe failed');
          throw new DomainError('STREAM_UNAVAILABLE', 'Live notifications are unavailable right now; retry shortly');
        }
        if (!reply.sse.isConnected || sessionEnded) {
          // The client left, or its session ended, while the hub was subscribing.
          releaseSlot();
          await Promise.all([subscription.unsubscribe(), stopWatching()]);
          if (sessionEnded) throw new DomainError('UNAUTHORIZED', 'The session has ended; sign in again');
          return;
        }

        const stream: OpenStream = { reply, subscription };
        streams.add(stream);
        reply.sse.keepAlive();
        reply.sse.onClose(() => {
          streams.delete(stream);
          releaseSlot();
          void stopWatching();
          subscription
            .unsubscribe()
            .catch((error: unknown) => request.log.warn({ err: error }, 'notification stream: unsubscribe failed'));
        });
        // Synchronous from the revocation on: nothing is sent after it, and the stream ends.
        endStream = () => {
          sessionEnded = true;
          if (!reply.sse.isConnected) return;
          reply.raw.write(`: ${SESSION_ENDED_COMMENT}\n\n`);
          reply.sse.close();
        };
        reply.header('x-request-id', request.id);
        reply.sse.sendHeaders();
        // The first bytes tell the client the stream is open even when nothing is pending.
        reply.raw.write(`retry: ${reconnectMs}\n: connected, after sequence ${subscription.lastSequence}\n\n`);
        preambleWritten();
      };
      try {
        await openStream();
      } catch (error) {
        releaseSlot();
        void stopWatching();
        throw error;
      }
    },
  );
};
