/**
 * Payload keys (LIFEBOAT_PAYLOAD_KEY, LIFEBOAT_PAYLOAD_KEYS): `<id>:<32 bytes in base64>`, parsed
 * without Temporal or crypto imports so the config schema can check them.
 */

/** The keys of the codec: one encodes, all decode. */
export interface PayloadKeys {
  current: { id: string; key: Buffer };
  /** Every key by id, the current one included. */
  all: ReadonlyMap<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One `id:base64` key; throws a message naming what is wrong (used by the config rule and at start). */
export function parsePayloadKey(text: string): { id: string; key: Buffer } {
  const at = text.indexOf(':');
  if (at <= 0) throw new Error('must be <id>:<base64 of 32 bytes>, e.g. k2026:$(openssl rand -base64 32)');
  const id = text.slice(0, at).trim();
  const encoded = text.slice(at + 1).trim();
  if (!KEY_ID.test(id)) throw new Error(`key id "${id}" must be 1-64 letters, digits, ".", "_" or "-"`);
  const key = Buffer.from(encoded, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || key.length !== 32) throw new Error(`key ${id} must be 32 bytes in base64 (got ${key.length} bytes)`);
  return { id, key };
}

/** The current key and the older ones (comma-separated `id:base64`); undefined when no current key is set. */
export function parsePayloadKeys(current: string | undefined, older: readonly string[] = []): PayloadKeys | undefined {
  if (!current) return undefined;
  const primary = parsePayloadKey(current);
  const all = new Map<string, Buffer>([[primary.id, primary.key]]);
  for (const text of older) {
    const k = parsePayloadKey(text);
    const known = all.get(k.id);
    if (known && !known.equals(k.key)) throw new Error(`key id ${k.id} is given twice with different keys`);
    all.set(k.id, k.key);
  }
  return { current: primary, all };
}

