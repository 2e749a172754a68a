/**
 * `lifeboat backup postgres daily|weekly|monthly [--wait]`, `lifeboat backup base [--wait]`,
 * `lifeboat backups list [--json]`, `lifeboat wal archive|fetch|ship|status`.
 */
import type { Client } from '@temporalio/client';
import { readCatalog, type CatalogEntry } from '../../lib/catalog/catalog';
import { listConfigBackups, type ConfigBackupEntry } from '../../lib/catalog/config';
import { formatStamp, isTier, TIERS, type Tier } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { describeDrills } from '../../lib/dr/drills';
import { readDrillSummary } from '../../lib/dr/drill-reports';
import { InputInvalid } from '../../lib/errors';
import { walArchiveDir } from '../../lib/catalog/paths';
import { buildStores } from '../../lib/deps';
import { currentWalLsn, readRpoExposure } from '../../lib/wal/exposure';
import { walBacklog } from '../../lib/wal/remote';
import { exposureSeverity, recommendedArchiveTimeoutSeconds } from '../../lib/wal/rpo';
import { describeCopyState, readVerification } from '../../lib/verify/record';
import { backupBase, type BackupBaseResult } from '../../workflows/backup-base';
import { backupDatabase, type BackupDatabaseResult } from '../../workflows/backup-database';
import { shipWal } from '../../workflows/ship-wal';
import type { CommandSpec } from '../command-table';
import { loadCliContext, withClient } from '../context';
import { backupDurationSeconds, formatAge, formatBytes, formatDuration, printJson, startedJson, table } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions, type UiLabel } from '../start-options';
import { temporalHint } from './temporal';
import { runWalCli } from '../wal-cli';

const stampNow = (): string => formatStamp(new Date());

export async function startBackupDatabase(client: Client, config: Config, tier: Tier, options: { format?: 'plain' | 'custom'; taskQueue?: string; startedBy?: string } = {}) {
  return client.workflow.start(backupDatabase, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `backup-postgres-${tier}-${stampNow()}`,
    args: [{ tier, ...(options.format ? { format: options.format } : {}) }],
    ...(await uiStartOptions(client, {
      kind: 'backup',
      summary: `PostgreSQL ${tier} backup of ${config.db.name}`,
      what: `The seed's \`postgres-backup.sh ${tier}\`: roles and tablespaces (\`pg_dumpall --globals-only\`), then \`${config.db.name}\` (\`pg_dump\`), each recorded with its checksum and copied off-site. The backup key is added to the memo and to LifeboatBackupId once the dump is named.`,
      show: `lifeboat backups list`,
      attributes: { LifeboatTier: tier, LifeboatDatabase: config.db.name },
      startedBy: options.startedBy,
    })),
  });
}

export async function startBackupBase(client: Client, config: Config, options: { taskQueue?: string; startedBy?: string } = {}) {
  return client.workflow.start(backupBase, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `backup-base-${stampNow()}`,
    args: [{}],
    ...(await uiStartOptions(client, {
      kind: 'base-backup',
      summary: `Base backup (pg_basebackup) of ${config.db.host}:${config.db.port}`,
      what: 'A physical base backup, the starting point of point-in-time recovery: streamed, compressed and encrypted into `base/<stamp>`, recorded with its LSNs and timeline, copied off-site, then the WAL archived so far is shipped.',
      show: 'lifeboat backups list',
      attributes: { LifeboatDatabase: config.db.name },
      startedBy: options.startedBy,
    })),
  });
}

/** The UI's label of a shipWal run started by hand or by the main job. */
export async function shipWalLabel(client: Client, startedBy?: string) {
  const label: UiLabel = {
    kind: 'wal-ship',
    summary: 'Ship archived WAL off-site',
    what: 'Every WAL file archived under `$BACKUP_ROOT/wal-archive` and not yet off-site is uploaded, verified, oldest first; the backlog left is reported.',
    show: 'lifeboat wal status',
    startedBy,
  };
  return uiStartOptions(client, label);
}

export function describeDatabaseBackup(r: BackupDatabaseResult): string {
  const remote = r.remote.length > 0 ? `, copied off-site${r.remote.some((x) => x.resumedParts > 0) ? ' (resumed)' : ''}` : '';
  return `${r.key} ${formatBytes(r.bytes)}, ${r.tables} tables / ${r.rows} rows, sha256 ${r.sha256.slice(0, 12)}...${remote}`;
}

export function describeBaseBackup(r: BackupBaseResult): string {
  return `${r.key} ${formatBytes(r.bytes)}, LSN ${r.startLsn}..${r.stopLsn} timeline ${r.timeline}${r.uploaded ? `, copied off-site, ${r.walShipped} WAL files shipped` : ''}`;
}


