/**
 * `lifeboat minio backup|mirror|replicate|verify|restore`: the seed's `minio-backup.sh backup |
 * replicate | verify` and its restore procedures, as workflows. Input is checked here before any
 * workflow starts (bucket names, snapshot names, exclusive options, and that buckets named with
 * --bucket exist on the source MinIO); unknown buckets are also refused by the workflow's first step.
 */
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import type { MirrorSummary } from '../../activities/minio';
import { listSnapshots } from '../../lib/catalog/snapshots';
import { buildStores } from '../../lib/deps';
import { formatStamp } from '../../lib/catalog/names';
import type { Config } from '../../lib/config/load';
import { BackupNotFound, InputInvalid, OperationRefused } from '../../lib/errors';
import { declaredSchedules, type DeclaredSchedule } from '../../lib/schedules/declared';
import { bucketNameProblem, parseSnapshotFile, REMOTE_SNAPSHOT_PREFIX, SNAPSHOT_DIR } from '../../lib/minio/names';
import { backupBuckets, type BackupBucketsResult } from '../../workflows/backup-buckets';
import { mirrorBuckets, type MirrorBucketsResult } from '../../workflows/mirror-buckets';
import { replicateBuckets } from '../../workflows/replicate-buckets';
import { restoreBucket, type RestoreBucketInput } from '../../workflows/restore-bucket';
import { parseSourceOption } from './restore';
import { verifyBuckets, type VerifyBucketsResult } from '../../workflows/verify-buckets';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext, withClient } from '../context';
import { EXIT } from '../exit-codes';
import { formatAge, formatBytes, printJson, startedJson, table } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { applySchedules } from '../schedules';
import { uiStartOptions } from '../start-options';
import { temporalHint } from './temporal';

const suffix = (): string => `${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`;

/** `--bucket a,b` -> ['a', 'b'], each checked; undefined = BUCKETS_TO_BACKUP. */
export function parseBucketOption(value: unknown, flag = '--bucket'): string[] | undefined {
  if (value === undefined || value === false) return undefined;
  const names = String(value).split(',').map((b) => b.trim()).filter(Boolean);
  if (names.length === 0) throw new InputInvalid(flag, 'names no bucket', 'e.g. --bucket company-data,embeddings');
  for (const name of names) {
    const problem = bucketNameProblem(name);
    if (problem) throw new InputInvalid(flag, `${problem}: not a valid bucket name`, 'bucket names are 3-63 lower-case letters, digits, "." and "-"');
  }
  return names;
}

/**
 * Refuse buckets named with `flag` that the source MinIO does not have, before any workflow starts
 * (a started workflow would fail, unseen without --wait). Undefined (the configured buckets) is left
 * to the workflow. An unreachable MinIO is reported as such.
 */
export async function checkBucketsExist(config: Config, buckets: string[] | undefined, flag = '--bucket'): Promise<void> {
  if (!buckets) return;
  const source = buildStores(config).minioSource;
  try {
    const missing: string[] = [];
    for (const bucket of buckets) if (!(await source.bucketExists(bucket))) missing.push(bucket);
    if (missing.length > 0) {
      throw new InputInvalid(flag, `bucket${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'do' : 'does'} not exist on ${source.label}; nothing was started`, `name existing buckets, e.g. the configured BUCKETS_TO_BACKUP=${config.minio.buckets.join(',')}`);
    }
  } finally {
    source.client.destroy();
  }
}

