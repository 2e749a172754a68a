/**
 * Restoring a configuration archive, in the two passes of a snapshot restore (lib/minio/archive-restore.ts):
 *  1. check (nothing written): decode the verified copy and walk every tar entry with the snapshot
 *     restore's safety rules (lib/minio/names.ts archiveEntryProblem: no absolute paths, no `..`,
 *     nothing outside `config_<stamp>/`), plus what configuration archives may hold: regular files,
 *     directories and symbolic links only (no devices, FIFOs or hard links), no entry below a link,
 *     and, for a new directory, no link pointing out of it. Every entry must be in the manifest with
 *     its type, mode, owner and (files) size and sha256, and every manifest entry in the archive.
 *  2. extract: into a NEW (or empty) directory, never following a link (files are created with
 *     O_EXCL | O_NOFOLLOW), or in place over the live files (each file written beside its
 *     destination and renamed over it). Modes, owners (when running as root) and mtimes are set;
 *     directories last. Then every restored entry is checked against the manifest again.
 * Plus `diffConfigSet`: what differs between a manifest and the live files, reading nothing but
 * the metadata and the live files.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, existsSync, type Stats } from 'node:fs';
import { chmod, chown, lchown, lstat, lutimes, mkdir, open, readdir, readlink, rename, rm, symlink, utimes } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { PrivateKey } from 'openpgp';
import type * as tar from 'tar-stream';
import type { ConfigManifestEntry, ConfigMetadata } from '../catalog/metadata';
import { ChecksumMismatch, OperationRefused } from '../errors';
import { archiveEntryProblem } from '../minio/names';
import { walkTar } from '../verify/tar-walk';
import { hashFile } from './collect';
import { excludeMatcher } from './exclude';

export interface ConfigArchiveSource {
  /** Where the archive is, for messages. */
  where: string;
  /** A fresh stream of a copy whose sha256 matches the metadata (each pass reads it once). */
  open(): NodeJS.ReadableStream;
  metadata: ConfigMetadata;
  privateKeys: PrivateKey[] | undefined;
}

/** A local file as an archive source (lib/restore/fetch.ts ensureLocalCopy gives a verified one). */
export function fileSource(file: string, metadata: ConfigMetadata, privateKeys: PrivateKey[] | undefined): ConfigArchiveSource {
  return { where: file, open: () => createReadStream(file, { highWaterMark: 1 << 20 }), metadata, privateKeys };
}

/** `new`: into an empty directory; `in-place`: over the live files (links may point anywhere). */
export type RestoreMode = 'new' | 'in-place';

const REFUSED_HINT = 'restore only archives Lifeboat wrote, or extract this one by hand (gpg -d | zstd -d | tar -x) and inspect it';

/** Why a tar entry may not be restored, or undefined. `symlinks`: link entries seen so far (host paths). */
export function configEntryProblem(header: { name: string; type?: tar.Header['type'] | null; linkname?: string | null }, root: string, mode: RestoreMode, symlinks: ReadonlySet<string>): string | undefined {
  const type = header.type ?? 'file';
  if (type !== 'file' && type !== 'directory' && type !== 'symlink') return `${JSON.stringify(header.name)} is a ${type}; only regular files, directories and symbolic links are restored`;
  const nameProblem = archiveEntryProblem({ name: header.name, type: type === 'directory' ? 'directory' : 'file' }, root);
  if (nameProblem) return nameProblem;
  const path = header.name.replace(/\/$/, '').slice(root.length);
  for (const link of symlinks) if (path.startsWith(`${link}/`)) return `${JSON.stringify(header.name)} lies below the symbolic link ${link}`;
  if (type === 'symlink') {
    const target = header.linkname ?? '';
    if (target === '' || target.includes('\0')) return `${JSON.stringify(header.name)} is a link without a valid target`;
    if (mode === 'new') {
      if (target.startsWith('/')) return `${JSON.stringify(header.name)} links to the absolute path ${target}, out of the restore directory`;
      // Lexically from the link's directory inside the archive: climbing above the root leaves it.
      const depth = posix.dirname(path).split('/').filter(Boolean).length;
      let level = depth;
      for (const segment of target.split('/')) {
        if (segment === '..') level--;
        else if (segment !== '.' && segment !== '') level++;
        if (level < 0) return `${JSON.stringify(header.name)} links to ${target}, out of the restore directory`;
      }
    }
  }
  return undefined;
}

function refuse(problem: string): OperationRefused {
  return new OperationRefused(`archive entry ${problem}; nothing was restored`, REFUSED_HINT);
}

