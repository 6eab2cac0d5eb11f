/**
 * The recording proxy in front of stripe-mock for chaos runs. stripe-mock is stateless, so the
 * requests the payments service sends are the evidence: for each, the Idempotency-Key, whether it
 * reached stripe-mock and what stripe-mock answered, and which order it was for. It can be cut
 * (Stripe unreachable: open and new connections are reset) and restored.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface StripeCall {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  /** The order it was for: from the metadata it carries, or from the PaymentIntent in its path. */
  orderId: string | undefined;
  /** stripe-mock's HTTP status; undefined when the request never reached it (cut). */
  status: number | undefined;
  /** False when the answer was lost on the way back (the proxy was cut meanwhile). */
  delivered: boolean;
  kind: 'createIntent' | 'confirm' | 'retrieve' | 'cancel' | 'refund' | 'other';
}

export interface StripeProxy {
  url: string;
  calls: StripeCall[];
  /**
   * Called for each request that reaches stripe-mock: true holds stripe-mock's answer back for
   * good (the charge happened, the caller never hears of it) — the moment to kill the worker.
   */
  holdAnswer?: (call: StripeCall) => boolean;
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

const INTENT_PATH = /^\/v1\/payment_intents\/([^/]+)(?:\/(confirm|cancel))?$/;

export async function startStripeProxy(target: string): Promise<StripeProxy> {
  const upstreamBase = new URL(target);
  const calls: StripeCall[] = [];
  /** PaymentIntent id → order, from the answers to creates (stripe-mock makes a new id per create). */
  const intentOrders = new Map<string, string>();
  const sockets = new Set<Socket>();
  let isCut = false;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0]!;
      const form = new URLSearchParams(body.toString('utf8'));
      const intentMatch = INTENT_PATH.exec(path);
      const kind: StripeCall['kind'] =
        req.method === 'POST' && path === '/v1/payment_intents'
          ? 'createIntent'
          : req.method === 'POST' && path === '/v1/refunds'
            ? 'refund'
            : intentMatch && intentMatch[2] === 'confirm'
              ? 'confirm'
              : intentMatch && intentMatch[2] === 'cancel'
                ? 'cancel'
                : intentMatch && req.method === 'GET'
                  ? 'retrieve'
                  : 'other';
      const intentId = intentMatch?.[1] ?? form.get('payment_intent') ?? undefined;
      const call: StripeCall = {
        method: req.method ?? 'GET',
        path,
        idempotencyKey: header(req.headers, 'idempotency-key'),
        orderId: form.get('metadata[orderId]') ?? (intentId ? intentOrders.get(intentId) : undefined),
        status: undefined,
        delivered: false,
        kind,
      };
      calls.push(call);
      if (isCut) {
        req.socket.resetAndDestroy();
        return;
      }
      const upstream = httpRequest(
        { hostname: upstreamBase.hostname, port: upstreamBase.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstreamBase.host } },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => parts.push(chunk));
          answer.on('end', () => {
            call.status = answer.statusCode;
            const payload = Buffer.concat(parts);
            if (kind === 'createIntent' && call.orderId && answer.statusCode === 200) {
              const id = (JSON.parse(payload.toString('utf8')) as { id?: string }).id;
              if (id) intentOrders.set(id, call.orderId);
            }
            if (req.socket.destroyed) return; // cut while stripe-mock answered: the answer is lost
            if (proxy.holdAnswer?.(call)) return;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(payload);
            call.delivered = true;
          });
        },
      );
      upstream.on('error', (error) => {
        if (req.socket.destroyed) return;
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `chaos stripe proxy: ${error.message}` } }));
      });
      upstream.end(body);
    });
  });
  // While cut, a connection is still accepted so that its request (and key) is recorded before the reset.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const proxy: StripeProxy = {
    url: `http://127.0.0.1:${port}`,
    calls,
    cut() {
      isCut = true;
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    restore() {
      isCut = false;
    },
    get isCut() {
      return isCut;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
  return proxy;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