/** What the Temporal UI shows for each MinIO runbook (summary, details, buckets as search attributes). */
const MINIO_LABELS: Record<string, { summary: string; what: string; show: string }> = {
  'minio-backup': { summary: 'MinIO snapshots', what: 'The seed\'s `minio-backup.sh backup`: each bucket of the source MinIO as an encrypted tar snapshot under `minio-snapshots/`, copied off-site.', show: 'lifeboat minio restore --list' },
  'minio-mirror': { summary: 'MinIO mirror to the backup MinIO', what: 'An incremental mirror of each bucket from the source MinIO to the backup MinIO (deletions as MIRROR_DELETE says).', show: 'lifeboat minio verify' },
  'minio-replicate': { summary: 'MinIO replication to the backup MinIO', what: 'The seed\'s `minio-backup.sh replicate`: one incremental mirror pass per bucket, reporting the replication lag.', show: 'lifeboat status' },
  'minio-verify': { summary: 'MinIO verification (source against backup)', what: 'The seed\'s `minio-backup.sh verify`: the source and backup MinIO compared by content; missing, extra and different objects are reported.', show: 'lifeboat minio verify' },
};

async function attributes(client: Client, kind: string, buckets: string[] | undefined, config: Config) {
  const label = MINIO_LABELS[kind]!;
  const names = buckets ?? config.minio.buckets;
  return uiStartOptions(client, { kind, ...label, summary: `${label.summary}: ${names.join(', ')}`, buckets: names });
}

export async function startMinioBackup(client: Client, config: Config, options: { buckets?: string[]; taskQueue?: string } = {}) {
  return client.workflow.start(backupBuckets, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `minio-backup-${suffix()}`,
    args: [options.buckets ? { buckets: options.buckets } : {}],
    ...(await attributes(client, 'minio-backup', options.buckets, config)),
  });
}

export async function startMinioMirror(client: Client, config: Config, options: { buckets?: string[]; delete?: boolean; taskQueue?: string } = {}) {
  return client.workflow.start(mirrorBuckets, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `minio-mirror-${suffix()}`,
    args: [{ ...(options.buckets ? { buckets: options.buckets } : {}), ...(options.delete !== undefined ? { delete: options.delete } : {}) }],
    ...(await attributes(client, 'minio-mirror', options.buckets, config)),
  });
}

export function describeMinioBackup(r: BackupBucketsResult): string {
  return r.snapshots
    .map((s) => `${s.file} ${s.objects} objects ${formatBytes(s.objectBytes)} -> ${formatBytes(s.bytes)}${s.remote ? `, copied off-site${s.remote.resumedParts > 0 ? ' (resumed)' : ''}` : ''}`)
    .join('; ');
}

export function describeMirror(r: MirrorSummary): string {
  const resumed = r.attempts > 1 ? `, ${r.attempts} attempts (resumed)` : '';
  return `${r.bucket} -> ${r.targetBucket}: ${r.sourceObjects} objects, ${r.copied} copied (${formatBytes(r.bytesCopied)}), ${r.skipped} unchanged, ${r.deleted} deleted${r.keptExtra ? `, ${r.keptExtra} extra kept` : ''}${resumed}`;
}

export function describeMinioMirror(r: MirrorBucketsResult): string {
  return r.buckets.map(describeMirror).join('; ');
}

/**
 * The replication Schedule (`lifeboat-minio-replicate`): its one definition is the `minio-replicate`
 * entry of the declared schedules (lib/schedules/declared.ts: replicateBuckets every
 * REPLICATION_INTERVAL_SECONDS, overlap SKIP). Undefined without a backup MinIO.
 */
export function minioReplicationSchedule(config: Config): DeclaredSchedule | undefined {
  return declaredSchedules(config).find((s) => s.name === 'minio-replicate');
}

/**
 * Create the replication Schedule or bring it up to date, exactly as `lifeboat schedules apply`
 * would (same options and fingerprint, pause kept), touching no other schedule. Idempotent.
 */
export async function ensureMinioReplicationSchedule(client: Client, config: Config): Promise<{ id: string; outcome: 'created' | 'updated' | 'unchanged' }> {
  const declared = minioReplicationSchedule(config);
  if (!declared) throw new InputInvalid('MINIO_BACKUP_ENDPOINT', 'is not set, so there is no backup MinIO to replicate to', 'set MINIO_BACKUP_ENDPOINT and its keys');
  // The schedule's own id as the ownership prefix: no other schedule can be planned for deletion.
  const plan = await applySchedules(client, [declared], declared.id);
  return { id: declared.id, outcome: plan.create.length ? 'created' : plan.update.length ? 'updated' : 'unchanged' };
}


