/**
 * A PostgreSQL connection held open to LISTEN on one channel: what the notification hub and the
 * catalogue cache each keep, and how both open it, notice its loss and close it quietly.
 */
import { Client, type Notification } from 'pg';

export interface ListenerOptions {
  connectionString: string;
  applicationName: string;
  channel: string;
  /** How long connecting may take before it fails (pg's default: no limit). */
  connectionTimeoutMillis?: number;
  onNotification(message: Notification): void;
  /**
   * The connection failed or ended (an idle connection that fails emits 'error' and then 'end':
   * this is called once, with the error when there was one). Not called once it is released.
   */
  onLost(client: Client, error?: unknown): void;
}

/** Connects and LISTENs; when either fails, the connection is released and the error thrown. */
export async function openListener(options: ListenerOptions): Promise<Client> {
  const client = new Client({
    connectionString: options.connectionString,
    application_name: options.applicationName,
    ...(options.connectionTimeoutMillis ? { connectionTimeoutMillis: options.connectionTimeoutMillis } : {}),
  });
  let lost = false;
  const lose = (error?: unknown) => {
    if (lost) return;
    lost = true;
    void releaseListener(client);
    options.onLost(client, error);
  };
  client.on('notification', (message) => options.onNotification(message));
  client.on('error', (error) => lose(error));
  client.on('end', () => lose());
  try {
    await client.connect();
    await client.query(`LISTEN ${options.channel}`);
  } catch (error) {
    lost = true;
    await releaseListener(client);
    throw error;
  }
  return client;
}

/** Closes a listening connection: no loss is reported for it any more, and its late errors are swallowed. */
export async function releaseListener(client: Client): Promise<void> {
  client.removeAllListeners('end');
  client.removeAllListeners('error');
  client.on('error', () => undefined);
  await client.end().catch(() => undefined);
}

export interface OnDemandListenerOptions {
  connectionString: string;
  applicationName: string;
  channel: string;
  /** Whether the listening connection is wanted now (some stream or watch is open). */
  wanted(): boolean;
  onNotification(payload: string): void;
  /** The connection is back after a loss: whatever was announced meanwhile was lost, so look it up. */
  onReconnected(): void;
  onError(error: unknown): void;
  /** Wait before reconnecting a lost connection (default 1 s). */
  retryDelayMs?: number;
}

/**
 * A LISTEN connection held only while it is wanted: opened for the first stream or watch, closed
 * after the last, and reconnected after a loss while still wanted. What the notification hub and
 * the session watch each keep.
 */
export class OnDemandListener {
  private client: Client | null = null;
  /** Every open and close of the connection runs on this chain, one after another. */
  private transitions: Promise<void> = Promise.resolve();
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: OnDemandListenerOptions) {}

  /** True while the connection is connected and LISTENing. */
  isListening(): boolean {
    return this.client !== null;
  }

  /**
   * Brings the connection in line with `wanted()`. Serialized, and deciding when it runs (not when
   * it was asked for), so that a watch and a stop interleaving with a slow connect end right: a
   * connect whose watchers left meanwhile is followed by a close, and a close followed by a watch
   * by a fresh connect. A failed connect is retried later while the connection is still wanted.
   */
  sync(): Promise<void> {
    const next = this.transitions.then(() => this.applyState());
    this.transitions = next.catch(() => undefined);
    next.catch(() => this.scheduleReconnect());
    return next;
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.sync();
  }

  private async applyState(): Promise<void> {
    const wanted = !this.closed && this.options.wanted();
    if (wanted && !this.client) {
      this.client = await openListener({
        connectionString: this.options.connectionString,
        applicationName: this.options.applicationName,
        channel: this.options.channel,
        onNotification: (message) => {
          if (message.channel === this.options.channel && message.payload) this.options.onNotification(message.payload);
        },
        onLost: (client, error) => this.onLost(client, error),
      });
    } else if (!wanted && this.client) {
      const client = this.client;
      this.client = null;
      // The connection is going away anyway: an UNLISTEN that fails changes nothing.
      await client.query(`UNLISTEN ${this.options.channel}`).catch(() => undefined);
      await releaseListener(client);
    }
  }

  private onLost(client: Client, error?: unknown): void {
    if (this.client !== client) return;
    if (error) this.options.onError(error);
    this.client = null;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed || !this.options.wanted()) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.sync().then(
        () => this.options.onReconnected(),
        (error: unknown) => this.options.onError(error),
      );
    }, this.options.retryDelayMs ?? 1_000);
    this.reconnectTimer.unref();
  }
}
