/**
 * restoreGlobals: apply a globals backup (roles, their settings and memberships, tablespaces) to a
 * PostgreSQL cluster, the step the seed's runbook does by hand with psql before restoring dumps.
 * Existing roles are skipped and reported, the role running the restore is never altered, and a
 * tablespace whose directory the server lacks is reported, not created. On the backup host (the
 * artifact lives there); `target.postgres` names another server as restoreDatabase takes it.
 */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RestoreGlobalsActivityResult } from '../activities/restore-globals';
import type { CopySource } from '../lib/restore/fetch';
import type { PostgresTarget } from '../lib/restore/load';
import { checkSource, invalidInput } from './failures';
import { GLOBALS, QUICK } from './options';

export interface RestoreGlobalsInput {
  /** The globals artifact: key, file name or path under BACKUP_ROOT (`daily/globals_<stamp>.sql.zst.gpg`). */
  backup: string;
  source?: CopySource;
  /** Another server (address only; the worker's DB_USER / PGPASSWORD); default the configured one. */
  target?: { postgres?: PostgresTarget };
}

export type RestoreGlobalsResult = RestoreGlobalsActivityResult;

const general = proxyActivities<Activities>(QUICK);

function checkTarget(target: unknown): PostgresTarget | undefined {
  if (target === undefined) return undefined;
  if (typeof target !== 'object' || target === null || Array.isArray(target)) throw invalidInput('target: must be an object like { postgres: { host, port } }');
  const extra = Object.keys(target).filter((k) => k !== 'postgres');
  if (extra.length > 0) throw invalidInput(`target: unknown field ${extra.map((k) => `target.${k}`).join(', ')}; restoreGlobals takes target.postgres only`);
  const pg = (target as { postgres?: unknown }).postgres;
  if (pg === undefined) return undefined;
  if (typeof pg !== 'object' || pg === null || Array.isArray(pg)) throw invalidInput('target.postgres: must be { host, port }');
  const { host, port, ...rest } = pg as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw invalidInput(`target.postgres: unknown field ${Object.keys(rest).map((k) => `target.postgres.${k}`).join(', ')} (only host and port)`);
  if (typeof host !== 'string' || !/^(?!-)[A-Za-z0-9.:-]{1,253}$/.test(host)) throw invalidInput(`target.postgres.host: ${JSON.stringify(host)} is not a host name or IP address`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw invalidInput(`target.postgres.port: ${JSON.stringify(port)} is not a TCP port (1-65535)`);
  return { host, port };
}

export async function restoreGlobals(input: RestoreGlobalsInput): Promise<RestoreGlobalsResult> {
  // 0. Refuse malformed input before anything runs.
  if (!input || typeof input.backup !== 'string' || input.backup.trim() === '') throw invalidInput('backup: name a globals backup, e.g. daily/globals_20251017-020000.sql.zst.gpg');
  const source = checkSource(input.source);
  const target = checkTarget(input.target);
  // 1. Where the backup host's worker listens.
  const where = await general.describeBackupTarget();
  // 2. On the backup host: verified copy, decoded in memory, applied object by object with a report.
  const host = proxyActivities<Activities>(GLOBALS(where.backupHostTaskQueue));
  setCurrentDetails(`**apply** roles and tablespaces from \`${input.backup.trim()}\` to ${target ? `${target.host}:${target.port}` : 'the configured PostgreSQL'}`);
  const result = await host.applyGlobalsBackup({ backup: input.backup.trim(), ...(source ? { source } : {}), ...(target ? { target } : {}) });
  const count = (state: string): number => result.roles.filter((r) => r.state === state).length;
  setCurrentDetails(`**done**: ${result.server}: roles ${count('created')} created, ${count('skipped')} skipped, ${count('failed')} failed`);
  return result;
}