/** The manifest by path, itself checked (a manifest entry must be restorable as well). */
function manifestIndex(metadata: ConfigMetadata): Map<string, ConfigManifestEntry> {
  const index = new Map<string, ConfigManifestEntry>();
  for (const e of metadata.manifest) {
    if (e.path === '/' || e.path.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')) throw refuse(`manifest path ${JSON.stringify(e.path)} is not a plain absolute path`);
    index.set(e.path, e);
  }
  return index;
}

/** Differences between a tar header (and the body's facts) and its manifest entry. */
function headerMismatch(header: tar.Header, expected: ConfigManifestEntry, body?: { size: number; sha256: string }): string | undefined {
  if (header.type !== expected.type) return `is a ${header.type}, the manifest says ${expected.type}`;
  if (((header.mode ?? 0) & 0o7777) !== expected.mode) return `mode ${((header.mode ?? 0) & 0o7777).toString(8)}, the manifest says ${expected.mode.toString(8)}`;
  if (header.uid !== expected.uid || header.gid !== expected.gid) return `owner ${header.uid}:${header.gid}, the manifest says ${expected.uid}:${expected.gid}`;
  if (expected.type === 'symlink' && header.linkname !== expected.linkTarget) return `links to ${header.linkname}, the manifest says ${expected.linkTarget}`;
  if (body && (body.size !== expected.size || body.sha256 !== expected.sha256)) return `${body.size} bytes with sha256 ${body.sha256.slice(0, 16)}..., the manifest says ${expected.size} bytes, ${expected.sha256?.slice(0, 16)}...`;
  return undefined;
}

/**
 * Walk the archive: every entry safe and as the manifest says, nothing missing, nothing twice.
 * `onEntry` (pass 2) receives each accepted entry with its body; without it bodies are hashed.
 */
async function walkChecked(
  source: ConfigArchiveSource,
  mode: RestoreMode,
  onEntry?: (header: tar.Header, expected: ConfigManifestEntry, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<{ entries: number; bytes: number }> {
  const { metadata } = source;
  const index = manifestIndex(metadata);
  const seen = new Set<string>();
  const symlinks = new Set<string>();
  let failure: Error | undefined;
  const walked = await walkTar(source.open(), { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, source.privateKeys, async (header, body) => {
    try {
      if (failure) throw failure;
      const problem = configEntryProblem(header, metadata.root, mode, symlinks);
      if (problem) throw refuse(problem);
      const path = header.name.replace(/\/$/, '').slice(metadata.root.length);
      const expected = index.get(path);
      if (!expected) throw refuse(`${JSON.stringify(header.name)} is not in the backup's manifest`);
      if (seen.has(path)) throw refuse(`${JSON.stringify(header.name)} appears twice`);
      seen.add(path);
      if (header.type === 'symlink') symlinks.add(path);
      const mismatch = headerMismatch(header, expected);
      if (mismatch) throw new ChecksumMismatch(`archive entry ${JSON.stringify(header.name)} ${mismatch}; nothing was restored`);
      if (onEntry) return await onEntry(header, expected, body);
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of body) {
        hash.update(chunk);
        size += chunk.length;
      }
      const bodyMismatch = expected.type === 'file' ? headerMismatch(header, expected, { size, sha256: hash.digest('hex') }) : undefined;
      if (bodyMismatch) throw new ChecksumMismatch(`archive entry ${JSON.stringify(header.name)}: ${bodyMismatch}; nothing was restored`);
    } catch (error) {
      failure ??= error as Error;
      throw error;
    }
  });
  if (failure) throw failure;
  if (walked.tarProblem) throw new ChecksumMismatch(`${source.where}: ${walked.tarProblem}`);
  const missing = metadata.manifest.filter((e) => !seen.has(e.path));
  if (missing.length > 0) throw new ChecksumMismatch(`the archive lacks ${missing.length} entr${missing.length === 1 ? 'y' : 'ies'} of its manifest, e.g. ${missing[0]!.path}`);
  return { entries: walked.entries, bytes: walked.bytes };
}

/** Pass 1: prove the archive safe and as recorded for `mode`, writing nothing (also what `verify` checks). */
export async function checkConfigArchive(source: ConfigArchiveSource, mode: RestoreMode): Promise<{ entries: number; bytes: number }> {
  return walkChecked(source, mode);
}

/** Why `targetDir` cannot receive a restore (not absolute, not a directory, not empty), or undefined. */
export async function restoreTargetProblem(targetDir: string): Promise<string | undefined> {
  if (!targetDir.startsWith('/')) return `${targetDir} is not an absolute path`;
  const info = await lstat(targetDir).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isDirectory()) return `${targetDir} exists and is not a directory`;
  const names = await readdir(targetDir);
  return names.length > 0 ? `${targetDir} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}, e.g. ${names.sort()[0]}): a restore writes only into a new or empty directory` : undefined;
}

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  /** False when the worker is not root: files belong to the worker's user. */
  ownersRestored: boolean;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Where a host path goes: below `targetDir`, or itself in place. */
export function destinationOf(path: string, mode: RestoreMode, targetDir: string | undefined): string {
  return mode === 'in-place' ? path : join(targetDir!, path);
}

/** Pass 2: write every entry (run checkConfigArchive first). */
export async function extractConfigArchive(source: ConfigArchiveSource, mode: RestoreMode, targetDir: string | undefined, signal?: AbortSignal): Promise<ExtractResult> {
  const owners = isRoot();
  const result: ExtractResult = { files: 0, directories: 0, symlinks: 0, bytes: 0, ownersRestored: owners };
  const directories: ConfigManifestEntry[] = [];
  if (mode === 'new') await mkdir(targetDir!, { recursive: true, mode: 0o700 });
  await walkChecked(source, mode, async (_header, e, body) => {
    signal?.throwIfAborted();
    const dest = destinationOf(e.path, mode, targetDir);
    await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
    if (e.type === 'directory') {
      await mkdir(dest, { recursive: true, mode: 0o700 });
      directories.push(e);
      result.directories++;
      for await (const _ of body) void _;
      return;
    }
    // New directory: create, never replace and never follow. In place: beside it, then renamed over it.
    const temp = mode === 'in-place' ? join(dirname(dest), `.${e.path.split('/').pop()}.lifeboat-restore`) : dest;
    if (mode === 'in-place') await rm(temp, { force: true });
    try {
      if (e.type === 'symlink') {
        for await (const _ of body) void _;
        await symlink(e.linkTarget!, temp);
        if (owners) await lchown(temp, e.uid, e.gid);
        await lutimes(temp, new Date(e.mtime), new Date(e.mtime));
        result.symlinks++;
      } else {
        const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          await pipeline(body, createWriteStream('', { fd: handle.fd, autoClose: false }));
          if (owners) await handle.chown(e.uid, e.gid);
          await handle.chmod(e.mode);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await utimes(temp, new Date(e.mtime), new Date(e.mtime));
        result.files++;
        result.bytes += e.size;
      }
      if (mode === 'in-place') await rename(temp, dest);
    } catch (error) {
      if (mode === 'in-place') await rm(temp, { force: true });
      throw error;
    }
  });
  // Directories last, deepest first: their mode may forbid writing, their mtime changes as they fill.
  for (const e of directories.reverse()) {
    const dest = destinationOf(e.path, mode, targetDir);
    if (owners) await chown(dest, e.uid, e.gid);
    await chmod(dest, e.mode);
    await utimes(dest, new Date(e.mtime), new Date(e.mtime));
  }
  return result;
}

export type ConfigChange = 'missing' | 'type' | 'content' | 'mode' | 'owner' | 'link' | 'extra';

export interface ConfigDifference {
  path: string;
  change: ConfigChange;
  /** What differs, without contents (sizes, modes, ids, link targets). */
  detail: string;
}

async function compareEntry(e: ConfigManifestEntry, live: string, compareOwners: boolean): Promise<ConfigDifference[]> {
  let info: Stats;
  try {
    info = await lstat(live);
  } catch {
    return [{ path: e.path, change: 'missing', detail: `${live} does not exist` }];
  }
  const type = info.isDirectory() ? 'directory' : info.isFile() ? 'file' : info.isSymbolicLink() ? 'symlink' : 'other';
  if (type !== e.type) return [{ path: e.path, change: 'type', detail: `is a ${type}, the backup has a ${e.type}` }];
  const out: ConfigDifference[] = [];
  if (e.type === 'file') {
    const now = await hashFile(live);
    if (now.size !== e.size || now.sha256 !== e.sha256) out.push({ path: e.path, change: 'content', detail: `${now.size} bytes, sha256 ${now.sha256.slice(0, 12)}...; the backup has ${e.size} bytes, sha256 ${e.sha256!.slice(0, 12)}...` });
  }
  if (e.type === 'symlink') {
    const target = await readlink(live);
    if (target !== e.linkTarget) out.push({ path: e.path, change: 'link', detail: `links to ${target}, the backup to ${e.linkTarget}` });
  }
  if (e.type !== 'symlink' && (info.mode & 0o7777) !== e.mode) out.push({ path: e.path, change: 'mode', detail: `mode ${(info.mode & 0o7777).toString(8)}, the backup has ${e.mode.toString(8)}` });
  if (compareOwners && (info.uid !== e.uid || info.gid !== e.gid)) out.push({ path: e.path, change: 'owner', detail: `owner ${info.uid}:${info.gid}, the backup has ${e.uid}:${e.gid}` });
  return out;
}

/**
 * What differs between the backup's manifest and the live files: at their own paths, or below
 * `baseDir` (a directory a restore wrote). Also names live entries inside archived directories that
 * the backup does not have (`extra`, CONFIG_BACKUP_EXCLUDE of the backup applied). Writes nothing.
 */
export async function diffConfigSet(metadata: ConfigMetadata, baseDir?: string, compareOwners = true): Promise<ConfigDifference[]> {
  const index = manifestIndex(metadata);
  const excluded = excludeMatcher(metadata.exclude);
  const live = (path: string): string => (baseDir ? join(baseDir, path) : path);
  const out: ConfigDifference[] = [];
  for (const e of metadata.manifest) {
    out.push(...(await compareEntry(e, live(e.path), compareOwners)));
    if (e.type !== 'directory' || !existsSync(live(e.path))) continue;
    const names = await readdir(live(e.path)).catch(() => [] as string[]);
    for (const name of names.sort()) {
      const path = `${e.path}/${name}`;
      if (!index.has(path) && !excluded(path)) out.push({ path, change: 'extra', detail: `${live(path)} is not in the backup` });
    }
  }
  return out;
}
