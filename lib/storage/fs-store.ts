/** The local filesystem driver of Store, rooted at a directory (BACKUP_ROOT). */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { BackupNotFound, InputInvalid } from '../errors';
import { writeFileAtomic } from '../pipeline/atomic-file';
import type { ObjectInfo, Store } from './store';

export class FsStore implements Store {
  /** The root as an absolute, normalized path (BACKUP_ROOT may be written `/x/`, `/x//y` or relative). */
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.location = `local:${this.root}`;
  }

  /** Absolute path of a key; refuses keys that would escape the root. */
  pathOf(key: string): string {
    const path = resolve(this.root, key);
    if (path !== this.root && !path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new InputInvalid('key', `${key} is outside ${this.root}`, 'use a path below BACKUP_ROOT');
    }
    return path;
  }

  async put(key: string, body: Buffer): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    writeFileAtomic(path, body);
    return { key, size: body.length, modified: new Date() };
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) throw new BackupNotFound(`${key} does not exist in ${this.location}`);
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const info = await stat(this.pathOf(key)).catch(() => undefined);
    return info?.isFile() ? { key, size: info.size, modified: info.mtime } : undefined;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the directory part of the prefix, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const start = this.pathOf(slash >= 0 ? prefix.slice(0, slash) : '.');
    for await (const path of walk(start)) {
      const key = relative(this.root, path).split(sep).join('/');
      const name = key.slice(key.lastIndexOf('/') + 1);
      if (!key.startsWith(prefix) || (name.startsWith('.') && name.endsWith('.partial'))) continue;
      const info = await stat(path).catch(() => undefined);
      if (info?.isFile()) yield { key, size: info.size, modified: info.mtime };
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

async function* walk(dir: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
