/**
 * The configuration archive: one tar stream of the collected files (./collect.ts), every entry
 * under `config_<stamp>/` with its path on the host below it (`config_<stamp>/etc/postgresql/...`),
 * owner, mode and mtime kept, through the artifact pipeline (compression -> OpenPGP -> sha256 ->
 * temporary file, proven and renamed). By hand: `gpg -d F | zstd -d | tar -x` gives
 * `config_<stamp>/etc/...`.
 *
 * Each file is read a second time while it is archived and must hash as it did when collected, so
 * the manifest describes the archive exactly; a file changed in between fails the write
 * (ArtifactIncomplete, retried).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import * as tar from 'tar-stream';
import type { ConfigManifestEntry } from '../catalog/metadata';
import type { EncryptionKey } from '../crypto/openpgp';
import { ArtifactIncomplete } from '../errors';
import type { ArtifactFacts } from '../pipeline/artifact';
import { writeTarArtifact } from '../pipeline/tar-artifact';
import type { CompressionAlgorithm } from '../pipeline/compress';

/** The directory every entry of the archive of `stamp` lives under. */
export function configArchiveRoot(stamp: string): string {
  return `config_${stamp}`;
}

/** The archive entry name of a host path. */
export function configEntryName(root: string, path: string): string {
  return `${root}${path}`;
}

export interface WriteConfigArchiveOptions {
  entries: readonly ConfigManifestEntry[];
  root: string;
  target: string;
  compression: { algorithm: CompressionAlgorithm; level: number };
  encryptionKey?: EncryptionKey;
  onProgress?: (entries: number, writtenBytes: number) => void;
  signal?: AbortSignal;
}

const changed = (path: string, how: string): ArtifactIncomplete =>
  new ArtifactIncomplete(`${path} changed while it was archived (${how}); nothing was recorded`, 'retried; a file rewritten all the time does not belong in CONFIG_BACKUP_PATHS');

/** Stream `entries` into the archive at `target`; every file must still be what the manifest says. */
export async function writeConfigArchive(options: WriteConfigArchiveOptions): Promise<ArtifactFacts> {
  const pack = tar.pack();
  let done = 0;
  let written = 0;
  const produce = async (): Promise<void> => {
    for (const e of options.entries) {
      options.signal?.throwIfAborted();
      const common = { name: configEntryName(options.root, e.path), mode: e.mode, uid: e.uid, gid: e.gid, uname: e.owner, gname: e.group, mtime: new Date(e.mtime) };
      if (e.type === 'directory') {
        await entry(pack, { ...common, type: 'directory', size: 0 });
      } else if (e.type === 'symlink') {
        const now = await readlink(e.path).catch(() => undefined);
        if (now !== e.linkTarget) throw changed(e.path, 'its link target');
        await entry(pack, { ...common, type: 'symlink', size: 0, linkname: e.linkTarget });
      } else {
        const hash = createHash('sha256');
        let size = 0;
        const sink = pack.entry({ ...common, type: 'file', size: e.size });
        await new Promise<void>((resolve, reject) => {
          const file = createReadStream(e.path, { highWaterMark: 1 << 20 });
          file.on('data', (chunk) => {
            hash.update(chunk as Buffer);
            size += (chunk as Buffer).length;
          });
          file.once('error', reject);
          // tar-stream refuses more or fewer bytes than the header announced.
          sink.once('error', (error: Error) => reject(size !== e.size ? changed(e.path, `${size} bytes now, ${e.size} when collected`) : error));
          sink.once('finish', resolve);
          file.pipe(sink as unknown as NodeJS.WritableStream);
        });
        if (size !== e.size || hash.digest('hex') !== e.sha256) throw changed(e.path, 'its content');
      }
      options.onProgress?.(++done, written);
    }
    pack.finalize();
  };
  return writeTarArtifact(pack, produce, {
    target: options.target,
    compression: options.compression,
    encryptionKey: options.encryptionKey,
    onWritten: (bytes) => {
      written = bytes;
    },
    signal: options.signal,
    // The producer's own failure (a file that changed) explains the pipeline's.
    preferProducerError: true,
  });
}

function entry(pack: tar.Pack, header: Partial<tar.Header> & { name: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (error) => (error ? reject(error) : resolve()));
  });
}
