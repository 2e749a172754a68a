/**
 * `lifeboat restore --list`, `lifeboat restore <backup> [--target DB] [--verify-only]
 * [--confirm DBNAME]`, `lifeboat restore --pitr TIME` and `lifeboat verify --latest|--all|--backup-file`.
 * Input is checked here before any workflow starts: unknown backups, paths outside BACKUP_ROOT and
 * restoring over production without `--confirm` are refused with no side effect.
 */
import type { Client } from '@temporalio/client';
import { readCatalog } from '../../lib/catalog/catalog';
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { InputInvalid, OperationRefused } from '../../lib/errors';
import type { CopySource } from '../../lib/restore/fetch';
import { DATABASE_NAME, databaseExists, targetDb } from '../../lib/restore/load';
import { locateBackup } from '../../lib/restore/locate';
import { buildStores } from '../../lib/deps';
import { describeCopyState, readVerification } from '../../lib/verify/record';
import { approveReplaceUpdate, progressQuery, restoreDatabase, type RestoreDatabaseResult } from '../../workflows/restore-database';
import { verifyBackups } from '../../workflows/verify-backups';
import { restoreGlobals, type RestoreGlobalsResult } from '../../workflows/restore-globals';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext, personOf } from '../context';
import { backupDurationSeconds, formatAge, formatBytes, formatDuration, printJson, startedJson, table } from '../format';
import { awaitResult, followProgress, requireWorkers } from '../progress';
import { restoreLabel, uiStartOptions, verifyLabel } from '../start-options';

/** One row of `restore --list --json` (docs/cli.md). */
export interface RestorableJson {
  key: string;
  kind: string;
  tier: string | null;
  database: string | null;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number | null;
  bytes: number;
  sha256: string;
  copies: ('local' | 'remote')[];
  encrypted: boolean;
  keyFingerprint: string | null;
  verification: ReturnType<typeof readVerification> | null;
}

export async function restorableEntries(config: Config): Promise<RestorableJson[]> {
  const { local, remote } = buildStores(config);
  return (await readCatalog(local, remote)).map((e) => {
    const m = e.metadata;
    return {
      key: e.key,
      kind: m.kind,
      tier: 'tier' in m ? m.tier : null,
      database: 'database' in m ? m.database : null,
      startedAt: m.startedAt,
      finishedAt: m.finishedAt,
      durationSeconds: backupDurationSeconds(m) ?? null,
      bytes: m.bytes,
      sha256: m.sha256,
      copies: [...(e.local ? ['local' as const] : []), ...(e.remote ? ['remote' as const] : [])],
      encrypted: m.encryption.enabled,
      keyFingerprint: m.encryption.fingerprint ?? null,
      verification: readVerification(config.backupRoot, e.key) ?? null,
    };
  });
}

export async function listRestorable(config: Config): Promise<string> {
  const { local, remote } = buildStores(config);
  const entries = await readCatalog(local, remote);
  if (entries.length === 0) return `no backups in ${config.backupRoot}\n`;
  const rows = [['KIND', 'TIER', 'FINISHED (UTC)', 'AGE', 'DURATION', 'SIZE', 'COPIES', 'KEY FINGERPRINT', 'LOCAL VERIFIED', 'REMOTE VERIFIED', 'KEY']];
  const when = (at: string): string => at.slice(0, 16).replace('T', ' ');
  // Globals are listed too: restored by hand with psql before the dumps (see docs/operations.md).
  for (const e of entries) {
    const m = e.metadata;
    const copies = readVerification(config.backupRoot, e.key)?.copies ?? {};
    rows.push([
      m.kind,
      'tier' in m ? m.tier : '-',
      m.finishedAt.slice(0, 19).replace('T', ' '),
      formatAge((Date.now() - Date.parse(m.finishedAt)) / 1000),
      formatDuration(backupDurationSeconds(m)),
      formatBytes(m.bytes),
      [e.local ? 'local' : '', e.remote ? 'remote' : ''].filter(Boolean).join('+') || '-',
      m.encryption.fingerprint ? m.encryption.fingerprint.slice(-16) : 'unencrypted',
      describeCopyState(copies.local, when),
      describeCopyState(copies.remote, when),
      e.key,
    ]);
  }
  return table(rows);
}

