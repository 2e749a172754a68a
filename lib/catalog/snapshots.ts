/**
 * MinIO snapshots in the catalog: `$MINIO_BACKUP_ROOT/snapshots/<file>` and its off-site copy
 * `s3://$S3_BUCKET/minio-snapshots/<file>`, each with `<file>.metadata.json` written last (a snapshot
 * without valid metadata is not listed). Readers of that metadata, the listing the CLI and `verify`
 * use, and the off-site prefix seen as a store keyed like MINIO_BACKUP_ROOT.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { InputInvalid } from '../errors';
import { parseSnapshotMetadata, type SnapshotMetadata } from '../minio/metadata';
import { localSnapshotKey, parseSnapshotFile, remoteSnapshotKey, SNAPSHOT_METADATA_SUFFIX } from '../minio/names';
import type { FsStore } from '../storage/fs-store';
import { getBuffer, type ObjectInfo, type Store } from '../storage/store';
import { REMOTE_SNAPSHOT_PREFIX, SNAPSHOT_DIR } from './layout';

export interface SnapshotInfo {
  file: string;
  bucket: string;
  stamp: string;
  objects: number;
  bytes: number;
  local: boolean;
  remote: boolean;
}

export type ListedSnapshot = SnapshotInfo & { finishedAt: string; encrypted: boolean };

/** `$MINIO_BACKUP_ROOT/snapshots` as a path. */
export function snapshotDirOf(snapshots: FsStore): string {
  return snapshots.pathOf(SNAPSHOT_DIR);
}

/** The local metadata of snapshot `file` (undefined when missing or invalid). */
export function readLocalSnapshotMetadata(snapshotDir: string, file: string): SnapshotMetadata | undefined {
  const path = join(snapshotDir, `${file}${SNAPSHOT_METADATA_SUFFIX}`);
  return existsSync(path) ? parseSnapshotMetadata(readFileSync(path, 'utf8')) : undefined;
}

/** The off-site copy's metadata of snapshot `file` (undefined when there is no metadata object or it is invalid). */
export async function readRemoteSnapshotMetadata(remote: Store, file: string): Promise<SnapshotMetadata | undefined> {
  const key = `${remoteSnapshotKey(file)}${SNAPSHOT_METADATA_SUFFIX}`;
  return (await remote.stat(key)) ? parseSnapshotMetadata((await getBuffer(remote, key)).toString('utf8')) : undefined;
}

/** The newest local snapshot's metadata of `bucket`, by name (stamp) order. */
export async function newestLocalSnapshotMetadata(snapshotDir: string, bucket: string): Promise<SnapshotMetadata | undefined> {
  const names = (await readdir(snapshotDir).catch(() => [] as string[]))
    .filter((n) => n.endsWith(SNAPSHOT_METADATA_SUFFIX) && parseSnapshotFile(n.slice(0, -SNAPSHOT_METADATA_SUFFIX.length))?.bucket === bucket)
    .sort();
  return names.length > 0 ? readLocalSnapshotMetadata(snapshotDir, names[names.length - 1]!.slice(0, -SNAPSHOT_METADATA_SUFFIX.length)) : undefined;
}

/** The snapshot prefix of S3_BUCKET seen as a Store keyed like MINIO_BACKUP_ROOT (`snapshots/<file>`). */
export function remoteSnapshotStore(remote: Store): Store {
  const toRemote = (key: string): string => remoteSnapshotKey(key.slice(SNAPSHOT_DIR.length + 1));
  return {
    location: `${remote.location}/${REMOTE_SNAPSHOT_PREFIX}`,
    put: (key, body, options) => remote.put(toRemote(key), body, options),
    get: (key) => remote.get(toRemote(key)),
    stat: (key) => remote.stat(toRemote(key)),
    async *list(prefix: string): AsyncIterable<ObjectInfo> {
      for await (const info of remote.list(toRemote(prefix))) yield { ...info, key: localSnapshotKey(info.key.slice(REMOTE_SNAPSHOT_PREFIX.length)) };
    },
    delete: (key) => remote.delete(toRemote(key)),
  };
}

/** Snapshots in MINIO_BACKUP_ROOT/snapshots and under minio-snapshots/ in the off-site store, newest first. */
export async function listSnapshots(stores: { snapshots: FsStore; remote?: Store }): Promise<ListedSnapshot[]> {
  const dir = snapshotDirOf(stores.snapshots);
  const found = new Map<string, ListedSnapshot>();
  const add = (m: SnapshotMetadata, where: 'local' | 'remote'): void => {
    const entry = found.get(m.file) ?? { file: m.file, bucket: m.bucket, stamp: m.stamp, objects: m.objects, bytes: m.bytes, local: false, remote: false, finishedAt: m.finishedAt, encrypted: m.encryption.enabled };
    entry[where] = true;
    found.set(m.file, entry);
  };
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith(SNAPSHOT_METADATA_SUFFIX)) continue;
    const m = parseSnapshotMetadata(readFileSync(join(dir, name), 'utf8'));
    if (m && existsSync(join(dir, m.file))) add(m, 'local');
  }
  if (stores.remote) {
    const { remote } = stores;
    for await (const info of remote.list(REMOTE_SNAPSHOT_PREFIX)) {
      if (!info.key.endsWith(SNAPSHOT_METADATA_SUFFIX)) continue;
      const m = parseSnapshotMetadata((await getBuffer(remote, info.key)).toString('utf8'));
      if (m && basename(info.key) === `${m.file}${SNAPSHOT_METADATA_SUFFIX}`) add(m, 'remote');
    }
  }
  return [...found.values()].sort((a, b) => b.stamp.localeCompare(a.stamp) || a.bucket.localeCompare(b.bucket));
}

/** Accept a file name, `snapshots/<file>`, `minio-snapshots/<file>` or a path under MINIO_BACKUP_ROOT/snapshots; refuse anything else. */
export function snapshotFileOf(snapshot: unknown, snapshotDir: string): string {
  if (typeof snapshot !== 'string' || snapshot.trim() === '') throw new InputInvalid('snapshot', 'name a snapshot (see `lifeboat minio restore --list`)');
  let file = snapshot.trim();
  if (file.startsWith('/')) {
    const path = resolve(file);
    if (!path.startsWith(snapshotDir + sep)) throw new InputInvalid('snapshot', `${file} is not under ${snapshotDir}`, 'name a snapshot file in MINIO_BACKUP_ROOT/snapshots, or just its file name');
    file = path.slice(snapshotDir.length + 1);
  } else if (file.startsWith(REMOTE_SNAPSHOT_PREFIX)) file = file.slice(REMOTE_SNAPSHOT_PREFIX.length);
  else if (file.startsWith(`${SNAPSHOT_DIR}/`)) file = file.slice(SNAPSHOT_DIR.length + 1);
  if (file.endsWith(SNAPSHOT_METADATA_SUFFIX)) file = file.slice(0, -SNAPSHOT_METADATA_SUFFIX.length);
  if (file.includes('/') || !parseSnapshotFile(file)) {
    throw new InputInvalid('snapshot', `"${snapshot}" is not a snapshot name (<bucket>_<YYYYMMDD-HHMMSS>.tar.gz[.gpg])`, 'see `lifeboat minio restore --list`');
  }
  return file;
}
