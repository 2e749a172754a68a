/**
 * Configuration file backups in the catalog (`$BACKUP_ROOT/config/`, and `config/` in S3_BUCKET):
 *  - archives `config_<stamp>.tar.zst[.gpg]` with their `.metadata.json` (kind `config`, in the
 *    artifact catalog like every other backup, see ./catalog.ts);
 *  - "unchanged" records `config_<stamp>.unchanged.json`: a run that found exactly the files of the
 *    newest archive (same manifest digest) and wrote no archive. The record names that archive, so
 *    the run's files are restorable from it; retention keeps an archive while a kept record needs it.
 * The listing every reader shares (CLI, restore, retention, monitoring), newest first.
 */
import { z } from 'zod';
import { BackupNotFound, InputInvalid } from '../errors';
import { getBuffer, type Store } from '../storage/store';
import { mergeCopies, scanStore, type CatalogEntry } from './catalog';
import { CONFIG_FILE_PATTERN, CONFIG_PREFIX, CONFIG_UNCHANGED_PATTERN } from './layout';
import { parseJsonWith, runFacts, type ConfigMetadata } from './metadata';
import { METADATA_SUFFIX } from './names';

export const configUnchangedRecord = z.object({
  format: z.literal('lifeboat/1'),
  kind: z.literal('config-unchanged'),
  /** This record's own key: `config/config_<stamp>.unchanged.json`. */
  key: z.string(),
  stamp: z.string(),
  host: z.string(),
  /** The archive holding exactly these files (its manifest digest is `manifestSha256`). */
  sameAs: z.string(),
  manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
  files: z.number().int().nonnegative(),
  paths: z.array(z.string()),
  warnings: z.array(z.string()),
  ...runFacts,
});
export type ConfigUnchangedRecord = z.infer<typeof configUnchangedRecord>;

export function parseConfigUnchanged(text: string): ConfigUnchangedRecord | undefined {
  return parseJsonWith(configUnchangedRecord, text);
}

/** One configuration backup run as listed: an archive, or an unchanged record pointing at one. */
export type ConfigBackupEntry =
  | { kind: 'archive'; key: string; stamp: string; finishedAt: string; metadata: ConfigMetadata; local: boolean; remote: boolean; localSize?: number; remoteSize?: number }
  | { kind: 'unchanged'; key: string; stamp: string; finishedAt: string; record: ConfigUnchangedRecord; local: boolean; remote: boolean };

/** Unchanged records in a store (valid ones only). */
export async function scanUnchanged(store: Store): Promise<ConfigUnchangedRecord[]> {
  const out: ConfigUnchangedRecord[] = [];
  for await (const info of store.list(CONFIG_PREFIX)) {
    if (!CONFIG_UNCHANGED_PATTERN.test(info.key.slice(CONFIG_PREFIX.length))) continue;
    const record = parseConfigUnchanged((await getBuffer(store, info.key)).toString('utf8'));
    if (record && record.key === info.key) out.push(record);
  }
  return out;
}

/** Archives (with metadata) and unchanged records of the local and remote stores, newest first (either store may be left out). */
export async function listConfigBackups(local: Store | undefined, remote: Store | undefined): Promise<ConfigBackupEntry[]> {
  const [localCopies, remoteCopies, localUnchanged, remoteUnchanged] = await Promise.all([
    local ? scanStore(local, [CONFIG_PREFIX]) : Promise.resolve([]),
    remote ? scanStore(remote, [CONFIG_PREFIX]) : Promise.resolve([]),
    local ? scanUnchanged(local) : Promise.resolve([]),
    remote ? scanUnchanged(remote) : Promise.resolve([]),
  ]);
  const archives = mergeCopies(localCopies, remoteCopies).filter((e): e is CatalogEntry & { metadata: ConfigMetadata } => e.metadata.kind === 'config');
  const entries: ConfigBackupEntry[] = archives.map((e) => ({
    kind: 'archive', key: e.key, stamp: e.metadata.stamp, finishedAt: e.metadata.finishedAt, metadata: e.metadata,
    local: e.local?.size !== undefined, remote: e.remote?.size !== undefined, localSize: e.local?.size, remoteSize: e.remote?.size,
  }));
  const unchanged = new Map<string, ConfigBackupEntry & { kind: 'unchanged' }>();
  for (const [record, where] of [...localUnchanged.map((r) => [r, 'local'] as const), ...remoteUnchanged.map((r) => [r, 'remote'] as const)]) {
    const entry = unchanged.get(record.key) ?? { kind: 'unchanged' as const, key: record.key, stamp: record.stamp, finishedAt: record.finishedAt, record, local: false, remote: false };
    entry[where] = true;
    unchanged.set(record.key, entry);
  }
  return [...entries, ...unchanged.values()].sort((a, b) => b.stamp.localeCompare(a.stamp) || a.key.localeCompare(b.key));
}

/**
 * The archive a backup name stands for: the newest when `backup` is empty; an archive by key, file
 * name or `config/<file>`; an unchanged record (by key or file name) resolves to the archive it names.
 */
export function resolveConfigBackup(entries: readonly ConfigBackupEntry[], backup: string | undefined): { archive: ConfigBackupEntry & { kind: 'archive' }; requested: string } {
  const archives = entries.filter((e): e is ConfigBackupEntry & { kind: 'archive' } => e.kind === 'archive');
  const text = backup?.trim() ?? '';
  if (text === '') {
    const newest = entries[0];
    const archive = newest?.kind === 'unchanged' ? archives.find((a) => a.key === newest.record.sameAs) : archives[0];
    if (!archive) throw new BackupNotFound('there is no configuration backup', 'make one with `lifeboat backup config --wait`');
    return { archive, requested: newest!.key };
  }
  const file = text.replace(/\.metadata\.json$/, '').split('/').pop()!;
  if (!CONFIG_FILE_PATTERN.test(file) && !CONFIG_UNCHANGED_PATTERN.test(file)) {
    throw new InputInvalid('backup', `"${text}" is not a configuration backup name (config_<YYYYMMDD-HHMMSS>.tar.zst[.gpg] or .unchanged.json)`, 'see `lifeboat backups list`');
  }
  const key = `${CONFIG_PREFIX}${file}`;
  const entry = entries.find((e) => e.key === key);
  if (!entry) throw new BackupNotFound(`no configuration backup ${key}`, 'see `lifeboat backups list`');
  const archive = entry.kind === 'archive' ? entry : archives.find((a) => a.key === entry.record.sameAs);
  if (!archive) throw new BackupNotFound(`${key} records the files of ${entry.kind === 'unchanged' ? entry.record.sameAs : key}, which is gone`, 'restore another configuration backup (`lifeboat backups list`)');
  return { archive, requested: key };
}

/** The metadata key of an archive key. */
export function configMetadataKey(key: string): string {
  return `${key}${METADATA_SUFFIX}`;
}
