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

/** One block of the stream, up to its blank line, with its fields read as the EventSource spec reads them. */
export interface SseFrame {
  event: string;
  id?: string;
  /** The data lines joined; undefined when the block had none (then it dispatches no event). */
  data?: string;
  retry?: number;
  comments: string[];
}

/** Cuts a stream into frames as chunks arrive, keeping an incomplete tail for the next chunk. */
export class SseFrames {
  private pending = '';

  push(chunk: string): SseFrame[] {
    const blocks = (this.pending + chunk).split(/\r?\n\r?\n/);
    this.pending = blocks.pop() ?? '';
    return blocks.map(parseFrame);
  }
}

function parseFrame(block: string): SseFrame {
  const frame: SseFrame = { event: 'message', comments: [] };
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) {
      frame.comments.push(line.slice(1).trim());
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') frame.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') frame.id = value;
    else if (field === 'retry') frame.retry = Number(value);
  }
  if (data.length > 0) frame.data = data.join('\n');
  return frame;
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
  private readonly frames = new SseFrames();
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
    for (const frame of this.frames.push(chunk)) {
      this.comments.push(...frame.comments);
      if (frame.retry !== undefined) this.retry = frame.retry;
      if (frame.data !== undefined)
        this.events.push({ id: frame.id, event: frame.event, data: frame.data, receivedAt: Date.now() });
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
