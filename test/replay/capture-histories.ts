/**
 * Capture one real history per workflow type (workflows/index.ts) into test/replay/histories/, for
 * the replay test (test/replay/replay.test.ts). Runs each runbook on the TEST stack (it must be up:
 * `npx lifeboat stack up --test`), with Lifeboat's real workers on unique task queues, and writes
 * the history in the format of `temporal workflow show -o json` (historyToJSON).
 *
 *   npx vite-node test/replay/capture-histories.ts            # every workflow type
 *   npx vite-node test/replay/capture-histories.ts health ... # only these
 *
 * `repairBackup` also captures the variant verifyBackups.repair.json (a verification that repairs).
 *
 * Re-capture whenever workflow code changes the commands it issues (activities, timers, child
 * workflows, their order); the replay test then proves the change is safe for running workflows
 * only if the OLD histories are kept and still replay (use `patched()`), so add new files rather
 * than overwrite when a change is meant to be replay-compatible.
 *
 * Every history is checked for the stack's secrets (the settings the schema marks secret and the
 * private key) before it is written. Histories do hold the test stack's paths
 * (/var/lib/lifeboat/test-stack/...) and generated names; nothing else machine-specific.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { stackSettings } from '../../client/stack/settings';
import { loadConfig, readRawEnv, type Config } from '../../lib/config/load';
import { SETTINGS } from '../../lib/config/schema';
import { createLogger } from '../../lib/logger';
import { stopCluster } from '../../lib/pitr/cluster';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../../lib/pitr/recovery-dir';
import { pgToolPath } from '../../lib/postgres/tools';
import { installRuntime } from '../../workers/runtime';
import { createWorkers, WORKFLOWS_PATH } from '../../workers/worker';
import * as workflows from '../../workflows';
import type { BackupBucketsResult } from '../../workflows/backup-buckets';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import type { RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { dropBucket, stores } from '../integration/minio-helpers';
import { historyToJSON } from './history-json';
import { freePort } from '../free-port';

export const HISTORIES_DIR = join(__dirname, 'histories');
const BUCKET = 'company-data';

type Runbook = keyof typeof workflows;

/** A history as searchable text (payload bytes decoded), as test/integration/helpers.ts historyText. */
function decodedText(json: string): string {
  const decoded: string[] = [];
  JSON.parse(json, (key, value: unknown) => {
    if (typeof value === 'string' && key === 'data') decoded.push(Buffer.from(value, 'base64').toString('utf8'));
    return value;
  });
  return `${json}\n${decoded.join('\n')}`;
}

/** Values no history may contain: secret settings of the stack and the private key's body. */
function secretsOf(envFile: string): string[] {
  const { raw } = readRawEnv({ envFile, env: {} });
  const values = SETTINGS.filter((s) => s.secret).map((s) => raw[s.env]).filter((v): v is string => typeof v === 'string' && v.length >= 4);
  const keyFile = raw.GPG_PRIVATE_KEY_FILE;
  if (keyFile) {
    const body = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l.length > 40 && !l.startsWith('-----'));
    values.push(...body.slice(0, 3));
  }
  return values;
}

