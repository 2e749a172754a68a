/** lib/codec/: the AES-256-GCM payload codec, key rotation, and the settings' checks. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { AesGcmPayloadCodec, parsePayloadKey, parsePayloadKeys } from '../../lib/codec/payload-codec';
import { KeyUnavailable } from '../../lib/errors';

const testRawEnv = (extra: Record<string, string> = {}): Record<string, string> => ({ DB_HOST: 'localhost', GPG_RECIPIENT: 'backup@corporate-intel.local', ...extra });
const key = (id: string, fill: number): string => `${id}:${Buffer.alloc(32, fill).toString('base64')}`;
const payload = (value: unknown) => ({ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(value)) });
const text = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('payload codec (AES-256-GCM)', () => {
  const secret = { database: 'corporate_intel', approvedBy: 'Alice' };

  it('round-trips a payload; the encoded form holds neither the value nor its encoding, and names the key id', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(key('k2026', 1))!);
    const [encoded] = await codec.encode([payload(secret)]);
    expect(text(encoded!.metadata!.encoding)).toBe('binary/encrypted');
    expect(text(encoded!.metadata!['encryption-key-id'])).toBe('k2026');
    expect(Buffer.from(encoded!.data!).includes('corporate_intel')).toBe(false);
    const [decoded] = await codec.decode([encoded!]);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(JSON.parse(text(decoded!.data))).toEqual(secret);
    // A fresh IV each time: the same value never encrypts to the same bytes.
    const [again] = await codec.encode([payload(secret)]);
    expect(Buffer.from(again!.data!).equals(Buffer.from(encoded!.data!))).toBe(false);
  });

  it('rotates: the new key encodes, the old id still decodes; an unknown id or an altered byte fails with KeyUnavailable', async () => {
    const old = new AesGcmPayloadCodec(parsePayloadKeys(key('k2025', 2))!);
    const [fromOld] = await old.encode([payload(secret)]);
    const rotated = new AesGcmPayloadCodec(parsePayloadKeys(key('k2026', 3), [key('k2025', 2)])!);
    const [fromNew] = await rotated.encode([payload(secret)]);
    expect(text(fromNew!.metadata!['encryption-key-id'])).toBe('k2026');
    expect(JSON.parse(text((await rotated.decode([fromOld!]))[0]!.data))).toEqual(secret);
    await expect(new AesGcmPayloadCodec(parsePayloadKeys(key('k2026', 3))!).decode([fromOld!])).rejects.toThrow(KeyUnavailable);
    const flipped = Buffer.from(fromNew!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(rotated.decode([{ ...fromNew!, data: flipped }])).rejects.toThrow(/does not decrypt/);
  });

  it('leaves payloads that are not encrypted as they are (histories from before the codec)', async () => {
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(key('k1', 4))!);
    const plain = payload(secret);
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('parses keys strictly', () => {
    expect(parsePayloadKey(key('a.b-c_1', 5)).key).toHaveLength(32);
    expect(() => parsePayloadKey('nokey')).toThrow(/<id>:<base64/);
    expect(() => parsePayloadKey(`k1:${Buffer.alloc(16).toString('base64')}`)).toThrow(/32 bytes in base64 \(got 16 bytes\)/);
    expect(() => parsePayloadKey(`bad id:${Buffer.alloc(32).toString('base64')}`)).toThrow(/key id "bad id"/);
    expect(() => parsePayloadKeys(key('k1', 1), [key('k1', 2)])).toThrow(/given twice/);
    expect(parsePayloadKeys(undefined)).toBeUndefined();
  });

  it('config: names the setting of a bad key, keeps the keys secret, and is off by default', () => {
    const off = parseConfig(testRawEnv());
    expect(off.config?.payloadEncryption).toEqual({ key: undefined, oldKeys: [], codecServerToken: undefined });
    const bad = parseConfig(testRawEnv({ LIFEBOAT_PAYLOAD_KEY: 'k1:short' }));
    expect(bad.problems.map((p) => p.env)).toEqual(['LIFEBOAT_PAYLOAD_KEY']);
    const orphan = parseConfig(testRawEnv({ LIFEBOAT_PAYLOAD_KEYS: key('old', 1) }));
    expect(orphan.problems.map((p) => [p.env, p.message])).toEqual([['LIFEBOAT_PAYLOAD_KEY', expect.stringMatching(/required when LIFEBOAT_PAYLOAD_KEYS/)]]);
    const on = parseConfig(testRawEnv({ LIFEBOAT_PAYLOAD_KEY: key('k2', 1), LIFEBOAT_PAYLOAD_KEYS: `${key('k1', 2)},${key('k0', 3)}`, LIFEBOAT_CODEC_TOKEN: 'token-123456' }));
    expect(on.problems).toEqual([]);
    expect(on.config!.payloadEncryption.oldKeys).toHaveLength(2);
    expect(on.config!.secretValues).toEqual(expect.arrayContaining([key('k2', 1), key('k1', 2), key('k0', 3), 'token-123456']));
  });
});
