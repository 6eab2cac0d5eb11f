import { defaultPayloadConverter } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
  parseEncryptionKeys,
  payloadCodecFromEnv,
} from './payload-codec';

const key = () => randomBytes(32).toString('base64');
const order = { customerId: 'alice-42', lines: [{ sku: 'MUG', quantity: 2, unitPriceCents: 1_250 }] };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString('utf8');

describe('the AES-256-GCM payload codec', () => {
  it('encrypts a payload so that nothing of it reads in clear, and decrypts it back', async () => {
    const codec = new AesGcmPayloadCodec(parseEncryptionKeys(`k1:${key()}`));
    const payload = defaultPayloadConverter.toPayload(order);

    const [encrypted] = await codec.encode([payload]);
    expect(text(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Buffer.from(encrypted!.data!).includes('alice-42')).toBe(false);
    expect(text(encrypted!.metadata!.encoding)).not.toContain('json');

    const [decrypted] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decrypted!)).toEqual(order);
  });

  it('encrypts with the first key and still decrypts with an older one after rotation', async () => {
    const [oldKey, newKey] = [key(), key()];
    const before = new AesGcmPayloadCodec(parseEncryptionKeys(`2026-06:${oldKey}`));
    const [written] = await before.encode([defaultPayloadConverter.toPayload(order)]);

    const after = new AesGcmPayloadCodec(parseEncryptionKeys(`2026-12:${newKey},2026-06:${oldKey}`));
    expect(defaultPayloadConverter.fromPayload((await after.decode([written!]))[0]!)).toEqual(order);
    const [fresh] = await after.encode([defaultPayloadConverter.toPayload(order)]);
    expect(text(fresh!.metadata![KEY_ID_METADATA])).toBe('2026-12');
  });

  it('refuses a payload under a key it does not hold, altered, or relabelled with another key id', async () => {
    const [a, b] = [key(), key()];
    const codec = new AesGcmPayloadCodec(parseEncryptionKeys(`a:${a},b:${b}`));
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(order)]);

    await expect(new AesGcmPayloadCodec(parseEncryptionKeys(`c:${key()}`)).decode([encrypted!])).rejects.toThrow(
      /key "a", which PAYLOAD_ENCRYPTION_KEYS does not list/,
    );
    const altered = Buffer.from(encrypted!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: altered }])).rejects.toThrow(/does not decrypt/);
    const relabelled = { ...encrypted!, metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('b') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/does not decrypt/);
  });

  it('passes payloads that were never encrypted through decode unchanged', async () => {
    const codec = new AesGcmPayloadCodec(parseEncryptionKeys(`k:${key()}`));
    const clear = defaultPayloadConverter.toPayload(order);
    expect(await codec.decode([clear])).toEqual([clear]);
  });

  it('is off without PAYLOAD_ENCRYPTION_KEYS and names what is wrong with a bad one, never the key', () => {
    expect(payloadCodecFromEnv({})).toBeUndefined();
    expect(payloadCodecFromEnv({ PAYLOAD_ENCRYPTION_KEYS: '  ' })).toBeUndefined();
    expect(() => parseEncryptionKeys('no-colon')).toThrow(/entry 1 must read <key id>:<base64 key>/);
    expect(() => parseEncryptionKeys(`k:${randomBytes(16).toString('base64')}`)).toThrow(/key "k" must be 32 bytes/);
    const secret = key();
    expect(() => parseEncryptionKeys(`k:${secret},k:${secret}`)).toThrow(/lists key id "k" twice/);
    const refusal = (() => {
      try {
        parseEncryptionKeys(`k:${secret}!`);
      } catch (error) {
        return error as Error;
      }
      throw new Error('a malformed key was accepted');
    })();
    expect(refusal.message).toMatch(/key "k"/);
    expect(refusal.message).not.toContain(secret);
  });
});
