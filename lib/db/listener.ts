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
