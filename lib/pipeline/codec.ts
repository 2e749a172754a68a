/**
 * In-memory encode/decode for small artifacts (WAL segments, at most a few tens of MB): the same
 * compression and OpenPGP stages as the file pipeline, collected into a Buffer. What is encoded is
 * decoded back and compared before it is returned.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PrivateKey } from 'openpgp';
import { createDecryptStream, createEncryptStreamWithSessionKey, type EncryptionKey } from '../crypto/openpgp';
import { ArtifactIncomplete } from '../errors';
import type { Encoding } from '../catalog/names';
import { createCompressStage, createDecompressStage } from './compress';

async function collect(streams: (NodeJS.ReadableStream | NodeJS.ReadWriteStream)[], waitFor: (Promise<void> | undefined)[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await Promise.all([pipeline([...streams, sink]), ...waitFor]);
  return Buffer.concat(chunks);
}

/**
 * Compress and encrypt a buffer, proven: the result is decoded back (with the message's own
 * session key, so no private key is needed) and must equal `raw`, or ArtifactIncomplete is thrown.
 * Costs one decompression of a buffer that is at most a WAL segment.
 */
export async function encodeBuffer(raw: Buffer, compression: { algorithm: 'zstd' | 'gzip'; level: number }, key: EncryptionKey | undefined): Promise<Buffer> {
  const compress = createCompressStage(compression.algorithm, compression.level);
  const encryption = key ? await createEncryptStreamWithSessionKey(key) : undefined;
  const encoded = await collect([Readable.from([raw]), compress.stream, ...(encryption ? [encryption.stream] : [])], [compress.tool?.done]);
  const decompress = createDecompressStage(compression.algorithm);
  const decoded = await collect(
    [Readable.from([encoded]), ...(encryption ? [createDecryptStream({ sessionKey: encryption.sessionKey })] : []), decompress.stream],
    [decompress.tool?.done],
  ).catch((error: unknown) => {
    throw new ArtifactIncomplete(`the encoded buffer does not decode: ${(error as Error).message}`, 'retried; if it persists, check the zstd installation and memory');
  });
  if (!decoded.equals(raw)) throw new ArtifactIncomplete(`the encoded buffer decodes to ${decoded.length} bytes that differ from the ${raw.length} raw bytes`, 'retried; if it persists, check the zstd installation and memory');
  return encoded;
}

/** Decode a stream (decrypt, decompress) into a writable; resolves when everything is written. */
export async function decodeStream(source: NodeJS.ReadableStream, encoding: Encoding, privateKeys: PrivateKey[] | undefined, sink: NodeJS.WritableStream): Promise<void> {
  const decompress = createDecompressStage(encoding.compression);
  const stages: NodeJS.ReadWriteStream[] = [];
  if (encoding.encrypted) {
    if (!privateKeys) throw new Error('encrypted artifact but no private key loaded');
    stages.push(createDecryptStream(privateKeys));
  }
  stages.push(decompress.stream);
  await Promise.all([pipeline([source, ...stages, sink]), decompress.tool?.done]);
}

export async function decodeBuffer(data: Buffer, encoding: Encoding, privateKeys: PrivateKey[] | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await decodeStream(Readable.from([data]), encoding, privateKeys, new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } }));
  return Buffer.concat(chunks);
}
