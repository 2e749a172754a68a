/**
 * What retention plans over: every backup, WAL file and MinIO snapshot in one location (local disk
 * or S3), with the facts the planner needs, and how to delete each one. Deleting removes the
 * metadata first, so an interrupted prune leaves at worst an artifact without metadata (which is not
 * a backup and is swept later), never a backup whose file is gone.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BACKUP_PREFIXES, scanStore } from '../catalog/catalog';
import { scanUnchanged } from '../catalog/config';
import { SNAPSHOT_FILE_PATTERN, WAL_ARCHIVE_PREFIX } from '../catalog/layout';
import { METADATA_SUFFIX, parseStamp } from '../catalog/names';
import { readStoredVerification, VERIFICATION_SUFFIX, verificationKey } from '../catalog/verification';
import { localWalFiles, walNameOfObjectKey } from '../catalog/wal';
import type { Store } from '../storage/store';
import type { InventoryItem } from './plan';

export interface LocatedItem extends InventoryItem {
  /** The store the keys below belong to. */
  store: 'backups' | 'snapshots';
  /** Every key to delete, metadata first. */
  keys: string[];
}

function stampOf(key: string): string | undefined {
  return /_(\d{8}-\d{6})\./.exec(key)?.[1] ?? /^base\/(\d{8}-\d{6})\//.exec(key)?.[1];
}

async function verificationOk(store: Store, key: string): Promise<boolean | undefined> {
  return (await readStoredVerification(store, key))?.ok;
}

/** Backups (with metadata), orphans and WAL in a backup store (BACKUP_ROOT or the S3 bucket). */
export async function backupInventory(store: Store, options: { localWalDir?: string } = {}): Promise<LocatedItem[]> {
  const items: LocatedItem[] = [];
  const withMetadata = new Set<string>();
  for (const copy of await scanStore(store)) {
    const m = copy.metadata;
    withMetadata.add(m.key);
    const keys = [`${m.key}${METADATA_SUFFIX}`, m.key, verificationKey(m.key)];
    const good = await verificationOk(store, m.key);
    if (m.kind === 'logical' || m.kind === 'globals') items.push({ store: 'backups', keys, key: m.key, kind: m.kind, tier: m.tier, stamp: stampOf(m.key), finishedAt: m.finishedAt, good });
    else if (m.kind === 'base') items.push({ store: 'backups', keys, key: m.key, kind: 'base', startWal: m.startWal, finishedAt: m.finishedAt, good });
    else if (m.kind === 'config') items.push({ store: 'backups', keys, key: m.key, kind: 'config', stamp: m.stamp, finishedAt: m.finishedAt, good });
  }
  // Configuration runs that found nothing changed: a record, no archive of their own.
  for (const record of await scanUnchanged(store)) {
    withMetadata.add(record.key);
    items.push({ store: 'backups', keys: [record.key], key: record.key, kind: 'config-unchanged', stamp: record.stamp, sameAs: record.sameAs, finishedAt: record.finishedAt });
  }
  // Artifacts without metadata (not backups): candidates for the orphan sweep.
  for (const prefix of BACKUP_PREFIXES) {
    for await (const info of store.list(prefix)) {
      if (info.key.endsWith(METADATA_SUFFIX) || info.key.endsWith(VERIFICATION_SUFFIX) || withMetadata.has(info.key)) continue;
      items.push({ store: 'backups', keys: [info.key], key: info.key, kind: 'orphan', finishedAt: info.modified.toISOString() });
    }
  }
  // WAL: the local archive directory, or the remote `wal-archive/` objects (metadata decides).
  if (options.localWalDir) {
    for (const name of await localWalFiles(options.localWalDir)) {
      const info = await stat(join(options.localWalDir, name)).catch(() => undefined);
      if (info) items.push({ store: 'backups', keys: [`${WAL_ARCHIVE_PREFIX}${name}`], key: `${WAL_ARCHIVE_PREFIX}${name}`, kind: 'wal', segment: name, finishedAt: info.mtime.toISOString() });
    }
  } else {
    const objects = new Map<string, Date>();
    for await (const info of store.list(WAL_ARCHIVE_PREFIX)) objects.set(info.key, info.modified);
    for (const [key, modified] of objects) {
      if (!key.endsWith(METADATA_SUFFIX)) continue;
      const objectKey = key.slice(0, -METADATA_SUFFIX.length);
      const segment = walNameOfObjectKey(objectKey);
      if (segment) items.push({ store: 'backups', keys: [key, objectKey], key: objectKey, kind: 'wal', segment, finishedAt: modified.toISOString() });
    }
  }
  return items;
}

/** MinIO snapshots `<bucket>_<stamp>.tar.gz[.gpg]` under `prefix` of a store. */
export async function snapshotInventory(store: Store, prefix: string): Promise<LocatedItem[]> {
  const items: LocatedItem[] = [];
  for await (const info of store.list(prefix)) {
    if (!info.key.endsWith(METADATA_SUFFIX)) continue;
    const key = info.key.slice(0, -METADATA_SUFFIX.length);
    const match = SNAPSHOT_FILE_PATTERN.exec(key.slice(prefix.length));
    const finished = match ? parseStamp(match[2]!) : undefined;
    if (!match || !finished) continue;
    items.push({ store: 'snapshots', keys: [info.key, key], key, kind: 'snapshot', group: match[1], finishedAt: finished.toISOString() });
  }
  return items;
}
