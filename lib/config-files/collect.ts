/**
 * What a configuration backup holds: CONFIG_BACKUP_PATHS walked on this host (directories with
 * everything below them, CONFIG_BACKUP_EXCLUDE left out), each file read once to hash it. The result
 * is the manifest (path, type, size, mode, owner, mtime, sha256 or link target per entry), in the
 * order the archive stores it (a directory before what it holds), and the warnings of the walk.
 *
 * Contracts:
 *  - a configured path that does not exist is a warning, never a silent omission;
 *  - a file that cannot be read, and anything that is not a regular file, directory or symbolic link
 *    (FIFO, socket, device: reading them blocks or means nothing), fails with InputInvalid naming it;
 *  - symbolic links are archived as links, never followed (a configured path that is a link says so
 *    in a warning); a link with an absolute target, or pointing outside the archived files, cannot
 *    be restored into a new directory (it would point out of it), and is warned about here;
 *  - contents never leave this module: only their sha256 and size.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, type Stats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { dirname, posix, resolve } from 'node:path';
import type { ConfigManifestEntry } from '../catalog/metadata';
import { InputInvalid } from '../errors';
import { excludeMatcher } from './exclude';

export interface ConfigSet {
  entries: ConfigManifestEntry[];
  warnings: string[];
}

const FIX_UNREADABLE = 'make the file readable by the worker\'s user, or leave it out with CONFIG_BACKUP_EXCLUDE';

/** Names of user and group ids from /etc/passwd and /etc/group (best effort: ids without a name get none). */
function idNames(file: string): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
    }
  } catch {
    // no names: ids only
  }
  return names;
}

function kindOf(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file, directory or symbolic link';
}

/** sha256 and size of a file, read through a descriptor opened first (so EACCES names this file). */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new InputInvalid('CONFIG_BACKUP_PATHS', `cannot read ${path} (${code}): the configuration backup needs every file it covers`, FIX_UNREADABLE);
  }
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream('', { fd: handle.fd, autoClose: false, highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    throw new InputInvalid('CONFIG_BACKUP_PATHS', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, FIX_UNREADABLE);
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}

/** Where a relative link from `path` points, as an absolute path (lexically, clamped at `/`). */
export function linkDestination(path: string, target: string): string {
  return posix.resolve(posix.dirname(path), target);
}

/** Walk the configured paths; see the module comment for what fails and what warns. */
export async function collectConfigSet(paths: readonly string[], exclude: readonly string[], signal?: AbortSignal): Promise<ConfigSet> {
  const excluded = excludeMatcher(exclude);
  const users = idNames('/etc/passwd');
  const groups = idNames('/etc/group');
  const entries = new Map<string, ConfigManifestEntry>();
  const warnings: string[] = [];
  const roots = [...new Set(paths.map((p) => resolve(p)))];

  const base = (path: string, info: Stats): Omit<ConfigManifestEntry, 'type' | 'size'> => ({
    path,
    mode: info.mode & 0o7777,
    uid: info.uid,
    gid: info.gid,
    ...(users.has(info.uid) ? { owner: users.get(info.uid)! } : {}),
    ...(groups.has(info.gid) ? { group: groups.get(info.gid)! } : {}),
    mtime: info.mtime.toISOString(),
  });

  const visit = async (path: string, info: Stats): Promise<void> => {
    signal?.throwIfAborted();
    if (entries.has(path)) return;
    if (info.isDirectory()) {
      entries.set(path, { ...base(path, info), type: 'directory', size: 0 });
      let names: string[];
      try {
        names = (await readdir(path)).sort();
      } catch (error) {
        throw new InputInvalid('CONFIG_BACKUP_PATHS', `cannot list directory ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, FIX_UNREADABLE);
      }
      for (const name of names) {
        const child = `${path === '/' ? '' : path}/${name}`;
        if (excluded(child)) continue;
        const childInfo = await lstat(child).catch(() => undefined);
        if (childInfo) await visit(child, childInfo); // gone since the listing: not part of this backup
      }
    } else if (info.isFile()) {
      const { sha256, size } = await hashFile(path);
      entries.set(path, { ...base(path, info), type: 'file', size, sha256 });
    } else if (info.isSymbolicLink()) {
      const linkTarget = await readlink(path);
      entries.set(path, { ...base(path, info), type: 'symlink', size: 0, linkTarget });
    } else {
      throw new InputInvalid('CONFIG_BACKUP_PATHS', `${path} is ${kindOf(info)}: configuration backups hold regular files, directories and symbolic links only`, 'leave it out with CONFIG_BACKUP_EXCLUDE, or name the files around it in CONFIG_BACKUP_PATHS');
    }
  };

  for (const root of roots) {
    if (excluded(root)) {
      warnings.push(`${root} is in CONFIG_BACKUP_PATHS but CONFIG_BACKUP_EXCLUDE leaves it out: not backed up`);
      continue;
    }
    let info: Stats;
    try {
      info = await lstat(root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        warnings.push(`${root} (CONFIG_BACKUP_PATHS) does not exist: not backed up`);
        continue;
      }
      throw new InputInvalid('CONFIG_BACKUP_PATHS', `cannot read ${root} (${code ?? 'error'})`, FIX_UNREADABLE);
    }
    if (info.isSymbolicLink()) warnings.push(`${root} (CONFIG_BACKUP_PATHS) is a symbolic link to ${await readlink(root)}: the link is backed up, not what it points to; name the target in CONFIG_BACKUP_PATHS to back it up`);
    await visit(root, info);
  }

  // Links whose destination is outside what is archived cannot be restored into a new directory.
  const archivedDirs = [...entries.values()].filter((e) => e.type === 'directory').map((e) => e.path);
  const inside = (p: string): boolean => entries.has(p) || archivedDirs.some((d) => p.startsWith(`${d}/`));
  // One warning for all of them (a tree like /etc has hundreds), with examples.
  const outward = [...entries.values()].filter((e) => e.type === 'symlink' && (e.linkTarget!.startsWith('/') || !inside(linkDestination(e.path, e.linkTarget!))));
  if (outward.length > 0) {
    const examples = outward.slice(0, 3).map((e) => `${e.path} -> ${e.linkTarget}`).join(', ');
    warnings.push(`${outward.length} symbolic link(s) have an absolute target or point outside the backed-up files (${examples}${outward.length > 3 ? ', ...' : ''}): restored only in place (--in-place); a restore into a new directory refuses them`);
  }
  return { entries: [...entries.values()], warnings };
}

/**
 * sha256 of a manifest's canonical form: path, type, size, mode, owner and group ids, content sha256
 * and link target of every entry, sorted by path. Modification times and id names are left out, so
 * a file touched but unchanged is unchanged.
 */
export function manifestDigest(entries: readonly ConfigManifestEntry[]): string {
  const canonical = [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => [e.path, e.type, e.size, e.mode, e.uid, e.gid, e.sha256 ?? '', e.linkTarget ?? '']);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** The directories a restore must create above an entry that is not itself archived (`/etc` above `/etc/x.conf`). */
export function parentsOf(path: string): string[] {
  const parents: string[] = [];
  for (let dir = dirname(path); dir !== '/' && dir !== '.'; dir = dirname(dir)) parents.unshift(dir);
  return parents;
}
