/**
 * The codec endpoint as the Temporal Web UI calls it: admins get payloads decrypted and
 * encrypted in the UI's JSON protocol, everyone else is refused, CORS admits only the UI's
 * origin, and a payload that cannot be decrypted is a 400 with a code, never a 5xx.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { AesGcmPayloadCodec, parseEncryptionKeys } from '../../temporal/payload-codec';
import { auth, SESSION_COOKIE } from '../plugins/auth';
import { errorHandler } from '../plugins/errors';
import { CODEC_BODY_LIMIT_BYTES, codecRoutes } from './codec.routes';

const UI = 'http://127.0.0.1:8233';
const OPERATOR_SESSION = '5b0c3c1e-8a4f-4e7e-9d1a-0f6f3c2b7a10';
const codec = new AesGcmPayloadCodec(parseEncryptionKeys(`ops-1:${randomBytes(32).toString('base64')}`));
let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  await app.register(errorHandler);
  // Dev tokens (no session) carry their role, so no accounts database is needed to sign an admin in here;
  // the one session is an operator's, signed in to the storefront in the browser the Web UI runs in.
  const operatorSession = {
    openSession: () => Promise.reject(new Error('no sign-in in this test')),
    activeSession: async (sid: string) =>
      sid === OPERATOR_SESSION ? { userId: 'op-1', account: { role: 'admin' } } : null,
    revokeSession: async () => undefined,
  };
  await app.register(auth, {
    jwtSecret: 'codec-test-secret',
    accounts: operatorSession as never,
    allowDevTokens: true,
    secureCookies: false,
  });
  await app.register(codecRoutes, { codec, allowedOrigins: [UI] });
  await app.ready();
});
afterAll(() => app.close());

const asJson = (payload: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value!).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});
const fromJson = (payload: { metadata: Record<string, string>; data: string }): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata).map(([name, value]) => [name, Buffer.from(value, 'base64')]),
  ),
  data: Buffer.from(payload.data, 'base64'),
});
const bearer = (role: 'admin' | 'user') => ({ authorization: `Bearer ${app.jwt.sign({ sub: `${role}-1`, role })}` });
const order = { customerId: 'alice-42', totalCents: 2_500 };

describe('POST /codec/decode and /codec/encode', () => {
  it('decrypts an order input for an admin, in the Web UI protocol, with CORS for the UI', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    const response = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { ...bearer('admin'), origin: UI, 'x-namespace': 'default' },
      payload: { payloads: [asJson(encrypted!)] },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBe(UI);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    const [decoded] = response.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>().payloads;
    expect(defaultPayloadConverter.fromPayload(fromJson(decoded!))).toEqual(order);
  });

  it('encrypts what the UI sends (a signal typed by an operator) so the workers can read it', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/codec/encode',
      headers: bearer('admin'),
      payload: { payloads: [asJson(defaultPayloadConverter.toPayload(order))] },
    });
    expect(response.statusCode).toBe(200);
    const [encoded] = response.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>().payloads;
    expect(Buffer.from(encoded!.data, 'base64').includes('alice-42')).toBe(false);
    expect(defaultPayloadConverter.fromPayload((await codec.decode([fromJson(encoded!)]))[0]!)).toEqual(order);
  });

  it('answers the UI origin preflight without a credential, and not another origin', async () => {
    const preflight = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/codec/decode',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const fromUi = await preflight(UI);
    expect(fromUi.statusCode).toBe(204);
    expect(fromUi.headers['access-control-allow-origin']).toBe(UI);
    expect(fromUi.headers['access-control-allow-headers']).toMatch(/Authorization/);
    const fromElsewhere = await preflight('https://evil.example');
    expect(fromElsewhere.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('checks the caller before it reads the body: anonymous and customer requests are refused whatever they send', async () => {
    // Not JSON, and past the body limit: were the body parsed first, the answers would be 400 and 413.
    const junk = Buffer.alloc(CODEC_BODY_LIMIT_BYTES + 1, '{');
    const send = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { 'content-type': 'application/json', origin: UI, ...headers },
        payload: junk,
      });
    expect((await send({})).json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    expect((await send(bearer('user'))).json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    // An admin's request is read, and held to the limit.
    expect((await send(bearer('admin'))).statusCode).toBe(413);
  });

  it('refuses anyone but an admin, before decoding anything', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    const body = { payloads: [asJson(encrypted!)] };
    const anonymous = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: { origin: UI },
      payload: body,
    });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).not.toContain('alice-42');
    const customer = await app.inject({ method: 'POST', url: '/codec/decode', headers: bearer('user'), payload: body });
    expect(customer.statusCode).toBe(403);
    expect(customer.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it("takes the operator's session cookie from the UI's origin without a CSRF token, and refuses it from another site", async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    const cookie = `${SESSION_COOKIE}=${app.jwt.sign({ sub: 'op-1', sid: OPERATOR_SESSION })}`;
    const decode = (origin: string) =>
      app.inject({
        method: 'POST',
        url: '/codec/decode',
        headers: { cookie, origin, 'x-namespace': 'default' },
        payload: { payloads: [asJson(encrypted!)] },
      });
    const fromUi = await decode(UI);
    expect(fromUi.statusCode).toBe(200);
    expect(
      defaultPayloadConverter.fromPayload(
        fromJson(fromUi.json<{ payloads: { metadata: Record<string, string>; data: string }[] }>().payloads[0]!),
      ),
    ).toEqual(order);
    const fromElsewhere = await decode('https://evil.example');
    expect(fromElsewhere.statusCode).toBe(403);
    expect(fromElsewhere.json()).toMatchObject({ error: { code: 'CSRF_REJECTED' } });
    expect(fromElsewhere.body).not.toContain('alice-42');
  });

  it('answers 400 with a code for a payload it cannot decrypt or a malformed body', async () => {
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(order)]);
    const foreign = await new AesGcmPayloadCodec(
      parseEncryptionKeys(`other:${randomBytes(32).toString('base64')}`),
    ).encode([defaultPayloadConverter.toPayload(order)]);
    const undecryptable = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: bearer('admin'),
      payload: { payloads: [asJson(foreign[0]!)] },
    });
    expect(undecryptable.statusCode).toBe(400);
    expect(undecryptable.json()).toMatchObject({
      error: { code: 'PAYLOAD_UNDECODABLE', message: expect.stringMatching(/key "other"/) },
    });

    const truncated = { ...asJson(encrypted!), data: Buffer.from(encrypted!.data!).subarray(0, 10).toString('base64') };
    const short = await app.inject({
      method: 'POST',
      url: '/codec/decode',
      headers: bearer('admin'),
      payload: { payloads: [truncated] },
    });
    expect(short.statusCode).toBe(400);
    expect(short.json()).toMatchObject({ error: { code: 'PAYLOAD_UNDECODABLE' } });

    for (const payload of [{ payloads: 'nope' }, { payloads: [{ metadata: { encoding: '!!not base64!!' } }] }, {}]) {
      const malformed = await app.inject({ method: 'POST', url: '/codec/decode', headers: bearer('admin'), payload });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    }
  });
});
