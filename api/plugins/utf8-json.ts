/**
 * JSON request bodies decoded strictly: bytes that are not UTF-8 are refused with 400
 * UNSTORABLE_TEXT. Fastify's own parser decodes leniently, turning each invalid byte into U+FFFD,
 * so a client's broken text would be stored as something it never sent. Parsing itself stays
 * Fastify's (the same protection against `__proto__` and `constructor` keys).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../lib/errors';

/** `ignoreBOM` keeps a byte order mark in the text, as Fastify's decoding does (JSON.parse then refuses it). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type BufferParser = (
  request: FastifyRequest,
  body: Buffer,
  done: (error: Error | null, body?: unknown) => void,
) => void;

/** The app's JSON body parser over a body read as bytes (`parseAs: 'buffer'`): strict UTF-8, then Fastify's parsing. */
export function strictJsonParser(app: FastifyInstance): BufferParser {
  const parseJson = app.getDefaultJsonParser(
    app.initialConfig.onProtoPoisoning ?? 'error',
    app.initialConfig.onConstructorPoisoning ?? 'error',
  );
  return (request, body, done) => {
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      done(new DomainError('UNSTORABLE_TEXT', 'The body is not valid UTF-8'), undefined);
      return;
    }
    // Fastify's default parser answers through `done`; its type also allows the promise form.
    void parseJson(request, text, done);
  };
}

export const utf8Json = fp(
  async function utf8Json(app: FastifyInstance) {
    const parse = strictJsonParser(app);
    // Replaces the default parser for the whole app; a scope with its own (the Stripe webhook keeps the raw bytes) removes this one first.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) =>
      parse(request, body as Buffer, done),
    );
  },
  { name: 'utf8-json' },
);