export async function startRestore(
  client: Client,
  config: Config,
  args: {
    backup: string; targetDatabase?: string; verifyOnly?: boolean; replaceProduction?: boolean; taskQueue?: string; source?: CopySource; targetServer?: { host: string; port: number };
    withGlobals?: boolean;
  },
) {
  return client.workflow.start(restoreDatabase, {
    taskQueue: args.taskQueue ?? config.temporal.taskQueue,
    workflowId: `restore-${args.verifyOnly ? 'verify' : 'db'}-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
    args: [{
      backup: args.backup,
      ...(args.targetDatabase ? { targetDatabase: args.targetDatabase } : {}),
      ...(args.verifyOnly ? { verifyOnly: true } : {}),
      ...(args.replaceProduction ? { replaceProduction: true } : {}),
      ...(args.source ? { source: args.source } : {}),
      ...(args.targetServer ? { target: { postgres: args.targetServer } } : {}),
      ...(args.withGlobals ? { withGlobals: true } : {}),
    }],
    ...(await uiStartOptions(client, restoreLabel(config, args))),
  });
}

export function describeGlobalsRestore(r: RestoreGlobalsResult): string {
  const lines = [`globals ${r.key} -> ${r.server} (${r.source} copy), as role ${r.restoringRole}`];
  for (const role of r.roles) lines.push(`role ${role.name}: ${role.state}${role.state === 'skipped' ? ` (${role.reason === 'exists' ? 'exists already' : 'the role running the restore is never altered'})` : role.state === 'failed' ? ` (${role.error})` : ''}`);
  for (const t of r.tablespaces) lines.push(`tablespace ${t.name} at ${t.location}: ${t.state}${'error' in t ? ` (${t.error})` : t.state === 'skipped' ? ' (exists already)' : ''}`);
  for (const m of r.memberships.filter((x) => x.state !== 'skipped')) lines.push(`membership ${m.member} in ${m.role}: ${m.state}${'error' in m ? ` (${m.error})` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function describeRestore(r: RestoreDatabaseResult): string {
  const check = r.check.ok ? `${r.check.tables} tables / ${r.check.rows} rows match the metadata` : `MISMATCH: ${r.check.problems.join('; ')}`;
  const line = `${r.backup} -> ${r.database} in ${r.restoreSeconds.toFixed(1)} s (${r.source} copy); ${check}${r.replaced ? `; now ${r.replaced.production}, previous kept as ${r.replaced.keptAs}` : ''}`;
  return r.globals ? `${line}\n${describeGlobalsRestore(r.globals).trimEnd()}` : line;
}

/** Check the operator's input against the catalog before anything starts. */
async function checkRestoreInput(config: Config, backup: string, opts: Record<string, unknown>): Promise<{ key: string; replace: boolean; target?: string; globalsKey?: string }> {
  const target = opts.target as string | undefined;
  const confirm = opts.confirm as string | undefined;
  if (target !== undefined && !DATABASE_NAME.test(target)) throw new InputInvalid('--target', `"${target}" is not a plain database name`, 'use lower-case letters, digits and underscores');
  const replace = confirm !== undefined || target === config.db.name;
  if (replace) {
    if (confirm === undefined) {
      throw new OperationRefused(`refusing to restore over the production database "${config.db.name}" without confirmation`, `add --confirm ${config.db.name} (production is kept under another name, never dropped)`);
    }
    if (confirm !== config.db.name) throw new OperationRefused(`--confirm "${confirm}" does not name the production database "${config.db.name}"`, `use --confirm ${config.db.name}`);
    if (opts.verifyOnly) throw new InputInvalid('--verify-only', 'cannot be combined with --confirm');
  }
  const { local, remote } = buildStores(config);
  const found = await locateBackup(backup, local, remote);
  if (found.metadata.kind !== 'logical') {
    throw new InputInvalid('backup', `${found.key} is a ${found.metadata.kind} backup`, found.metadata.kind === 'base' ? 'restore base backups with --pitr TIME' : 'name a database dump');
  }
  let globalsKey: string | undefined;
  if (opts.withGlobals) {
    if (opts.verifyOnly) throw new InputInvalid('--with-globals', 'cannot be combined with --verify-only: a verify-only restore leaves the server as it was');
    globalsKey = found.metadata.globalsKey;
    if (!globalsKey) throw new InputInvalid('--with-globals', `${found.key} names no globals backup in its metadata`, 'apply roles with `lifeboat restore globals <globals_<stamp> backup>`, or leave --with-globals out');
    // The globals artifact must be there too (either copy), or nothing starts.
    await locateBackup(globalsKey, local, remote);
  }
  return { key: found.key, replace, target: replace ? undefined : target, ...(globalsKey ? { globalsKey } : {}) };
}

/**
 * Refuse a named target database that already exists, before anything starts (the workflow refuses
 * it too: a restore never writes into an existing database). When this host cannot ask the server,
 * the workflow's own check decides.
 */
async function refuseExistingDatabase(config: Config, target: string | undefined, server: { host: string; port: number } | undefined): Promise<void> {
  if (target === undefined) return;
  const db = targetDb(config.db, server);
  const exists = await databaseExists(db, target).catch(() => undefined);
  if (!exists) return;
  throw new InputInvalid(
    '--target',
    `database "${target}" already exists on ${db.host}:${db.port}; a restore never writes into an existing database, nothing was started`,
    `choose a new name with --target NAME (or leave --target out for ${config.db.name}_restored_<stamp>); to replace production use --confirm ${config.db.name}`,
  );
}

export const restoreCommands: CommandSpec[] = [
  {
    name: 'restore',
    summary: 'list, verify or restore backups (new database by default; PITR with --pitr)',
    args: [{ name: 'backup', description: 'key, file name or path under BACKUP_ROOT (with --pitr: the base backup to recover from; default the newest before TIME)', optional: true }],
    options: [
      { flags: '--list', description: 'list backups (dumps, globals, base backups) with fingerprint and each copy\'s last verification' },
      { flags: '--target <database>', description: 'new database to restore into (default <db>_restored_<stamp>)' },
      { flags: '--verify-only', description: 'restore into a temporary database, compare with the metadata, drop it, record the result' },
      { flags: '--confirm <dbname>', description: 'replace the production database (must name it); it is kept, renamed, never dropped' },
      { flags: '--by <name>', description: 'with --confirm: who approves, recorded in the history beside the CLI identity (default: $USER)' },
      { flags: '--pitr <time>', description: 'point-in-time recovery to TIME, e.g. "2025-10-17 14:30:00+00"' },
      { flags: '--port <port>', description: 'port of the cluster point-in-time recovery starts' },
      { flags: '--source <copy>', description: 'copy to read: local (BACKUP_ROOT and the local WAL archive), remote (the off-site store only) or auto (local first; default)' },
      { flags: '--target-server <host:port>', description: 'restore a dump into another PostgreSQL server (e.g. a new cluster), reached with DB_USER / PGPASSWORD' },
      { flags: '--with-globals', description: 'first apply the same run\'s globals backup (roles, tablespaces) to the target server; existing roles skipped and reported' },
      { flags: '--no-wait', description: 'start the workflow and return' },
      { flags: '--json', description: 'machine-readable output (with --list: the backups; else {workflowId, runId, result})' },
    ],
    async run([backup], opts) {
      const { config } = loadCliContext();
      if (opts.list) {
        if (opts.json) printJson(await restorableEntries(config));
        else process.stdout.write(await listRestorable(config));
        return;
      }
      const source = parseSourceOption(opts.source);
      if (opts.pitr !== undefined) {
        const port = opts.port !== undefined ? Number(opts.port) : undefined;
        if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new InputInvalid('--port', `must be a TCP port (got "${String(opts.port)}")`);
        if (opts.targetServer !== undefined) throw new InputInvalid('--target-server', 'point-in-time recovery builds a new cluster on the backup host; choose its port with --port');
        if (opts.withGlobals) throw new InputInvalid('--with-globals', 'point-in-time recovery restores the whole cluster, roles and tablespaces included; leave --with-globals out');
        const { runPitrRestore } = await import('./pitr');
        // A named backup is the base backup to recover from (refused when it is not one, or finished after the target).
        await runPitrRestore(String(opts.pitr), { port, wait: opts.wait !== false, json: Boolean(opts.json), ...(source ? { source } : {}), ...(backup ? { base: backup } : {}) });
        return;
      }
      if (!backup) throw new InputInvalid('backup', 'is required', 'name a backup from `lifeboat restore --list`, or use --list / --pitr');
      const targetServer = opts.targetServer !== undefined ? parseHostPort(String(opts.targetServer), '--target-server') : undefined;
      if (targetServer && opts.confirm !== undefined) throw new InputInvalid('--target-server', 'cannot be combined with --confirm: only the configured production database is replaced');
      const checked = await checkRestoreInput(config, backup, opts);
      await refuseExistingDatabase(config, checked.target, targetServer);
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await startRestore(client, config, {
          backup: checked.key, targetDatabase: checked.target, verifyOnly: Boolean(opts.verifyOnly), replaceProduction: checked.replace, ...(source ? { source } : {}), ...(targetServer ? { targetServer } : {}),
          ...(checked.globalsKey ? { withGlobals: true } : {}),
        });
        process.stderr.write(`started workflow ${handle.workflowId}\n`);
        if (opts.wait === false) {
          if (opts.json) printJson(startedJson(handle));
          return;
        }
        let approvalSent = false;
        const result = await followProgress(handle, progressQuery, process.stderr, async (state) => {
          if (checked.replace && state.stage === 'awaiting-approval' && !approvalSent) {
            approvalSent = true;
            await handle.executeUpdate(approveReplaceUpdate, { args: [{ confirm: String(opts.confirm), approvedBy: personOf(opts.by) }] });
          }
        });
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(`${opts.verifyOnly ? (result.check.ok ? 'verified' : 'VERIFICATION FAILED') : 'restored'}: ${describeRestore(result)}\n`);
        return result.check.ok ? 0 : 6;
      } finally {
        await client.connection.close();
      }
    },
  },
  {
    name: 'restore globals',
    summary: 'apply a globals backup (roles, tablespaces) to a cluster: existing roles skipped and reported, the restoring role never altered',
    args: [{ name: 'backup', description: 'the globals artifact: key, file name or path under BACKUP_ROOT (daily/globals_<stamp>...)' }],
    options: [
      { flags: '--target-server <host:port>', description: 'the cluster to apply them to (default the configured server), reached with DB_USER / PGPASSWORD' },
      { flags: '--source <copy>', description: 'copy to read: local, remote or auto (default)' },
      { flags: '--json', description: 'machine-readable output: {workflowId, runId, result} (docs/cli.md)' },
    ],
    async run([backup], opts) {
      const source = parseSourceOption(opts.source);
      const targetServer = opts.targetServer !== undefined ? parseHostPort(String(opts.targetServer), '--target-server') : undefined;
      const { config } = loadCliContext();
      const { local, remote } = buildStores(config);
      const found = await locateBackup(String(backup ?? ''), local, remote);
      if (found.metadata.kind !== 'globals') throw new InputInvalid('backup', `${found.key} is a ${found.metadata.kind} backup, not globals`, 'name a globals_<stamp> artifact from `lifeboat restore --list`');
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(restoreGlobals, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `restore-globals-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [{ backup: found.key, ...(source ? { source } : {}), ...(targetServer ? { target: { postgres: targetServer } } : {}) }],
          ...(await uiStartOptions(client, {
            kind: 'restore',
            summary: `restore globals ${found.key}${targetServer ? ` into ${targetServer.host}:${targetServer.port}` : ''}`,
            what: 'Applies roles, their settings and memberships, and tablespaces from a globals backup; existing roles are skipped and reported, the restoring role is never altered, missing tablespace directories are reported.',
            show: `lifeboat restore globals ${found.key}`,
            backup: found.key,
            attributes: { LifeboatDatabase: config.db.name },
          })),
        });
        const result = await awaitResult(handle);
        if (opts.json) printJson(startedJson(handle, result));
        else process.stdout.write(describeGlobalsRestore(result));
        const failed = result.roles.some((r) => r.state === 'failed') || result.tablespaces.some((t) => t.state === 'failed' || t.state === 'missing-directory') || result.memberships.some((m) => m.state === 'failed');
        return failed ? 6 : 0;
      } finally {
        await client.connection.close();
      }
    },
  },
  {
    name: 'verify',
    summary: 'verify backups, globals, base backups, the WAL archive and MinIO snapshots: checksums of each copy, decoding, content (--restore: test restore)',
    options: [
      { flags: '--latest', description: 'the newest of each kind: dump and globals per tier, base backup, WAL from the newest base backup on, snapshot per bucket' },
      { flags: '--all', description: 'every backup, every archived WAL file, every snapshot' },
      { flags: '--backup-file <path>', description: 'one backup (key, file name or path under BACKUP_ROOT)' },
      { flags: '--restore', description: 'also test-restore database dumps into a temporary database' },
      { flags: '--json', description: 'print the results as JSON' },
    ],
    async run(_args, opts) {
      const scopes = [opts.latest, opts.all, opts.backupFile].filter((x) => x !== undefined && x !== false).length;
      if (scopes !== 1) throw new InputInvalid('scope', 'give exactly one of --latest, --all, --backup-file PATH', 'e.g. lifeboat verify --latest');
      const { config } = loadCliContext();
      let backup: string | undefined;
      if (opts.backupFile) {
        const { local, remote } = buildStores(config);
        backup = (await locateBackup(String(opts.backupFile), local, remote)).key;
      }
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(verifyBackups, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `verify-backups-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [{ scope: opts.all ? 'all' : opts.latest ? 'latest' : 'one', ...(backup ? { backup } : {}), ...(opts.restore ? { restore: true } : {}) }],
          ...(await uiStartOptions(client, verifyLabel(config, { scope: opts.all ? 'all' : opts.latest ? 'latest' : 'one', backup, restore: Boolean(opts.restore) }))),
        });
        const result = await awaitResult(handle);
        if (opts.json) {
          printJson(result);
        } else {
          for (const r of result.results) {
            process.stdout.write(`${r.ok ? 'ok    ' : 'FAILED'} ${r.key}\n`);
            for (const c of r.checks) process.stdout.write(`         ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}\n`);
          }
          process.stdout.write(`${result.verified} verified, ${result.failed} failed\n`);
        }
        return result.failed > 0 ? 6 : 0;
      } finally {
        await client.connection.close();
      }
    },
  },
];

/** `--source`: which copy a restore reads. */
export function parseSourceOption(value: unknown): CopySource | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (text !== 'local' && text !== 'remote' && text !== 'auto') throw new InputInvalid('--source', `"${text}" is not one of local, remote, auto`, 'e.g. --source remote to read the off-site copy only');
  return text;
}

/** `host:port` (an IPv6 address in brackets), as a restore target: no credentials, no path. */
export function parseHostPort(value: string, field: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InputInvalid(field, `"${value}" is not host:port`, 'e.g. 127.0.0.1:5433; credentials come from DB_USER / PGPASSWORD');
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
