/**
 * Helmet's security headers (Content-Security-Policy, Strict-Transport-Security,
 * X-Content-Type-Options and the rest of its defaults) on every response, errors included.
 * Helmet decides them, once, when the app is built: with no per-request options they are the same
 * for every response. @fastify/helmet instead builds Helmet's middleware again for each request,
 * parsing the policy every time, which was an eighth of the CPU a cached catalogue read took
 * (docs/performance.md, "The catalogue at framework speed").
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';

/** The headers Helmet's middleware sets with these options, by lower-case name. */
export function helmetHeaders(options: Readonly<HelmetOptions> = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  // Helmet's middleware only sets and removes headers, synchronously; without per-request policy
  // functions it reads nothing of the request or the response.
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

export const securityHeaders = fp(
  async function securityHeaders(app, options: { helmet?: HelmetOptions }) {
    const headers = helmetHeaders(options.helmet);
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
  },
  { name: 'security-headers', fastify: '5.x' },
);
