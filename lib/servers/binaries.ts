/**
 * Where the server binaries Lifeboat starts on this machine live: the tool cache the embedded stack
 * builds MinIO and the Temporal CLI into (outside any clone), and Debian's PostgreSQL 15 layout.
 * Finding only; installing is the stack's job (client/stack/tools.ts).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../pipeline/child';

/** The cache of built server binaries: $LIFEBOAT_TOOLS_DIR, else ~/.cache/lifeboat/bin. */
export function defaultToolsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LIFEBOAT_TOOLS_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lifeboat', 'bin');
}

/** Locate the PostgreSQL 15 server binaries (Debian layout), or undefined. */
export function findPgBin(): string | undefined {
  for (const dir of ['/usr/lib/postgresql/15/bin', '/usr/pgsql-15/bin']) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

/** The `minio` server binary: the tool cache first, then PATH; undefined when there is none. */
export function findMinioBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findExecutable(join(defaultToolsDir(env), 'minio'), env) ?? findExecutable('minio', env);
}
