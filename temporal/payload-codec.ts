/**
 * Encrypts every payload the workers and clients hand to Temporal (workflow inputs, results,
 * signal and update arguments, memos, failures' details): customer ids, order lines and amounts
 * never reach the server in clear. AES-256-GCM from node:crypto, no library needed.
 *
 * `PAYLOAD_ENCRYPTION_KEYS=2026-12:<base64 32 bytes>,2026-06:<base64 32 bytes>`: the first key
 * encrypts, every listed key decrypts, so a key is rotated by putting the new one first and
 * dropping the old one once no open workflow or retained history needs it. Each payload names
 * its key id, and the id is bound into the ciphertext (GCM's additional data), so a payload
 * relabelled with another id fails to decrypt rather than decrypting under the wrong key.
 * Payloads that are not encrypted pass through decode untouched: histories written before
 * encryption was turned on stay readable.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export class PayloadKeyError extends Error {}

/** Parses `id:base64,id:base64`; throws naming what is wrong (never a key's bytes). */
export function parseEncryptionKeys(raw: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new PayloadKeyError('PAYLOAD_ENCRYPTION_KEYS is set but lists no key');
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? '' : entry.slice(0, colon);
    const material = colon === -1 ? '' : entry.slice(colon + 1);
    if (!KEY_ID.test(id)) {
      throw new PayloadKeyError(
        `PAYLOAD_ENCRYPTION_KEYS entry ${index + 1} must read <key id>:<base64 key>, the id 1-64 of [A-Za-z0-9._-]`,
      );
    }
    const key = Buffer.from(material, 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64').replace(/=+$/, '') !== material.replace(/=+$/, '')) {
      throw new PayloadKeyError(
        `PAYLOAD_ENCRYPTION_KEYS key "${id}" must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`,
      );
    }
    if (keys.some((known) => known.id === id))
      throw new PayloadKeyError(`PAYLOAD_ENCRYPTION_KEYS lists key id "${id}" twice`);
    keys.push({ id, key });
  }
  return keys;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly encrypting: EncryptionKey;
  private readonly byId: Map<string, Buffer>;

  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new PayloadKeyError('an encryption codec needs at least one key');
    this.encrypting = keys[0]!;
    this.byId = new Map(keys.map((key) => [key.id, key.key]));
  }

  /** The id of the key new payloads are encrypted with. */
  get keyId(): string {
    return this.encrypting.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const { id, key } = this.encrypting;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(encoder.encode(id));
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: encoder.encode(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: encoder.encode(id),
          [CIPHER_METADATA]: encoder.encode(CIPHER),
        },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!id) throw new PayloadKeyError('an encrypted payload carries no key id');
      const key = this.byId.get(id);
      if (!key)
        throw new PayloadKeyError(
          `a payload is encrypted with key "${id}", which PAYLOAD_ENCRYPTION_KEYS does not list`,
        );
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES)
        throw new PayloadKeyError(`an encrypted payload (key "${id}") is too short to be one`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(encoder.encode(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadKeyError(
          `a payload encrypted with key "${id}" does not decrypt: the key is not the one it was written with, or the payload was altered`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

function text(bytes: Uint8Array | null | undefined): string | undefined {
  return bytes ? decoder.decode(bytes) : undefined;
}

/** The codec for `PAYLOAD_ENCRYPTION_KEYS`, or undefined when it is not set (encryption off). */
export function payloadCodecFromEnv(
  env: Record<string, string | undefined> = process.env,
): AesGcmPayloadCodec | undefined {
  const raw = env.PAYLOAD_ENCRYPTION_KEYS?.trim();
  if (!raw) return undefined;
  return new AesGcmPayloadCodec(parseEncryptionKeys(raw));
}
