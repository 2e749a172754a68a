/**
 * Finding a backup by what an operator types: a key (`daily/x.sql.zst.gpg`), a bare file name, or a
 * path under BACKUP_ROOT. Anything outside BACKUP_ROOT, or without metadata (locally or on S3), is
 * refused before any work starts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { parseMetadata, type ArtifactMetadata } from '../catalog/metadata';
import { BACKUP_PREFIXES, scanStore } from '../catalog/catalog';
import { METADATA_SUFFIX, metadataKey } from '../catalog/names';
import { BackupNotFound, InputInvalid } from '../errors';
import type { FsStore } from '../storage/fs-store';
import { getBuffer, type Store } from '../storage/store';

export interface LocatedBackup {
  key: string;
  metadata: ArtifactMetadata;
  /** The local file exists (not yet checked against its checksum). */
  local: boolean;
  /** A remote copy with metadata exists. */
  remote: boolean;
}

/** Normalise operator input to a key relative to BACKUP_ROOT. */
export function backupKeyFrom(input: string, backupRoot: string): string {
  const text = input.trim().replace(new RegExp(`${METADATA_SUFFIX.replace(/\./g, '\\.')}$`), '');
  if (text === '') throw new InputInvalid('backup', 'is empty', 'name a backup from `lifeboat restore --list`');
  if (isAbsolute(text)) {
    const root = resolve(backupRoot);
    const path = resolve(text);
    if (!path.startsWith(root + sep)) {
      throw new InputInvalid('backup', `${text} is outside BACKUP_ROOT (${root})`, 'give a path under BACKUP_ROOT or a key from `lifeboat restore --list`');
    }
    return relative(root, path).split(sep).join('/');
  }
  const key = text.replace(/^\.\//, '');
  if (key.split('/').includes('..')) throw new InputInvalid('backup', `${text} leaves BACKUP_ROOT`, 'give a key from `lifeboat restore --list`');
  return key;
}

export async function locateBackup(input: string, local: FsStore, remote: Store | undefined): Promise<LocatedBackup> {
  let key = backupKeyFrom(input, local.root);
  // A bare file name: find the key whose last segment it is.
  if (!key.includes('/')) {
    const copies = [...(await scanStore(local)), ...(remote ? await scanStore(remote, BACKUP_PREFIXES).catch(() => []) : [])];
    const match = copies.find((c) => c.metadata.key.split('/').pop() === key);
    if (!match) throw new BackupNotFound(`no backup named ${key}`, 'list backups with `lifeboat restore --list`');
    key = match.metadata.key;
  }
  const localMetadataPath = local.pathOf(metadataKey(key));
  let metadata = existsSync(localMetadataPath) ? parseMetadata(readFileSync(localMetadataPath, 'utf8')) : undefined;
  const localFile = existsSync(local.pathOf(key));
  let remoteHas = false;
  if (remote) {
    const info = await remote.stat(metadataKey(key));
    if (info) {
      remoteHas = true;
      metadata ??= parseMetadata((await getBuffer(remote, metadataKey(key))).toString('utf8'));
    }
  }
  if (!metadata || metadata.key !== key) {
    throw new BackupNotFound(`no backup ${key}: no valid metadata in ${local.location}${remote ? ` or ${remote.location}` : ''}`, 'list backups with `lifeboat restore --list`');
  }
  return { key, metadata, local: localFile && Boolean(existsSync(localMetadataPath)), remote: remoteHas };
}
