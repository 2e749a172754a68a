/**
 * The OS user PostgreSQL server processes run as. PostgreSQL refuses to run as root, so when we
 * are root, initdb/pg_ctl/tar for a cluster run as the `postgres` user; otherwise as ourselves.
 */
import { readFileSync } from 'node:fs';
import { PrerequisiteMissing } from '../errors';

export interface OsOwner {
  uid: number;
  gid: number;
}

/** uid/gid of `postgres` when we run as root; undefined otherwise. */
export function postgresOsUser(): OsOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new PrerequisiteMissing('running as root but there is no `postgres` OS user to run PostgreSQL', 'install the postgresql package (it creates the user) or run as a normal user');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
