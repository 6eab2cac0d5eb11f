/**
 * The API's request logging without secrets: whatever logger options a caller passes, request
 * lines carry no Authorization header, cookie, Set-Cookie, password or `?access_token=` value.
 * Fastify's default request serializer logs the URL, which is where a query token would leak;
 * pino's `redact` covers the headers and bodies should anything log them whole.
 */
import type { FastifyServerOptions } from 'fastify';

export const REDACTED = '[REDACTED]';

/** Log paths (pino `redact`) that may hold a credential. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.query.access_token',
  'query.access_token',
  'body.password',
  'req.body.password',
  'password',
  'token',
  'access_token',
];

/** The URL with the value of every `access_token` query parameter replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, `$1${REDACTED}`);
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

function requestSerializer(request: LoggedRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

type LoggerOption = FastifyServerOptions['logger'];

export function redactingLogger(logger: LoggerOption): LoggerOption {
  if (!logger) return false;
  const options =
    logger === true
      ? {}
      : (logger as Exclude<LoggerOption, boolean | undefined> & {
          redact?: unknown;
          serializers?: Record<string, unknown>;
        });
  const own = Array.isArray(options.redact) ? (options.redact as string[]) : [];
  return {
    ...options,
    redact: { paths: [...new Set([...own, ...REDACTED_PATHS])], censor: REDACTED },
    serializers: { ...(options.serializers ?? {}), req: requestSerializer },
  } as LoggerOption;
}
