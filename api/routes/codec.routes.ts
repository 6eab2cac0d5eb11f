/**
 * The codec endpoint the Temporal Web UI (and `temporal --codec-endpoint`) calls to show
 * encrypted payloads in clear to operators: `POST /codec/decode` and `POST /codec/encode`, in the
 * UI's codec-server protocol (`{payloads: [{metadata: {name: base64}, data: base64}]}` both ways).
 *
 * Only admins: decoding is reading every customer's orders. The UI attaches the operator's
 * credential when its codec settings say "include cross-origin credentials" (the storefront
 * session cookie: same site as the UI on 127.0.0.1, whatever the port) or "pass access token"
 * (a bearer token); the CLI passes `--codec-auth "Bearer <token>"`. CORS admits only the UI's
 * origins (`CODEC_CORS_ORIGINS`), with credentials, so another page cannot read the answers.
 * Registered only when payload encryption is on (api/app.ts).
 */
import cors from '@fastify/cors';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { Type, type Static } from 'typebox';
import { DomainError } from '../../lib/errors';
import { errors, Text } from '../schemas';

export interface CodecRoutesOptions {
  codec: PayloadCodec;
  /** Origins allowed to call from a browser: the Temporal Web UI's. */
  allowedOrigins: readonly string[];
}

/** The local Web UI of `npm start` (TEMPORAL_UI_PORT 8233), under both of its names. */
export const DEFAULT_CODEC_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'];

/** `CODEC_CORS_ORIGINS=https://temporal.example.com,...`; the local UI's origins when unset. */
export function codecOriginsFromEnv(env: Record<string, string | undefined> = process.env): string[] {
  const raw = env.CODEC_CORS_ORIGINS?.trim();
  return raw
    ? raw
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean)
    : DEFAULT_CODEC_ORIGINS;
}

const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
const JsonPayload = Type.Object(
  {
    metadata: Type.Record(Type.String(), Type.String({ pattern: BASE64 }), {
      description: 'Metadata entries, each value base64',
      // A record's key schema does not constrain its keys: propertyNames does.
      propertyNames: Text({ maxLength: 256 }),
    }),
    data: Type.Optional(Type.String({ pattern: BASE64, description: 'The payload bytes, base64' })),
  },
  { additionalProperties: false },
);
const Payloads = Type.Object(
  { payloads: Type.Array(JsonPayload, { maxItems: 10_000 }) },
  { additionalProperties: false },
);
type Payloads = Static<typeof Payloads>;

/**
 * History pages of large orders carry many payloads: more room than the API's 64 KiB default (413
 * PAYLOAD_TOO_LARGE past it). Only an admin's request is ever read that far: the caller is checked first.
 */
export const CODEC_BODY_LIMIT_BYTES = 8 * 1024 * 1024;

function fromJson(payload: Static<typeof JsonPayload>): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  };
}

function toJson(payload: Payload): Static<typeof JsonPayload> {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([name, value]) => [
        name,
        Buffer.from(value ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

export const codecRoutes: FastifyPluginAsyncTypebox<CodecRoutesOptions> = async (app, { codec, allowedOrigins }) => {
  // Scoped to this plugin: only the codec routes answer cross-origin requests, and their preflight needs no credential.
  await app.register(cors, {
    origin: [...allowedOrigins],
    credentials: true,
    methods: ['POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Namespace'],
    maxAge: 600,
  });

  const route = (direction: 'encode' | 'decode', summary: string, description: string) =>
    app.post(
      `/codec/${direction}`,
      {
        // onRequest, before the body is read or parsed: an anonymous 8 MiB body costs the event loop nothing.
        onRequest: app.requireAdmin,
        // The UI sends the operator's session cookie ("include cross-origin credentials") but cannot send a CSRF token.
        config: { readOnlyPostFrom: allowedOrigins },
        bodyLimit: CODEC_BODY_LIMIT_BYTES,
        schema: {
          operationId: `codec${direction === 'encode' ? 'Encode' : 'Decode'}`,
          summary,
          description,
          tags: ['codec'],
          headers: Type.Object({
            'x-namespace': Type.Optional(Text({ description: 'The namespace the UI is showing (informational)' })),
          }),
          body: Payloads,
          response: { 200: Payloads, ...errors(400, 401, 403, 413) },
        },
      },
      async (request) => {
        let payloads: Payload[];
        try {
          payloads = await codec[direction](request.body.payloads.map(fromJson));
        } catch (error) {
          // A payload under a retired key, or altered: the operator's problem to know, not a server fault.
          request.log.warn({ direction, reason: (error as Error).message }, 'codec request refused');
          throw new DomainError('PAYLOAD_UNDECODABLE', (error as Error).message);
        }
        return { payloads: payloads.map(toJson) } satisfies Payloads;
      },
    );

  route(
    'decode',
    'Decrypt payloads for an operator',
    'The Temporal Web UI sends the payloads of the history it shows; encrypted ones come back in clear, others unchanged. Admins only.',
  );
  route(
    'encode',
    'Encrypt payloads for an operator',
    'Encrypts payloads (e.g. a signal argument typed in the Web UI) with the current key. Admins only.',
  );
};
