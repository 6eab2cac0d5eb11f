/**
 * A Server-Sent Events client for tests, over node:http: parses events and comments as the
 * EventSource spec does, and waits for them with a deadline (a wait, never a timing assertion).
 */
import http from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  /** When the event was parsed (Date.now()), for printed latency numbers. */
  receivedAt: number;
}

export interface SseConnectOptions {
  headers?: Record<string, string>;
  /** How long to wait for the response head. */
  timeoutMs?: number;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** The last `retry:` value the server sent. */
  retry?: number;
  ended = false;
  private buffer = '';
  private pending = '';
  private waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    private readonly request: http.ClientRequest,
    response: http.IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.feed(chunk));
    const end = () => {
      this.ended = true;
      this.wake();
    };
    response.on('end', end);
    response.on('close', end);
    response.on('error', end);
  }

  /** Opens the stream; resolves with the response head (any status: a JSON error is read whole). */
  static connect(url: string, options: SseConnectOptions = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = http.get(url, { headers: { accept: 'text/event-stream', ...options.headers } }, (response) => {
        clearTimeout(timer);
        resolve(new SseClient(response.statusCode ?? 0, response.headers, request, response));
      });
      const timer = setTimeout(() => {
        request.destroy();
        reject(new Error(`no response from ${url} within ${options.timeoutMs ?? 10_000} ms`));
      }, options.timeoutMs ?? 10_000);
      request.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** The body so far as text (for error responses). */
  get text(): string {
    return this.buffer;
  }

  /** Data of each event, parsed as JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that tests read freely
  json<T = any>(): T[] {
    return this.events.map((event) => JSON.parse(event.data) as T);
  }

  /** Waits until `predicate` holds for what has arrived; rejects after `timeoutMs` or when the stream ends first. */
  async until(predicate: (client: SseClient) => boolean, description: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (this.ended) throw new Error(`stream ended before ${description}; events: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${description}; events: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for at least `count` events. */
  untilEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.until((client) => client.events.length >= count, `${count} event(s)`, timeoutMs);
  }

  close(): void {
    this.request.destroy();
  }

  private describe(): string {
    return JSON.stringify(this.events.map((event) => ({ id: event.id, event: event.event })));
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    // Events end with a blank line; keep an incomplete tail for the next chunk.
    const blocks = this.pending + chunk;
    const parts = blocks.split(/\r?\n\r?\n/);
    this.pending = parts.pop() ?? '';
    for (const block of parts) this.parseBlock(block);
    this.wake();
  }

  private parseBlock(block: string): void {
    let event = 'message';
    let id: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
      else if (field === 'retry') this.retry = Number(value);
    }
    if (data.length > 0) this.events.push({ id, event, data: data.join('\n'), receivedAt: Date.now() });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