function uiLink(config: Config, workflowId: string): string {
  return `workflow ${workflowId} (${temporalHint(config, `workflow show --workflow-id ${workflowId}`)})`;
}

export function catalogRows(entries: CatalogEntry[], backupRoot: string, now = Date.now()): string[][] {
  const rows = [['KIND', 'TIER', 'FINISHED (UTC)', 'AGE', 'DURATION', 'SIZE', 'LOCAL', 'REMOTE', 'LOCAL VERIFIED', 'REMOTE VERIFIED', 'KEY']];
  const ago = (at: string): string => `${formatAge((now - Date.parse(at)) / 1000)} ago`;
  for (const e of entries) {
    const m = e.metadata;
    const copies = readVerification(backupRoot, e.key)?.copies ?? {};
    rows.push([
      m.kind,
      'tier' in m ? m.tier : '-',
      m.finishedAt.slice(0, 19).replace('T', ' '),
      formatAge((now - Date.parse(m.finishedAt)) / 1000),
      formatDuration(backupDurationSeconds(m)),
      formatBytes(m.bytes),
      e.local ? (e.local.size === m.bytes ? 'yes' : 'BAD SIZE') : '-',
      e.remote ? (e.remote.size === m.bytes ? 'yes' : e.remote.size === undefined ? 'NO DATA' : 'BAD SIZE') : '-',
      describeCopyState(copies.local, ago),
      describeCopyState(copies.remote, ago),
      e.key,
    ]);
  }
  return rows;
}

/** Rows of `backups list` for unchanged configuration records (same columns as catalogRows). */
export function unchangedConfigRows(entries: ConfigBackupEntry[], now = Date.now()): string[][] {
  return entries.flatMap((e) =>
    e.kind === 'unchanged'
      ? [['config', '-', e.finishedAt.slice(0, 19).replace('T', ' '), formatAge((now - Date.parse(e.finishedAt)) / 1000), formatDuration(backupDurationSeconds(e.record)), 'unchanged', e.local ? 'yes' : '-', e.remote ? 'yes' : '-', '-', '-', `${e.key} (= ${e.record.sameAs})`]]
      : [],
  );
}

