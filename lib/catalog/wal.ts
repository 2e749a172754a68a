/**
 * The WAL archive as the catalog sees it: the raw files in `$BACKUP_ROOT/wal-archive` and the
 * shipped ones in S3 (`wal-archive/<name>.<zst|gz>[.gpg]` + `.metadata.json`, the metadata object
 * written last, so only it says a file is shipped). One listing of each, for shipping, verification,
 * point-in-time planning, retention and monitoring.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_WAL_SEGMENT_SIZE } from '../pitr/segments';
import type { Store } from '../storage/store';
import { WAL_ARCHIVE_PREFIX } from './layout';
import { WAL_FILE_PATTERN } from './names';

/** A shipped WAL file: its name, the key of its metadata object and when that was written. */
export interface RemoteWalRecord {
  name: string;
  metadataKey: string;
  modified: Date;
}

const REMOTE_WAL_METADATA = /^wal-archive\/([^/]+?)(\.zst|\.gz)(\.gpg)?\.metadata\.json$/;

/** Names of the WAL files in a local archive directory, sorted (a missing directory is empty). */
export async function localWalFiles(archiveDir: string): Promise<string[]> {
  const names = await readdir(archiveDir).catch(() => [] as string[]);
  return names.filter((n) => WAL_FILE_PATTERN.test(n)).sort();
}

/** Every WAL file with a metadata object in `remote`, in listing order (any name, checked by the caller). */
export async function* listRemoteWal(remote: Store): AsyncGenerator<RemoteWalRecord> {
  for await (const info of remote.list(WAL_ARCHIVE_PREFIX)) {
    const m = REMOTE_WAL_METADATA.exec(info.key);
    if (m) yield { name: m[1]!, metadataKey: info.key, modified: info.modified };
  }
}

/** The key of a shipped WAL file's metadata object for one encoding suffix (`.zst.gpg`, `.gz`, ...). */
export function remoteWalMetadataKey(name: string, suffix: string): string {
  return `${WAL_ARCHIVE_PREFIX}${name}${suffix}.metadata.json`;
}

/** The WAL file name of a remote object key (`wal-archive/<name>.<enc>`), or undefined. */
export function walNameOfObjectKey(objectKey: string): string | undefined {
  return /^wal-archive\/([^/.]+(?:\.partial|\.[0-9A-F]{8}\.backup|\.history)?)\./.exec(objectKey)?.[1];
}

/** An archived WAL file as recovery planning sees it: where it is and when it was archived. */
export interface ArchivedWal {
  name: string;
  /** ISO UTC: the local file's mtime, or when the remote metadata object was written. */
  archivedAt: string;
  source: 'local' | 'remote';
}

/**
 * Every archived WAL file: the local archive first, then the files only shipped (metadata in
 * `remote`). `localNames` are the local archive's names, sorted. Without `archiveDir`, only the
 * shipped files (a recovery from the off-site copy only).
 */
export async function listArchivedWal(archiveDir: string | undefined, remote: Store | undefined): Promise<{ files: ArchivedWal[]; localNames: string[] }> {
  const localNames = archiveDir ? await localWalFiles(archiveDir) : [];
  const files: ArchivedWal[] = [];
  for (const name of localNames) {
    const info = await stat(join(archiveDir!, name)).catch(() => undefined);
    if (info) files.push({ name, archivedAt: info.mtime.toISOString(), source: 'local' });
  }
  if (remote) {
    const have = new Set(localNames);
    for await (const record of listRemoteWal(remote)) {
      if (!have.has(record.name) && WAL_FILE_PATTERN.test(record.name)) files.push({ name: record.name, archivedAt: record.modified.toISOString(), source: 'remote' });
    }
  }
  return { files, localNames };
}

/** Segment size of the archive, from any archived segment's file size (16 MiB unless initdb said otherwise). */
export async function archivedSegmentSize(archiveDir: string, names: string[]): Promise<number> {
  const first = names.find((n) => /^[0-9A-F]{24}$/.test(n));
  if (!first) return DEFAULT_WAL_SEGMENT_SIZE;
  const info = await stat(join(archiveDir, first)).catch(() => undefined);
  return info && info.size > 0 && (info.size & (info.size - 1)) === 0 ? info.size : DEFAULT_WAL_SEGMENT_SIZE;
}
