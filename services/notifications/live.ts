/**
 * A per-process hub that feeds live notification streams (SSE): it LISTENs on PostgreSQL only
 * while it has subscribers, and delivers to each subscriber the rows after the last sequence it
 * saw, read from the database, so delivery has no gaps and no duplicates whatever NOTIFY does.
 */
import { OnDemandListener } from '../../lib/db/listener';
import {
  NOTIFICATIONS_CHANNEL,
  type Notification,
  type NotificationAnnouncement,
  type NotificationsService,
} from './notifications.service';

export interface NotificationHubOptions {
  /** The notifications database; the hub opens one dedicated connection to it while listening. */
  connectionString: string;
  notifications: Pick<NotificationsService, 'list' | 'lastSequence'>;
  /** Shown in pg_stat_activity for the listening connection. */
  applicationName?: string;
  /** Rows read per query while catching a subscriber up. */
  batchSize?: number;
  /** Wait before reconnecting a lost listening connection or retrying a failed read. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export interface SubscribeOptions {
  userId: string;
  /**
   * Deliver the notifications after this sequence first (an SSE stream's Last-Event-ID).
   * Without it the subscriber starts at the user's latest notification and gets only new ones.
   */
  afterSequence?: number;
  /** Called once per notification, in sequence order, one at a time. */
  onNotification: (notification: Notification) => void | Promise<void>;
}

export interface NotificationSubscription {
  readonly userId: string;
  /** The sequence of the last notification delivered (or the starting point). */
  readonly lastSequence: number;
  /** Stops delivery; the last unsubscribe of the process stops listening. Idempotent. */
  unsubscribe(): Promise<void>;
}

export const DEFAULT_HUB_APPLICATION_NAME = 'storefront-notification-hub';

export class NotificationHub {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private subscriberCount = 0;
  private readonly listener: OnDemandListener;
  private closed = false;
  private readonly batchSize: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: NotificationHubOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
    this.listener = new OnDemandListener({
      connectionString: options.connectionString,
      applicationName: options.applicationName ?? DEFAULT_HUB_APPLICATION_NAME,
      channel: NOTIFICATIONS_CHANNEL,
      retryDelayMs: this.retryDelayMs,
      wanted: () => this.subscriberCount > 0 && !this.closed,
      onNotification: (payload) => this.onAnnouncement(payload),
      // Announcements sent while the connection was down are lost: read what was missed.
      onReconnected: () => this.pokeAll(),
      onError: (error) => this.reportError(error),
    });
  }

  /** True while the dedicated connection is connected and LISTENing. */
  isListening(): boolean {
    return this.listener.isListening();
  }

  subscriberTotal(): number {
    return this.subscriberCount;
  }

  /**
   * Resolves once the hub listens and the subscriber's starting point is known; the backlog
   * after `afterSequence` and then live notifications follow through `onNotification`.
   */
  async subscribe(options: SubscribeOptions): Promise<NotificationSubscription> {
    if (this.closed) throw new Error('NotificationHub is closed');
    const subscriber = new Subscriber(options, this);
    this.add(subscriber);
    try {
      // LISTEN before reading the starting point, so nothing committed in between is missed.
      await this.listener.sync();
      if (!this.isListening() && !subscriber.closed) throw new Error('NotificationHub could not start listening');
      const start = options.afterSequence ?? (await this.options.notifications.lastSequence(options.userId));
      subscriber.start(start);
    } catch (error) {
      await subscriber.unsubscribe();
      throw error;
    }
    return subscriber;
  }

  /** Drops every subscriber and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    for (const group of this.subscribers.values()) for (const subscriber of group) subscriber.closed = true;
    this.subscribers.clear();
    this.subscriberCount = 0;
    await this.listener.close();
  }

  /** @internal */
  async remove(subscriber: Subscriber): Promise<void> {
    const group = this.subscribers.get(subscriber.userId);
    if (group?.delete(subscriber)) {
      this.subscriberCount--;
      if (group.size === 0) this.subscribers.delete(subscriber.userId);
    }
    await this.listener.sync();
  }

  /** @internal */
  readPage(userId: string, afterSequence: number): Promise<Notification[]> {
    return this.options.notifications.list(userId, { afterSequence, limit: this.batchSize });
  }

  /** @internal */
  get pageSize(): number {
    return this.batchSize;
  }

  /** @internal */
  get retryDelay(): number {
    return this.retryDelayMs;
  }

  /** @internal */
  reportError(error: unknown): void {
    this.options.onError?.(error);
  }

  private add(subscriber: Subscriber): void {
    let group = this.subscribers.get(subscriber.userId);
    if (!group) this.subscribers.set(subscriber.userId, (group = new Set()));
    group.add(subscriber);
    this.subscriberCount++;
  }

  private pokeAll(): void {
    for (const group of this.subscribers.values()) for (const subscriber of group) subscriber.poke();
  }

  private onAnnouncement(payload: string): void {
    let announcement: NotificationAnnouncement;
    try {
      announcement = JSON.parse(payload) as NotificationAnnouncement;
    } catch (error) {
      this.reportError(error);
      return;
    }
    const group = this.subscribers.get(announcement.userId);
    if (!group) return;
    for (const subscriber of group) subscriber.poke(announcement.sequence);
  }
}

/** One stream: delivers the user's rows after its last sequence, one read loop at a time. */
class Subscriber implements NotificationSubscription {
  readonly userId: string;
  lastSequence = 0;
  closed = false;
  private started = false;
  private reading = false;
  private readAgain = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: SubscribeOptions,
    private readonly hub: NotificationHub,
  ) {
    this.userId = options.userId;
  }

  start(afterSequence: number): void {
    this.lastSequence = afterSequence;
    this.started = true;
    this.poke();
  }

  /** Something new may exist (up to `sequence`, when known): read it unless already delivered. */
  poke(sequence?: number): void {
    if (!this.started || this.closed) return;
    if (sequence !== undefined && sequence <= this.lastSequence) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    void this.readLoop();
  }

  async unsubscribe(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.hub.remove(this);
  }

  private async readLoop(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        const page = await this.hub.readPage(this.userId, this.lastSequence);
        for (const notification of page) {
          if (this.closed) return;
          if (notification.sequence <= this.lastSequence) continue;
          this.lastSequence = notification.sequence;
          try {
            await this.options.onNotification(notification);
          } catch (error) {
            this.hub.reportError(error);
          }
        }
        if (page.length === this.hub.pageSize) this.readAgain = true;
      } while (this.readAgain && !this.closed);
    } catch (error) {
      this.hub.reportError(error);
      if (!this.closed && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.poke();
        }, this.hub.retryDelay);
        this.retryTimer.unref();
      }
    } finally {
      this.reading = false;
    }
  }
}
