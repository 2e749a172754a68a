/**
 * The backup catalog: what is a backup, where its copies are, and their recorded facts. A backup is
 * an artifact whose `.metadata.json` parses; artifacts without one (interrupted runs) are never
 * listed. The same scan runs over the local BACKUP_ROOT and over S3.
 */
import type { ArtifactMetadata, BaseMetadata } from './metadata';
import { parseMetadata } from './metadata';
import { CONFIG_PREFIX } from './layout';
import { METADATA_SUFFIX } from './names';
import { getBuffer, type ObjectInfo, type Store } from '../storage/store';

/** Where artifacts with metadata live (configuration archives too: ./config.ts lists their unchanged records). */
export const BACKUP_PREFIXES = ['daily/', 'weekly/', 'monthly/', 'base/', CONFIG_PREFIX] as const;

export interface CatalogCopy {
  location: string;
  /** Size of the artifact object itself (undefined when only the metadata is there). */
  size?: number;
  metadata: ArtifactMetadata;
}

export interface CatalogEntry {
  key: string;
  metadata: ArtifactMetadata;
  local?: CatalogCopy;
  remote?: CatalogCopy;
}

/** Every artifact in `store` (under `prefixes`) that has valid metadata. */
export async function scanStore(store: Store, prefixes: readonly string[] = BACKUP_PREFIXES): Promise<CatalogCopy[]> {
  const objects = new Map<string, ObjectInfo>();
  for (const prefix of prefixes) for await (const info of store.list(prefix)) objects.set(info.key, info);
  const copies: CatalogCopy[] = [];
  for (const [key] of objects) {
    if (!key.endsWith(METADATA_SUFFIX)) continue;
    const artifactKey = key.slice(0, -METADATA_SUFFIX.length);
    const metadata = parseMetadata((await getBuffer(store, key)).toString('utf8'));
    if (!metadata || metadata.key !== artifactKey) continue;
    copies.push({ location: store.location, size: objects.get(artifactKey)?.size, metadata });
  }
  return copies;
}

/** Merge local and remote copies by key, newest first. */
export function mergeCopies(local: CatalogCopy[], remote: CatalogCopy[]): CatalogEntry[] {
  const entries = new Map<string, CatalogEntry>();
  for (const copy of local) entries.set(copy.metadata.key, { key: copy.metadata.key, metadata: copy.metadata, local: copy });
  for (const copy of remote) {
    const entry = entries.get(copy.metadata.key);
    if (entry) entry.remote = copy;
    else entries.set(copy.metadata.key, { key: copy.metadata.key, metadata: copy.metadata, remote: copy });
  }
  return [...entries.values()].sort((a, b) => b.metadata.finishedAt.localeCompare(a.metadata.finishedAt));
}

export async function readCatalog(local: Store, remote: Store | undefined): Promise<CatalogEntry[]> {
  const [localCopies, remoteCopies] = await Promise.all([scanStore(local), remote ? scanStore(remote) : Promise.resolve([])]);
  return mergeCopies(localCopies, remoteCopies);
}

/**
 * Base backups with their artifact present in `local` and/or `remote` (metadata without its artifact
 * is not a copy), and which copies each has (local first). Leave a store out to ignore its copies.
 */
export async function readBaseBackups(local: Store | undefined, remote: Store | undefined): Promise<{ bases: BaseMetadata[]; copies: Map<string, ('local' | 'remote')[]> }> {
  const [localCopies, remoteCopies] = await Promise.all([local ? scanStore(local, ['base/']) : Promise.resolve([]), remote ? scanStore(remote, ['base/']) : Promise.resolve([])]);
  const bases = new Map<string, BaseMetadata>();
  const copies = new Map<string, ('local' | 'remote')[]>();
  for (const [where, list] of [['local', localCopies], ['remote', remoteCopies]] as const) {
    for (const copy of list) {
      if (copy.metadata.kind !== 'base') continue;
      if (copy.size === undefined) continue; // metadata without its artifact: not a copy
      if (!bases.has(copy.metadata.key)) bases.set(copy.metadata.key, copy.metadata);
      copies.set(copy.metadata.key, [...(copies.get(copy.metadata.key) ?? []), where]);
    }
  }
  return { bases: [...bases.values()], copies };
}