export const backupCommands: CommandSpec[] = [
  {
    name: 'backup postgres',
    summary: 'start a logical backup of the configured database (daily, weekly or monthly)',
    args: [{ name: 'tier', description: TIERS.join('|') }],
    options: [
      { flags: '--wait', description: 'wait for the workflow and print its result' },
      { flags: '--format <format>', description: 'pg_dump format: plain (default from DUMP_FORMAT) or custom' },
      { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' },
    ],
    async run([tier], opts) {
      if (!isTier(tier)) throw new InputInvalid('tier', `must be one of ${TIERS.join(', ')} (got "${tier}")`, 'run: lifeboat backup postgres daily');
      const format = opts.format as string | undefined;
      if (format !== undefined && format !== 'plain' && format !== 'custom') throw new InputInvalid('--format', `must be plain or custom (got "${format}")`);
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await startBackupDatabase(client, config, tier, { format });
        (opts.json ? process.stderr : process.stdout).write(`started ${uiLink(config, handle.workflowId)}\n`);
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`done: ${describeDatabaseBackup(result)}\n`);
      });
    },
  },
  {
    name: 'backup base',
    summary: 'start a physical base backup (pg_basebackup), the base of point-in-time recovery',
    options: [{ flags: '--wait', description: 'wait for the workflow and print its result' }, { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await startBackupBase(client, config);
        (opts.json ? process.stderr : process.stdout).write(`started ${uiLink(config, handle.workflowId)}\n`);
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`done: ${describeBaseBackup(result)}\n`);
      });
    },
  },
  {
    name: 'backups list',
    summary: 'list backups (dumps, globals, base backups, configuration files, with metadata): duration, local and remote copies, each copy\'s last verification; then the last DR drill\'s RTO',
    options: [{ flags: '--json', description: 'machine-readable output' }, { flags: '--local', description: 'do not list the remote copies' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      const stores = buildStores(config);
      const remote = opts.local ? undefined : stores.remote;
      const entries = await readCatalog(stores.local, remote);
      // Configuration backups that found nothing changed: a record naming the archive with their files.
      const unchanged = (await listConfigBackups(stores.local, remote)).filter((e) => e.kind === 'unchanged');
      if (opts.json) {
        const withVerification = entries.map((e) => ({ ...e, durationSeconds: backupDurationSeconds(e.metadata) ?? null, verification: readVerification(config.backupRoot, e.key) ?? null }));
        const records = unchanged.map((e) => ({ key: e.key, metadata: e.record, durationSeconds: backupDurationSeconds(e.record) ?? null, local: e.local, remote: e.remote }));
        printJson([...withVerification, ...records]);
      } else if (entries.length === 0 && unchanged.length === 0) {
        process.stdout.write(`no backups in ${config.backupRoot}${remote ? ` or ${remote.location}` : ''}\n`);
      } else {
        process.stdout.write(table([...catalogRows(entries, config.backupRoot), ...unchangedConfigRows(unchanged)]));
      }
      // The RTO the runbook has actually shown (dr-reports/ on this host).
      if (!opts.json) process.stdout.write(`${describeDrills(await readDrillSummary(config.backupRoot))}\n`);
    },
  },
  {
    name: 'wal archive',
    summary: 'archive_command: copy a WAL file durably into $BACKUP_ROOT/wal-archive (%p %f)',
    args: [{ name: 'path', description: '%p' }, { name: 'name', description: '%f' }],
    options: [{ flags: '--archive-dir <dir>', description: 'archive directory (default $BACKUP_ROOT/wal-archive)' }],
    async run(args, opts) {
      return runWalCli(['archive', ...(opts.archiveDir ? ['--archive-dir', String(opts.archiveDir)] : []), ...args]);
    },
  },
  {
    name: 'wal fetch',
    summary: 'restore_command: fetch a WAL file from the local archive, else from S3 (%f %p)',
    args: [{ name: 'name', description: '%f' }, { name: 'path', description: '%p' }],
    options: [{ flags: '--archive-dir <dir>', description: 'archive directory (default $BACKUP_ROOT/wal-archive)' }, { flags: '--no-remote', description: 'do not try S3' }],
    async run(args, opts) {
      return runWalCli(['fetch', ...(opts.archiveDir ? ['--archive-dir', String(opts.archiveDir)] : []), ...(opts.remote === false ? ['--no-remote'] : []), ...args]);
    },
  },
  {
    name: 'wal ship',
    summary: 'ship archived WAL to S3 now (the shipWal workflow)',
    options: [{ flags: '--wait', description: 'wait and print the backlog after shipping' }, { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' }],
    async run(_args, opts) {
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(shipWal, { taskQueue: config.temporal.taskQueue, workflowId: `ship-wal-${stampNow()}`, args: [{}], ...(await shipWalLabel(client)) });
        (opts.json ? process.stderr : process.stdout).write(`started ${uiLink(config, handle.workflowId)}\n`);
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`shipped ${result.shipped.length} WAL files; ${result.backlog.pendingCount} still pending\n`);
      });
    },
  },
  {
    name: 'wal status',
    summary: 'WAL archiving backlog (files archived locally but not yet shipped to S3) and the RPO exposure',
    options: [{ flags: '--json', description: 'machine-readable output' }],
    async run(_args, opts) {
      const { config } = loadCliContext();
      if (!config.remote.enabled) throw new InputInvalid('REMOTE_STORAGE', 'is false: WAL is not shipped anywhere');
      const remote = buildStores(config).offsite();
      const archiveDir = walArchiveDir(config.backupRoot);
      const backlog = await walBacklog(archiveDir, remote);
      const rpo = await readRpoExposure(archiveDir, remote, config.monitor.rpoTargetSeconds, await currentWalLsn(config.db));
      if (opts.json) {
        printJson({ ...backlog, rpo });
      } else {
        const state = exposureSeverity(rpo);
        const exposure = rpo.exposureSeconds === undefined ? 'unknown (no WAL archived yet)' : `${rpo.exposureSeconds} s${rpo.basis === 'caught-up' ? ' (everything written is off-site)' : rpo.newestShipped ? ` (newest off-site ${rpo.newestShipped}, archived ${rpo.newestShippedArchivedAt})` : ' (nothing shipped yet)'}`;
        process.stdout.write(
          `local archive: newest ${backlog.newestLocal ?? '(none)'}${backlog.newestLocalAgeSeconds !== undefined ? `, ${formatAge(backlog.newestLocalAgeSeconds)} old` : ''}\n` +
            `shipped: ${backlog.shipped}; pending: ${backlog.pending.length} files, ${formatBytes(backlog.pendingBytes)}, oldest ${formatAge(backlog.oldestPendingAgeSeconds)}\n` +
            `rpo exposure: ${exposure}; target ${rpo.targetSeconds} s (${state === 'ok' ? 'met' : state === 'warning' ? 'over the target' : 'over three times the target'})\n` +
            (state === 'ok' ? '' : `hint: ship more often (lifeboat wal ship) and keep archive_timeout at most ${recommendedArchiveTimeoutSeconds(rpo.targetSeconds)} s for this target\n`),
        );
      }
    },
  },
];
