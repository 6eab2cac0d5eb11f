/**
 * A recording HTTP proxy in front of stripe-mock. stripe-mock is stateless, so it cannot show
 * that a charge happened once; the requests the payments service sends can: the recorder keeps
 * the method, path and Idempotency-Key of each, and can stand in for Stripe on chosen requests
 * (answer a card decline, reset the connection) to reach the paths stripe-mock never takes.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Without the query string, e.g. `/v1/payment_intents/pi_123/confirm`. */
  path: string;
  idempotencyKey: string | undefined;
  /** The form-encoded body as sent. */
  body: string;
}

/** What to do instead of forwarding: answer with a status and JSON body, or reset the connection. */
export type Interception = { status: number; body: unknown } | 'reset';

export interface StripeRecorderOptions {
  /** Where requests go when not intercepted: stripe-mock's HTTP base. */
  target: string;
  /** Called for every request after it is recorded; `undefined` forwards it. */
  intercept?: (request: RecordedRequest, index: number) => Interception | undefined;
}

export interface StripeRecorder {
  /** The base URL to give createStripeGateway as stripeApiBase. */
  url: string;
  /** Every request received, in order (including intercepted ones). */
  requests: RecordedRequest[];
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

export const isConfirm = (r: RecordedRequest) => r.method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/confirm$/.test(r.path);

export async function startStripeRecorder(options: StripeRecorderOptions): Promise<StripeRecorder> {
  const target = new URL(options.target);
  const requests: RecordedRequest[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0]!,
        idempotencyKey: header(req.headers, 'idempotency-key'),
        body: body.toString('utf8'),
      };
      const index = requests.push(recorded) - 1;
      const interception = options.intercept?.(recorded, index);

      if (interception === 'reset') {
        // The request reached "Stripe" but its answer is lost: the client sees ECONNRESET.
        req.socket.destroy();
        return;
      }
      if (interception) {
        const payload = JSON.stringify(interception.body);
        res.writeHead(interception.status, { 'content-type': 'application/json', 'request-id': `req_recorder_${index}` });
        res.end(payload);
        return;
      }

      const upstream = httpRequest(
        {
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `stripe-recorder: ${error.message}` } }));
      });
      upstream.end(body);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
