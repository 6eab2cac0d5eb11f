/**
 * TEST-ONLY payload encryption for the recorded histories in workflows/histories/. The key is
 * committed on purpose and is no secret: the histories are recorded with encryption on, as a
 * deployment with PAYLOAD_ENCRYPTION_KEYS records them, and the replay tests need the key to
 * decode them. Never use it anywhere else; its id says so in every payload it encrypts, and the
 * production profile refuses to start with it (lib/production.ts).
 */
import type { DataConverter } from '@temporalio/common';
import { AesGcmPayloadCodec, parseEncryptionKeys } from '../temporal/payload-codec';
import { TEST_ONLY_ENCRYPTION_KEY_ID } from '../lib/production';

/** In PAYLOAD_ENCRYPTION_KEYS form. */
export const HISTORY_TEST_ENCRYPTION_KEYS = `${TEST_ONLY_ENCRYPTION_KEY_ID}:X3b5+uDawwYwgbm2BckqL8ThkRclzhavhc5ixu2YfvQ=`;

/** The codec the recorder writes with and the replayer reads with. */
export function historyDataConverter(): DataConverter {
  return { payloadCodecs: [new AesGcmPayloadCodec(parseEncryptionKeys(HISTORY_TEST_ENCRYPTION_KEYS))] };
}
