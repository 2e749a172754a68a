/**
 * The one-pass artifact pipeline: a tool's stdout -> compression -> OpenPGP encryption -> sha256 ->
 * a temporary file beside the target, fsynced and renamed into place. Plaintext only ever exists in
 * pipes and bounded in-memory buffers (about 1 MB per stage), never on disk. On any failure every
 * process is killed and the temporary file removed.
 *
 * With zstd and a freshly spawned producer, zstd reads the producer's pipe directly (compressPipe)
 * and only the compressed bytes flow through node; otherwise node pipes the source into the
 * compression stage.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createEncryptStream, type EncryptionKey } from '../crypto/openpgp';
import { killTool, type ToolProcess } from './child';
import { commitFile, tempPathFor } from './atomic-file';
import { compressPipe, createCompressStage, type CompressionAlgorithm } from './compress';
import { HashCounter } from './hash';

export interface WriteArtifactOptions {
  source: Readable;
  /** The process producing `source`; it must exit 0 for the artifact to count. */
  producer?: ToolProcess;
  target: string;
  compression: { algorithm: CompressionAlgorithm; level: number };
  /** Encrypt to this key; undefined writes compressed plaintext (ENCRYPT_BACKUPS=false). */
  encryptionKey?: EncryptionKey;
  /** Called as data flows (bytes read from the source, bytes written). */
  onProgress?: (rawBytes: number, writtenBytes: number) => void;
  /** Aborting (activity cancelled) stops the pipeline, kills the tools and removes the temp file. */
  signal?: AbortSignal;
}

export interface ArtifactFacts {
  sha256: string;
  bytes: number;
  rawBytes: number;
}

export async function writeArtifact(options: WriteArtifactOptions): Promise<ArtifactFacts> {
  // Synchronously, before anything awaits: node must not have read from the producer's pipe.
  const direct = compressPipe(options.source, options.compression.algorithm, options.compression.level);
  const compress = direct ? undefined : createCompressStage(options.compression.algorithm, options.compression.level);
  const compressTool = direct?.tool ?? compress?.tool;
  let counted = 0;
  const rawBytes = (): number => (direct ? direct.rawBytes() : counted);
  const out = new HashCounter((written) => options.onProgress?.(rawBytes(), written));
  const temp = tempPathFor(options.target);
  try {
    await mkdir(dirname(options.target), { recursive: true });
    const stages: (NodeJS.ReadableStream | NodeJS.WritableStream | NodeJS.ReadWriteStream)[] = [];
    if (compress) {
      const rawCounter = new PassThrough({ highWaterMark: 1 << 20 });
      rawCounter.on('data', (chunk: Buffer) => {
        counted += chunk.length;
      });
      stages.push(options.source, rawCounter, compress.stream);
    } else {
      stages.push(direct!.output);
    }
    if (options.encryptionKey) stages.push(await createEncryptStream(options.encryptionKey));
    stages.push(out);
    await Promise.all([
      pipeline([...stages, createWriteStream(temp, { mode: 0o640 })], { signal: options.signal }),
      options.producer?.done,
      compressTool?.done,
    ]);
    commitFile(temp, options.target);
    return { sha256: out.digest(), bytes: out.bytes, rawBytes: rawBytes() };
  } catch (error) {
    killTool(options.producer);
    killTool(compressTool);
    await rm(temp, { force: true });
    throw error;
  }
}