const started = (config: Config, workflowId: string): string => `started workflow ${workflowId} (${temporalHint(config, `workflow show --workflow-id ${workflowId}`)})\n`;

function describeVerify(r: VerifyBucketsResult): string {
  return r.buckets
    .map((b) => {
      const head = `${b.bucket}: ${b.ok ? 'in sync' : 'DRIFT'}: ${b.sourceObjects} on the source, ${b.backupObjects} on the backup, ${b.matched} identical, ${b.missing} missing, ${b.extra} extra, ${b.different} different${b.hashed ? ` (${b.hashed} hashed)` : ''}`;
      const lines = [...b.samples.missing.map((k) => `    missing    ${k}`), ...b.samples.extra.map((k) => `    extra      ${k}`), ...b.samples.different.map((d) => `    different  ${d.key}: ${d.reason}`)];
      return [head, ...lines].join('\n');
    })
    .join('\n');
}

/**
 * Refuse a restore into a bucket that already holds objects unless --overwrite, before a workflow
 * starts (the workflow's prepareRestoreTarget refuses it too, for starts from the UI). When this
 * host cannot reach that MinIO, the workflow's own check decides.
 */
async function refuseNonEmptyBucket(config: Config, bucket: string, where: { server?: string; endpoint?: string }): Promise<void> {
  const stores = buildStores(config);
  const store = where.endpoint ? stores.minioAt(where.endpoint) : where.server === 'backup' ? stores.minioBackup : stores.minioSource;
  if (!store) return;
  try {
    const holdsObjects = await store.bucketExists(bucket).then(async (exists) => exists && !(await store.isEmpty(bucket))).catch(() => false);
    if (!holdsObjects) return;
    throw new OperationRefused(
      `target bucket ${bucket} on ${store.label} already holds objects; nothing was started`,
      'add --overwrite to replace objects with the same key (others are kept), or restore into a new or empty bucket with --target-bucket NAME',
    );
  } finally {
    store.client.destroy();
  }
}

/** Check a snapshot name and that the catalog knows it, before a workflow starts. */
async function checkSnapshotArgument(config: Config, snapshot: string): Promise<string> {
  let file = snapshot.trim().split('/').pop() ?? '';
  if (file.endsWith('.metadata.json')) file = file.slice(0, -'.metadata.json'.length);
  const known = snapshot.startsWith('/') || snapshot.startsWith(`${SNAPSHOT_DIR}/`) || snapshot.startsWith(REMOTE_SNAPSHOT_PREFIX) || !snapshot.includes('/');
  if (!known || !parseSnapshotFile(file)) throw new InputInvalid('snapshot', `"${snapshot}" is not a snapshot name (<bucket>_<YYYYMMDD-HHMMSS>.tar.gz[.gpg])`, 'see `lifeboat minio restore --list`');
  if (!(await listSnapshots(buildStores(config))).some((s) => s.file === file)) throw new BackupNotFound(`snapshot ${file} is not in ${config.minio.backupRoot}/${SNAPSHOT_DIR}${config.remote.enabled ? ` or under ${REMOTE_SNAPSHOT_PREFIX} in ${config.remote.bucket}` : ''}`, 'see `lifeboat minio restore --list`');
  return snapshot.startsWith('/') ? snapshot : file;
}

