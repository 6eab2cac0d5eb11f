/**
 * The recording proxy in front of stripe-mock, for tests and the chaos run. stripe-mock is
 * stateless, so it cannot show that a charge happened once; the requests the payments service
 * sends can. The proxy keeps each one (method, path, Idempotency-Key, body, the order it was for,
 * what came back and whether the answer reached the caller), and can:
 * - stand in for Stripe on chosen requests (`intercept`: a card decline, a lost answer), to reach
 *   the paths stripe-mock never takes (see stripe-double.ts for a Stripe with state);
 * - hold an answer back for good once Stripe has acted (`holdAnswer`): the moment to kill a worker;
 * - be cut (Stripe unreachable: open and new connections are reset) and restored.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Without the query string, e.g. `/v1/payment_intents/pi_123/confirm`. */
  path: string;
  idempotencyKey: string | undefined;
  /** The form-encoded body as sent. */
  body: string;
  kind: 'createIntent' | 'confirm' | 'retrieve' | 'cancel' | 'refund' | 'other';
  /** The order it was for: from the metadata it carries, or from the PaymentIntent in its path. */
  orderId: string | undefined;
  /** The HTTP status Stripe (or the interception) answered; undefined when no answer was made (cut, reset). */
  status: number | undefined;
  /** False when the answer never reached the caller (cut, reset or held back). */
  delivered: boolean;
}

/** What to do instead of forwarding: answer with a status and JSON body, or reset the connection (the answer is lost). */
export type Interception = { status: number; body: unknown } | 'reset';

export interface StripeProxyOptions {
  /** Where requests go when not intercepted: stripe-mock's HTTP base. */
  target: string;
  /** Called for every request after it is recorded; `undefined` forwards it. */
  intercept?: (request: RecordedRequest, index: number) => Interception | undefined;
}

export interface StripeProxy {
  /** The base URL to give the payments service as its Stripe API base. */
  url: string;
  /** Every request received, in order (including intercepted and cut ones). */
  requests: RecordedRequest[];
  /** Called for each answer from upstream: true holds it back for good (the charge happened, the caller never hears of it). */
  holdAnswer?: (request: RecordedRequest) => boolean;
  cut(): void;
  restore(): void;
  readonly isCut: boolean;
  close(): Promise<void>;
}

/** Stripe's own answer to a confirmation with a card that has too little money (HTTP 402). */
export const INSUFFICIENT_FUNDS: Interception = {
  status: 402,
  body: {
    error: {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
      param: 'payment_method',
    },
  },
};

export const isConfirm = (r: Pick<RecordedRequest, 'method' | 'path'>) =>
  r.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(r.path);

const INTENT_PATH = /^\/v1\/payment_intents\/([^/]+)(?:\/(confirm|cancel))?$/;

function kindOf(method: string, path: string): RecordedRequest['kind'] {
  if (method === 'POST' && path === '/v1/payment_intents') return 'createIntent';
  if (method === 'POST' && path === '/v1/refunds') return 'refund';
  const intent = INTENT_PATH.exec(path);
  if (intent?.[2] === 'confirm') return 'confirm';
  if (intent?.[2] === 'cancel') return 'cancel';
  return intent && method === 'GET' ? 'retrieve' : 'other';
}

export async function startStripeProxy(options: StripeProxyOptions): Promise<StripeProxy> {
  const target = new URL(options.target);
  const requests: RecordedRequest[] = [];
  /** PaymentIntent id → order, from the answers to creates (each create makes a new id). */
  const intentOrders = new Map<string, string>();
  const sockets = new Set<Socket>();
  let isCut = false;

  const answer = (
    res: ServerResponse<IncomingMessage>,
    recorded: RecordedRequest,
    status: number,
    headers: IncomingHttpHeaders | Record<string, string>,
    payload: Buffer,
  ) => {
    recorded.status = status;
    if (recorded.kind === 'createIntent' && recorded.orderId && status === 200) {
      const id = (JSON.parse(payload.toString('utf8')) as { id?: string }).id;
      if (id) intentOrders.set(id, recorded.orderId);
    }
    if (res.req.socket.destroyed) return; // cut while Stripe answered: the answer is lost
    if (proxy.holdAnswer?.(recorded)) return;
    res.writeHead(status, headers);
    res.end(payload);
    recorded.delivered = true;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0]!;
      const form = new URLSearchParams(body.toString('utf8'));
      const intentId = INTENT_PATH.exec(path)?.[1] ?? form.get('payment_intent') ?? undefined;
      const recorded: RecordedRequest = {
        method,
        path,
        idempotencyKey: header(req.headers, 'idempotency-key'),
        body: body.toString('utf8'),
        kind: kindOf(method, path),
        orderId: form.get('metadata[orderId]') ?? (intentId ? intentOrders.get(intentId) : undefined),
        status: undefined,
        delivered: false,
      };
      const index = requests.push(recorded) - 1;
      if (isCut) {
        req.socket.resetAndDestroy();
        return;
      }
      const interception = options.intercept?.(recorded, index);
      if (interception === 'reset') {
        // The request reached "Stripe" but its answer is lost: the client sees ECONNRESET.
        req.socket.destroy();
        return;
      }
      if (interception) {
        answer(
          res,
          recorded,
          interception.status,
          { 'content-type': 'application/json', 'request-id': `req_proxy_${index}` },
          Buffer.from(JSON.stringify(interception.body)),
        );
        return;
      }
      const upstream = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (reply) => {
          const parts: Buffer[] = [];
          reply.on('data', (chunk: Buffer) => parts.push(chunk));
          reply.on('end', () => answer(res, recorded, reply.statusCode ?? 502, reply.headers, Buffer.concat(parts)));
        },
      );
      upstream.on('error', (error) => {
        if (req.socket.destroyed) return;
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `stripe proxy: ${error.message}` } }));
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
    requests,
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
