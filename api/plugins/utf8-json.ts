/**
 * JSON request bodies decoded strictly: bytes that are not UTF-8 are refused with 400
 * UNSTORABLE_TEXT. Fastify's own parser decodes leniently, turning each invalid byte into U+FFFD,
 * so a client's broken text would be stored as something it never sent. Parsing itself stays
 * Fastify's (the same protection against `__proto__` and `constructor` keys).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../lib/errors';

/** `ignoreBOM` keeps a byte order mark in the text, as Fastify's decoding does (JSON.parse then refuses it). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8Json = fp(
  async function utf8Json(app: FastifyInstance) {
    const parseJson = app.getDefaultJsonParser(
      app.initialConfig.onProtoPoisoning ?? 'error',
      app.initialConfig.onConstructorPoisoning ?? 'error',
    );
    // Replaces the default parser for the whole app; a scope with its own (the Stripe webhook's raw bytes) removes this one first.
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string;
      try {
        text = strictUtf8.decode(body as Buffer);
      } catch {
        done(new DomainError('UNSTORABLE_TEXT', 'The body is not valid UTF-8'), undefined);
        return;
      }
      // Fastify's default parser answers through `done`; its type also allows the promise form.
      void parseJson(request, text, done);
    });
  },
  { name: 'utf8-json' },
);
