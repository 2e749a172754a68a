/**
 * In-memory encode/decode for small artifacts (WAL segments, at most a few tens of MB): the same
 * compression and OpenPGP stages as the file pipeline, collected into a Buffer.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PrivateKey } from 'openpgp';
import { createDecryptStream, createEncryptStream, type EncryptionKey } from '../crypto/openpgp';
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

export async function encodeBuffer(raw: Buffer, compression: { algorithm: 'zstd' | 'gzip'; level: number }, key: EncryptionKey | undefined): Promise<Buffer> {
  const compress = createCompressStage(compression.algorithm, compression.level);
  const stages: NodeJS.ReadWriteStream[] = [compress.stream];
  if (key) stages.push(await createEncryptStream(key));
  return collect([Readable.from([raw]), ...stages], [compress.tool?.done]);
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
