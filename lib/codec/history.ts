/**
 * Decoding an exported or fetched history (the JSON of `temporal workflow show -o json`) with the
 * payload codec, for `audit show` and `audit replay`: every `binary/encrypted` payload anywhere in
 * the events is replaced by the payload it encrypts; anything else is left as it is. A copy is
 * returned; the input is not changed.
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ENCRYPTED_ENCODING } from './payload-codec';

interface JsonPayload {
  metadata: Record<string, string>;
  data?: string;
}

const ENCRYPTED_B64 = Buffer.from(ENCRYPTED_ENCODING).toString('base64');

function isEncryptedPayload(value: unknown): value is JsonPayload {
  const metadata = (value as { metadata?: Record<string, unknown> } | null)?.metadata;
  return typeof value === 'object' && value !== null && typeof metadata === 'object' && metadata !== null && metadata.encoding === ENCRYPTED_B64;
}

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** Does the history hold any encrypted payload (so a key is needed to read it)? */
export function hasEncryptedPayloads(json: unknown): boolean {
  return JSON.stringify(json).includes(`"encoding":"${ENCRYPTED_B64}"`);
}

/** A copy of the history JSON with every encrypted payload decoded by `codec`. */
export async function decodeHistoryJson(json: unknown, codec: PayloadCodec): Promise<unknown> {
  const walk = async (value: unknown): Promise<unknown> => {
    if (Array.isArray(value)) return Promise.all(value.map(walk));
    if (typeof value !== 'object' || value === null) return value;
    if (isEncryptedPayload(value)) {
      const [decoded] = await codec.decode([toPayload(value)]);
      return toJson(decoded!);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await walk(v);
    return out;
  };
  return walk(json);
}