export const minioCommands: CommandSpec[] = [
  {
    name: 'minio backup',
    summary: 'snapshot buckets into <bucket>_<stamp>.tar.gz[.gpg] under MINIO_BACKUP_ROOT/snapshots, then off-site',
    options: [
      { flags: '--bucket <names>', description: 'comma-separated buckets (default BUCKETS_TO_BACKUP)' },
      { flags: '--wait', description: 'wait for the workflow and print its result' },
      { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' },
    ],
    async run(_args, opts) {
      const buckets = parseBucketOption(opts.bucket);
      await checkBucketsExist(loadCliContext().config, buckets);
      return withClient(async (client, config) => {
        // Snapshots are written on the backup host: its queue needs a worker too.
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await startMinioBackup(client, config, { buckets });
        (opts.json ? process.stderr : process.stdout).write(started(config, handle.workflowId));
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`done: ${describeMinioBackup(result)}\n`);
      });
    },
  },
  {
    name: 'minio mirror',
    summary: 'copy new and changed objects from the source MinIO to the backup MinIO (by content)',
    options: [
      { flags: '--bucket <names>', description: 'comma-separated buckets (default BUCKETS_TO_BACKUP)' },
      { flags: '--delete', description: 'also delete backup objects whose source is gone (default MIRROR_DELETE)' },
      { flags: '--wait', description: 'wait for the workflow and print its result' },
      { flags: '--json', description: 'print {workflowId, runId, result} as JSON (result with --wait)' },
    ],
    async run(_args, opts) {
      const buckets = parseBucketOption(opts.bucket);
      await checkBucketsExist(loadCliContext().config, buckets);
      return withClient(async (client, config) => {
        await requireWorkers(client, config.temporal.taskQueue);
        const handle = await startMinioMirror(client, config, { buckets, delete: opts.delete ? true : undefined });
        (opts.json ? process.stderr : process.stdout).write(started(config, handle.workflowId));
        const result = opts.wait ? await awaitResult(handle) : undefined;
        if (opts.json) printJson(startedJson(handle, result));
        else if (result) process.stdout.write(`done: ${describeMinioMirror(result)}\n`);
      });
    },
  },
  {
    name: 'minio replicate',
    summary: 'continuous replication source -> backup: create or update the lifeboat-minio-replicate schedule',
    options: [
      { flags: '--once', description: 'run one replication pass now, wait, and print the lag' },
      { flags: '--remove', description: 'delete the replication schedule' },
      { flags: '--json', description: 'machine-readable output' },
    ],
    async run(_args, opts) {
      if (opts.once && opts.remove) throw new InputInvalid('--once', 'cannot be combined with --remove');
      return withClient(async (client, config) => {
        if (opts.remove) {
          const id = minioReplicationSchedule(config)?.id ?? 'lifeboat-minio-replicate';
          let deleted = true;
          try {
            await client.schedule.getHandle(id).delete();
          } catch (error) {
            if (!(error instanceof ScheduleNotFoundError)) throw error;
            deleted = false;
          }
          if (opts.json) printJson({ scheduleId: id, deleted });
          else process.stdout.write(deleted ? `deleted schedule ${id} (\`lifeboat schedules apply\` declares it again)\n` : `no schedule ${id}\n`);
          return;
        }
        if (opts.once) {
          await requireWorkers(client, config.temporal.taskQueue);
          const handle = await client.workflow.start(replicateBuckets, {
            taskQueue: config.temporal.taskQueue,
            workflowId: `minio-replicate-once-${suffix()}`,
            args: [{}],
            ...(await attributes(client, 'minio-replicate', undefined, config)),
          });
          const result = await awaitResult(handle);
          if (opts.json) {
            printJson(startedJson(handle, result));
            return;
          }
          for (const b of result.buckets) {
            process.stdout.write(`${b.bucket}: ${b.pendingChanges} change(s) and ${b.pendingDeletes} deletion(s) were pending; lag ${formatAge(b.lagSeconds)}; ${b.copied} copied, ${b.deleted} deleted\n`);
          }
          return;
        }
        const { id, outcome } = await ensureMinioReplicationSchedule(client, config);
        if (opts.json) {
          printJson({ scheduleId: id, outcome, intervalSeconds: config.minio.replicationIntervalSeconds, taskQueue: config.temporal.taskQueue });
          return;
        }
        process.stdout.write(`${outcome} schedule ${id}: replicateBuckets every ${config.minio.replicationIntervalSeconds} s on ${config.temporal.taskQueue} (overlap: skip)\n`);
      });
    },
  },
  {
    name: 'minio verify',
    summary: 'compare source and backup MinIO by content; report missing, extra and different objects',
    options: [
      { flags: '--bucket <names>', description: 'comma-separated buckets (default BUCKETS_TO_BACKUP)' },
      { flags: '--json', description: 'machine-readable output' },
    ],
    async run(_args, opts) {
      const buckets = parseBucketOption(opts.bucket);
      await checkBucketsExist(loadCliContext().config, buckets);
      return withClient(async (client, config) => {
        // The comparison runs on the backup host's queue.
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(verifyBuckets, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `minio-verify-${suffix()}`,
          args: [buckets ? { buckets } : {}],
          ...(await attributes(client, 'minio-verify', buckets, config)),
        });
        const result = await awaitResult(handle);
        if (opts.json) printJson(result);
        else process.stdout.write(`${describeVerify(result)}\n`);
        return result.ok ? EXIT.ok : EXIT.integrity;
      });
    },
  },
  {
    name: 'minio restore',
    summary: 'restore a bucket from a snapshot, or from the replica (--from-replica); --list shows snapshots',
    args: [{ name: 'snapshot', description: 'snapshot file name, e.g. company-data_20251017-010000.tar.gz.gpg', optional: true }],
    options: [
      { flags: '--list', description: 'list snapshots (local and off-site)' },
      { flags: '--from-replica <bucket>', description: 'restore this bucket from the backup MinIO instead' },
      { flags: '--target-bucket <name>', description: "bucket to restore into (default: the snapshot's bucket)" },
      { flags: '--server <server>', description: 'MinIO to restore a snapshot into: source (default) or backup' },
      { flags: '--overwrite', description: 'allow a target bucket that holds objects (same-key objects are replaced)' },
      { flags: '--source <copy>', description: 'snapshot copy to read: local, remote (off-site only) or auto (default)' },
      { flags: '--target-endpoint <url>', description: 'restore into another MinIO (e.g. http://127.0.0.1:9100), reached with MINIO_SOURCE_ACCESS_KEY / _SECRET_KEY' },
      { flags: '--no-wait', description: 'start the workflow and return' },
      { flags: '--json', description: 'machine-readable output (with --list: the snapshots; else {workflowId, runId, result})' },
    ],
    async run([snapshot], opts) {
      const { config } = loadCliContext();
      if (opts.list) {
        const snapshots = await listSnapshots(buildStores(config));
        if (opts.json) {
          printJson(snapshots);
          return;
        }
        if (snapshots.length === 0) {
          process.stdout.write(`no snapshots in ${config.minio.backupRoot}/${SNAPSHOT_DIR}${config.remote.enabled ? ` or ${REMOTE_SNAPSHOT_PREFIX}` : ''}\n`);
          return;
        }
        const rows = [['BUCKET', 'FINISHED (UTC)', 'AGE', 'OBJECTS', 'SIZE', 'COPIES', 'FILE']];
        for (const s of snapshots) {
          rows.push([s.bucket, s.finishedAt.slice(0, 19).replace('T', ' '), formatAge((Date.now() - Date.parse(s.finishedAt)) / 1000), String(s.objects), formatBytes(s.bytes), [s.local ? 'local' : '', s.remote ? 'remote' : ''].filter(Boolean).join('+'), s.file]);
        }
        process.stdout.write(table(rows));
        return;
      }
      const replica = opts.fromReplica as string | undefined;
      if ((snapshot === undefined) === (replica === undefined)) throw new InputInvalid('snapshot', 'name a snapshot or give --from-replica BUCKET (not both)', 'see `lifeboat minio restore --list`');
      if (replica !== undefined) parseBucketOption(replica, '--from-replica');
      const targetBucket = opts.targetBucket as string | undefined;
      if (targetBucket !== undefined) parseBucketOption(targetBucket, '--target-bucket');
      const server = opts.server as string | undefined;
      if (server !== undefined && server !== 'source' && server !== 'backup') throw new InputInvalid('--server', `must be source or backup (got "${server}")`);
      if (replica !== undefined && server === 'backup') throw new InputInvalid('--server', 'a replica restores into the source MinIO');
      const source = parseSourceOption(opts.source);
      if (source && replica !== undefined) throw new InputInvalid('--source', 'applies to snapshots only; a replica is read from the backup MinIO');
      const endpoint = opts.targetEndpoint !== undefined ? String(opts.targetEndpoint).replace(/\/$/, '') : undefined;
      if (endpoint !== undefined && !/^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(endpoint)) {
        throw new InputInvalid('--target-endpoint', `"${endpoint}" is not an endpoint URL`, 'e.g. http://127.0.0.1:9100 (no credentials or path)');
      }
      if (endpoint !== undefined && server !== undefined) throw new InputInvalid('--target-endpoint', 'give either --server or --target-endpoint, not both');
      const input: RestoreBucketInput = {
        ...(snapshot !== undefined ? { snapshot: await checkSnapshotArgument(config, snapshot) } : { fromReplica: replica }),
        ...(targetBucket ? { targetBucket } : {}),
        ...(server ? { server: server as 'source' | 'backup' } : {}),
        ...(opts.overwrite ? { overwrite: true } : {}),
        ...(source ? { source } : {}),
        ...(endpoint ? { target: { minio: { endpoint } } } : {}),
      };
      // The bucket the restore writes into: named, else the snapshot's own, else the replica's.
      const restoredInto = targetBucket ?? (input.snapshot !== undefined ? parseSnapshotFile(input.snapshot.split('/').pop() ?? '')?.bucket : replica);
      if (!opts.overwrite && restoredInto) await refuseNonEmptyBucket(config, restoredInto, { server, endpoint });
      const client = await connectClient(config);
      try {
        await requireWorkers(client, config.temporal.taskQueue, input.snapshot !== undefined ? [config.temporal.backupHostTaskQueue] : []);
        const handle = await client.workflow.start(restoreBucket, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `minio-restore-${suffix()}`,
          args: [input],
          ...(await uiStartOptions(client, {
            kind: 'minio-restore',
            summary: `MinIO restore of ${input.snapshot ?? `the replica of ${replica}`} into ${restoredInto ?? 'its bucket'}`,
            what: input.snapshot
              ? `The snapshot \`${input.snapshot}\` (${source ?? 'local, else off-site'}) restored into bucket \`${restoredInto ?? '?'}\` on ${endpoint ? `the MinIO at ${endpoint}` : `the ${server ?? 'source'} MinIO`}${opts.overwrite ? ', overwriting what is there' : ''}.`
              : `Bucket \`${replica}\` copied back from the backup MinIO into \`${restoredInto ?? '?'}\`${opts.overwrite ? ', overwriting what is there' : ''}.`,
            show: 'lifeboat minio restore --list',
            ...(input.snapshot ? { backup: input.snapshot } : {}),
            ...(restoredInto ? { buckets: [restoredInto] } : {}),
          })),
        });
        process.stderr.write(started(config, handle.workflowId));
        if (opts.wait === false) {
          if (opts.json) printJson(startedJson(handle));
          return;
        }
        const r = await awaitResult(handle);
        if (opts.json) {
          printJson(startedJson(handle, r));
          return;
        }
        process.stdout.write(`restored: ${r.source} -> ${r.targetBucket} on ${r.target ? `the MinIO at ${r.target.minio.endpoint}` : `the ${r.server} MinIO`}: ${r.restored} objects, ${formatBytes(r.bytes)}${r.skipped ? `, ${r.skipped} already there` : ''}${r.createdBucket ? ' (bucket created)' : ''}\n`);
      } finally {
        await client.connection.close();
      }
    },
  },
];
