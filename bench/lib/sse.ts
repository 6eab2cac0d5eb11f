/** A minimal Server-Sent Events client for the fan-out benchmark: hundreds of streams, each event timed on arrival. */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { SseFrames } from '../../harness/sse';

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
      const frames = new SseFrames();
      let first = true;
      response.on('data', (chunk: string) => {
        if (first) {
          first = false;
          resolve();
        }
        const at = performance.now();
        for (const frame of frames.push(chunk)) {
          if (frame.data === undefined) continue;
          const event: SseEvent = { event: frame.event, id: frame.id, data: frame.data, at };
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
