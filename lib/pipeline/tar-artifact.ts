/**
 * A tar stream built in node (tar-stream) written as a proven artifact: the producer fills the pack
 * while writeArtifact compresses, encrypts, hashes and proves it (a tar ends with two zero blocks,
 * even an empty one). Used by MinIO snapshots and configuration backups.
 *
 * A producer failure (a file that changed, a source that went away, classified by `mapError`)
 * destroys the pack and so stops the pipeline; a pipeline failure stops the producer.
 */
import type { Readable } from 'node:stream';
import type * as tar from 'tar-stream';
import type { EncryptionKey } from '../crypto/openpgp';
import { tarEnding, writeArtifact, type ArtifactFacts } from './artifact';
import type { CompressionAlgorithm } from './compress';

export interface TarArtifactOptions {
  target: string;
  compression: { algorithm: CompressionAlgorithm; level: number };
  encryptionKey?: EncryptionKey;
  signal?: AbortSignal;
  /** Bytes written so far (after compression and encryption). */
  onWritten?: (bytes: number) => void;
  /** Turn a producer error into the error to report (default: as is); it also stops the pipeline. */
  mapError?: (error: unknown) => unknown;
  /**
   * When the write fails, report the producer's own failure if it had one (a file that changed
   * explains the pipeline's "premature close"). Off: the pipeline's error, which already is the
   * producer's mapped error when the producer failed first (it destroys the pack with it).
   */
  preferProducerError?: boolean;
}

export async function writeTarArtifact(pack: tar.Pack, produce: () => Promise<void>, options: TarArtifactOptions): Promise<ArtifactFacts> {
  const producing = produce().catch((error: unknown) => {
    const mapped = options.mapError ? options.mapError(error) : error;
    pack.destroy(mapped as Error);
    throw mapped;
  });
  producing.catch(() => undefined);
  let facts: ArtifactFacts;
  try {
    facts = await writeArtifact({
      // tar-stream's streamx Readable is an async iterable, which the pipeline reads like a stream.
      source: { stream: pack as unknown as Readable },
      expect: { what: 'a tar archive', minBytes: 1024, ending: { what: 'a complete tar archive', test: tarEnding } },
      target: options.target,
      compression: options.compression,
      encryptionKey: options.encryptionKey,
      onProgress: (_raw, written) => options.onWritten?.(written),
      signal: options.signal,
    });
  } catch (error) {
    if (!pack.destroyed) pack.destroy();
    const own = await producing.then(() => undefined, (e: unknown) => e);
    throw (options.preferProducerError ? own : undefined) ?? error;
  }
  await producing;
  return facts;
}