async function sql<T>(config: Config, database: string, text: string): Promise<T[]> {
  const client = new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Switch WAL segments and wait until the finished one is archived (as test/integration/pitr.test.ts). */
async function switchAndArchive(config: Config): Promise<void> {
  const [{ seg }] = (await sql<{ seg: string }>(config, 'postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS seg')) as [{ seg: string }];
  const deadline = Date.now() + 90_000;
  for (;;) {
    const [stat] = await sql<{ last: string | null }>(config, 'postgres', 'SELECT last_archived_wal AS last FROM pg_stat_archiver');
    if (stat?.last && stat.last.slice(0, 24) >= seg) return;
    if (Date.now() > deadline) throw new Error(`WAL segment ${seg} was not archived within 90 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2) as Runbook[];
  const settings = stackSettings(process.env, 'test');
  const envFile = join(settings.dir, 'lifeboat.env');
  const queue = `capture-${Date.now().toString(36)}`;
  // A small configuration set (and the stack's env file, whose secrets the history check looks for).
  const configSet = mkdtempSync(join(tmpdir(), 'lifeboat-capture-config-'));
  mkdirSync(join(configSet, 'app', 'empty'), { recursive: true });
  writeFileSync(join(configSet, 'app', 'app.conf'), 'listen = 8080\n');
  symlinkSync('app.conf', join(configSet, 'app', 'current.conf'));
  const config = loadConfig({ envFile, env: { LIFEBOAT_TASK_QUEUE: queue, LIFEBOAT_HOST: 'capturehost', CONFIG_BACKUP_PATHS: `${join(configSet, 'app')},${envFile}`, BUCKETS_TO_BACKUP: BUCKET } });
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', fd: 2 });
  installRuntime({ logger });
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  const workers = await createWorkers({ config, logger, workflowBundle: await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet }) });
  const running = workers.run();
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const secrets = secretsOf(envFile);
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];

  const wanted = (type: Runbook): boolean => only.length === 0 || only.includes(type);
  /**
   * Run `type` to completion; write its history when it is one of those asked for. The workflow id
   * is the history's file name, as the replay test uses it: child workflow ids derive from it.
   */
  const capture = async <T>(type: Runbook, input: unknown, file = `${type}.json`): Promise<T> => {
    const handle: WorkflowHandle = await client.workflow.start(type, { taskQueue: workers.taskQueue, workflowId: file, args: [input] });
    let result: T;
    try {
      result = (await handle.result()) as T;
    } catch (error) {
      throw new Error(`${type} failed while capturing: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : String(error)}`);
    }
    const json = historyToJSON(await handle.fetchHistory());
    const text = decodedText(json);
    const leaked = secrets.filter((s) => text.includes(s));
    if (leaked.length) throw new Error(`${type}: the history holds ${leaked.length} secret value(s); not written`);
    // A variant (own file name) is captured only where its own condition asks for it.
    if (!wanted(type) && file === `${type}.json`) return result;
    writeFileSync(join(HISTORIES_DIR, file), `${JSON.stringify(JSON.parse(json), null, 2)}\n`);
    process.stderr.write(`captured ${file} (${JSON.parse(json).events.length} events)\n`);
    return result;
  };

  try {
    if (wanted('health')) await capture('health', { hostTaskQueue: workers.hostTaskQueue });
    // A fresh dump, then everything that reads it.
    const dump = await capture<BackupDatabaseResult>('backupDatabase', { tier: 'daily' });
    if (wanted('restoreDatabase')) await capture('restoreDatabase', { backup: dump.key, verifyOnly: true });
    if (wanted('restoreGlobals')) await capture('restoreGlobals', { backup: dump.globalsKey });
    if (wanted('verifyBackups')) await capture('verifyBackups', { scope: 'one', backup: dump.key });
    if (wanted('repairBackup')) {
      // A damaged local copy of the fresh dump, replaced from its off-site copy.
      writeFileSync(join(config.backupRoot, dump.key), 'damaged\n');
      await capture('repairBackup', { backup: dump.key });
      // And a verification that repairs by itself (patched 'verify-repairs', a repairBackup child).
      writeFileSync(join(config.backupRoot, dump.key), 'damaged again\n');
      await capture('verifyBackups', { scope: 'one', backup: dump.key, repair: true }, 'verifyBackups.repair.json');
    }
    if (wanted('shipWal')) await capture('shipWal', { limit: 5 });
    if (wanted('backupBase') || wanted('restorePointInTime')) {
      // A base backup, a commit before the target, the target, a commit after it, the WAL archived.
      await capture('backupBase', {});
      const db = `lifeboat_capture_${Date.now()}`;
      await sql(config, 'postgres', `CREATE DATABASE ${db}`);
      cleanups.push(async () => void (await sql(config, 'postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)));
      await sql(config, db, 'CREATE TABLE items (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())');
      await sql(config, db, 'INSERT INTO items DEFAULT VALUES');
      const [{ t }] = (await sql<{ t: string }>(config, db, "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t")) as [{ t: string }];
      await sql(config, db, 'INSERT INTO items DEFAULT VALUES');
      await switchAndArchive(config);
      if (wanted('restorePointInTime')) {
        const pitr = await capture<RestorePointInTimeResult>('restorePointInTime', { targetTime: t, port: await freePort() });
        cleanups.push(async () => {
          const paths = recoveryPathsOf(runDirOf(pitr.dataDir));
          await stopCluster(pgToolPath(config.db, 'pg_ctl', 15), paths, clusterOwner());
          rmSync(paths.runDir, { recursive: true, force: true });
        });
      }
    }
    if (wanted('listRecoveredClusters')) await capture('listRecoveredClusters', undefined);
    if (wanted('removeRecoveredCluster')) {
      // A stopped run directory of its own (no cluster to stop), removed by the workflow.
      const stamp = '19700101-000000-capture';
      const runDir = join(config.restore.dataRoot, `pitr-${stamp}`);
      mkdirSync(join(runDir, 'data'), { recursive: true });
      writeFileSync(join(runDir, 'lifeboat-pitr.json'), `${JSON.stringify({ workflowId: 'capture', runId: 'capture', createdAt: new Date().toISOString(), target: '1970-01-01T00:00:00Z', baseKey: 'none', port: 1 })}\n`);
      await capture('removeRecoveredCluster', { id: `pitr-${stamp}` });
    }
    if (wanted('pruneBackups')) await capture('pruneBackups', { dryRun: true });
    if (wanted('monitorBackups')) await capture('monitorBackups', {});
    if (wanted('reportStatus')) await capture('reportStatus', {});
    const snapshot = wanted('backupBuckets') || wanted('restoreBucket') ? await capture<BackupBucketsResult>('backupBuckets', { buckets: [BUCKET] }) : undefined;
    if (wanted('verifyBuckets')) await capture('verifyBuckets', { buckets: [BUCKET] });
    if (wanted('mirrorBuckets')) await capture('mirrorBuckets', { buckets: [BUCKET] });
    if (wanted('replicateBuckets')) await capture('replicateBuckets', { buckets: [BUCKET] });
    if (wanted('restoreBucket') && snapshot) {
      const target = `lbt-capture-${Date.now().toString(36)}`;
      cleanups.push(() => dropBucket(stores(config).source, target));
      await capture('restoreBucket', { snapshot: snapshot.snapshots[0]!.key, targetBucket: target });
    }
    if (wanted('backupConfigFiles') || wanted('restoreConfigFiles')) {
      await capture('backupConfigFiles', {});
      if (wanted('restoreConfigFiles')) await capture('restoreConfigFiles', { targetDir: join(configSet, 'restored') });
    }
    if (wanted('disasterRecovery')) {
      // A drill needs a base backup with shipped WAL, the bucket's replica and a configuration backup off-site.
      await capture('backupBase', {});
      await switchAndArchive(config);
      await capture('shipWal', {});
      await capture('mirrorBuckets', { buckets: [BUCKET] });
      await capture('backupConfigFiles', {});
      await capture('disasterRecovery', { mode: 'drill', autoApprove: true, incident: 'CAPTURE', declaredBy: 'capture-histories', reason: 'replay history' });
    }
    // Last: the runs above are closed, so the export has histories to write.
    if (wanted('exportAuditTrail')) await capture('exportAuditTrail', { settleSeconds: 0 });
    const missing = (Object.keys(workflows) as Runbook[]).filter((t) => wanted(t) && !readHistoryNames().includes(t));
    if (missing.length) throw new Error(`no history captured for: ${missing.join(', ')}`);
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e: unknown) => process.stderr.write(`cleanup: ${String(e)}\n`));
    rmSync(configSet, { recursive: true, force: true });
    workers.shutdown();
    await running;
    await connection.close();
  }
}

function readHistoryNames(): string[] {
  return readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`capture-histories: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
