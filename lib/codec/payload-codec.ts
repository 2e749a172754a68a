/**
 * Payload encryption (issue 13): a Temporal PayloadCodec with AES-256-GCM (node:crypto). Every
 * payload (inputs, results, heartbeats, signal and update arguments, memos, failure details and,
 * with the failure converter in ./failure-converter.ts, failure messages) leaves the client or
 * worker as `binary/encrypted`: the whole original Payload message, encrypted, with the key's id in
 * the metadata. Keys rotate: the current key (LIFEBOAT_PAYLOAD_KEY) encodes, every known key
 * (LIFEBOAT_PAYLOAD_KEYS, the old ones) decodes, so old histories stay readable.
 *
 * Format of one encrypted payload (the same as Temporal's encryption sample, so its tools apply):
 *   metadata.encoding = "binary/encrypted", metadata["encryption-key-id"] = key id,
 *   metadata["encryption-cipher"] = "AES256GCM", data = iv (12 bytes) | ciphertext | tag (16 bytes).
 * A payload that is not `binary/encrypted` decodes to itself (histories from before the codec).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KeyUnavailable } from '../errors';
import type { PayloadKeys } from './keys';

export { parsePayloadKey, parsePayloadKeys, type PayloadKeys } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (b: Uint8Array | null | undefined): string => (b ? Buffer.from(b).toString('utf8') : '');

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(private readonly keys: PayloadKeys) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys.current;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(id), [CIPHER_METADATA]: Buffer.from(CIPHER) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (utf8(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const id = utf8(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.keys.all.get(id);
      if (!key) throw new KeyUnavailable(`payload encrypted with key id "${id}", which is neither LIFEBOAT_PAYLOAD_KEY nor in LIFEBOAT_PAYLOAD_KEYS`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new KeyUnavailable(`encrypted payload (key ${id}) is truncated: ${data.length} bytes`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new KeyUnavailable(`payload encrypted with key id "${id}" does not decrypt with that key (changed key or altered payload)`);
      }
      const decoded = temporal.api.common.v1.Payload.decode(plain);
      return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
    });
  }
}
