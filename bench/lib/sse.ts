/** A minimal Server-Sent Events client for the fan-out benchmark: hundreds of streams, each event timed on arrival. */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
  /** performance.now() when the event's last line arrived. */
  at: number;
}

export interface SseStream {
  /** Resolves once the server has written the stream's first bytes (its preamble). */
  opened: Promise<void>;
  onEvent(listener: (event: SseEvent) => void): void;
  close(): void;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

export function openSse(url: string): SseStream {
  const listeners: Array<(event: SseEvent) => void> = [];
  let request: http.ClientRequest | undefined;
  const opened = new Promise<void>((resolve, reject) => {
    request = http.get(url, { agent, headers: { accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`stream answered ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      let buffer = '';
      let first = true;
      response.on('data', (chunk: string) => {
        if (first) {
          first = false;
          resolve();
        }
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const at = performance.now();
          const event: SseEvent = { event: 'message', data: '', at };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.event = value;
            else if (field === 'id') event.id = value;
            else if (field === 'data') data.push(value);
          }
          if (data.length === 0) continue;
          event.data = data.join('\n');
          for (const listener of listeners) listener(event);
        }
      });
    });
    request.on('error', reject);
  });
  opened.catch(() => undefined);
  return {
    opened,
    onEvent: (listener) => void listeners.push(listener),
    close: () => request?.destroy(),
  };
}
