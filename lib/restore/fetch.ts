/**
 * A verified local copy of a backup before anything reads it: the local file when its sha256 matches
 * the metadata, else a download from S3 into `$BACKUP_ROOT/.restore-cache/` (hashed while it streams,
 * renamed into place only when it matches). The copy stays encrypted on disk.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactMetadata } from '../catalog/metadata';
import { BackupNotFound, ChecksumMismatch } from '../errors';
import { commitFile, tempPathFor } from '../pipeline/atomic-file';
import type { Store } from '../storage/store';

export const RESTORE_CACHE = '.restore-cache';

/** Which copy a restore reads: only the local one, only the off-site one, or local first then off-site (the default). */
export type CopySource = 'local' | 'remote' | 'auto';

export async function sha256OfFile(path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onBytes?.(bytes);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export async function sha256OfStream(stream: NodeJS.ReadableStream, onBytes?: (n: number) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    onBytes?.(bytes);
  }
  return { sha256: hash.digest('hex'), bytes };
}

export function describeMismatch(where: string, metadata: ArtifactMetadata, actual: { sha256: string; bytes: number }): string {
  if (actual.bytes !== metadata.bytes) return `${where}: ${actual.bytes} bytes, metadata says ${metadata.bytes} (truncated or extended)`;
  return `${where}: sha256 ${actual.sha256.slice(0, 16)}... does not match the metadata's ${metadata.sha256.slice(0, 16)}...`;
}

export interface LocalCopy {
  /** Absolute path of the verified, still encrypted file. */
  path: string;
  source: 'local' | 'remote';
  /** With source 'remote': why the local copy was not used, when there was one. */
  localProblem?: string;
}

/**
 * Return a local file whose sha256 equals the metadata's. Tries the local copy, then the remote one;
 * a local copy that does not match is reported (and left alone) when the remote one is used.
 */
export async function ensureLocalCopy(
  backupRoot: string,
  metadata: ArtifactMetadata,
  remote: Store | undefined,
  onBytes?: (n: number, total: number) => void,
  source: CopySource = 'auto',
): Promise<LocalCopy> {
  const localPath = join(backupRoot, metadata.key);
  let localProblem: string | undefined;
  if (source === 'local') {
    // Only the local copy: missing or damaged is the answer, no download.
    if (!existsSync(localPath)) throw new BackupNotFound(`${metadata.key} has no local file in ${backupRoot} (source: local)`, 'restore with source remote or auto to use the off-site copy');
    const actual = await sha256OfFile(localPath, (n) => onBytes?.(n, metadata.bytes));
    if (actual.sha256 === metadata.sha256 && actual.bytes === metadata.bytes) return { path: localPath, source: 'local' };
    throw new ChecksumMismatch(describeMismatch(`local copy ${localPath}`, metadata, actual), 'restore with source remote or auto to use the off-site copy');
  }
  if (source === 'remote' && !remote) throw new BackupNotFound(`${metadata.key}: source remote asked for, but no off-site store is configured (REMOTE_STORAGE)`);
  if (source === 'auto' && existsSync(localPath)) {
    const actual = await sha256OfFile(localPath, (n) => onBytes?.(n, metadata.bytes));
    if (actual.sha256 === metadata.sha256 && actual.bytes === metadata.bytes) return { path: localPath, source: 'local' };
    localProblem = describeMismatch(`local copy ${localPath}`, metadata, actual);
  }
  if (!remote || !(await remote.stat(metadata.key))) {
    if (localProblem) throw new ChecksumMismatch(localProblem, 'the local copy is damaged and there is no remote copy to fall back to');
    throw new BackupNotFound(`${metadata.key} has no local file and no remote copy`);
  }
  const cached = join(backupRoot, RESTORE_CACHE, metadata.key);
  await mkdir(dirname(cached), { recursive: true });
  if (existsSync(cached)) {
    const actual = await sha256OfFile(cached);
    if (actual.sha256 === metadata.sha256) return { path: cached, source: 'remote', ...(localProblem ? { localProblem } : {}) };
  }
  const temp = tempPathFor(cached);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    await pipeline(
      await remote.get(metadata.key),
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          bytes += chunk.length;
          onBytes?.(bytes, metadata.bytes);
          cb(null, chunk);
        },
      }),
      createWriteStream(temp, { mode: 0o600 }),
    );
    const actual = { sha256: hash.digest('hex'), bytes };
    if (actual.sha256 !== metadata.sha256 || actual.bytes !== metadata.bytes) {
      throw new ChecksumMismatch(describeMismatch(`remote copy ${remote.location}/${metadata.key}`, metadata, actual) + (localProblem ? `; and ${localProblem}` : ''));
    }
    commitFile(temp, cached);
    return { path: cached, source: 'remote', ...(localProblem ? { localProblem } : {}) };
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
