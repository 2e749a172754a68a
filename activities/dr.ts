/**
 * Disaster-recovery activities (workflows/disaster-recovery.ts). Each carries out one step of the
 * runbook or a part of it, is idempotent and safe to retry, and takes and returns names, addresses
 * and facts only (the providers and stores resolve them to credentials here, on the worker).
 *
 *  planDisasterRecovery      read-only: defaults from configuration, what to restore from the
 *                            off-site store, the DNS name, the environment; refuses bad input
 *  provisionEnvironment / cleanupDrill   the new environment (step 2) and a drill's cleanup
 *  downloadOffsiteBackups    step 3: each artifact from S3 into the restore caches, sha256 checked
 *  verifyRestoredEnvironment step 7: tables and rows, objects against the snapshot / replica
 *  readDnsRecord / switchDnsRecord       step 8 (the old value is read in its own step, for rollback)
 *  runDrSmokeChecks          step 9: HTTP, SQL and object checks against the new endpoints
 *  publishDrReport           step 10: dr-reports/<id>.json + .md, locally and off-site
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { readBaseBackups, scanStore } from '../lib/catalog/catalog';
import { listConfigBackups, resolveConfigBackup } from '../lib/catalog/config';
import { DR_REPORTS_DIR } from '../lib/catalog/layout';
import { parseMetadata, type ArtifactMetadata, type ConfigMetadata, type LogicalMetadata } from '../lib/catalog/metadata';
import { metadataKey } from '../lib/catalog/names';
import { readRemoteSnapshotMetadata, remoteSnapshotStore } from '../lib/catalog/snapshots';
import { listArchivedWal } from '../lib/catalog/wal';
import { walArchiveDir } from '../lib/catalog/paths';
import { walArchiveCommand } from '../lib/lifeboat-bin';
import type { Deps } from '../lib/deps';
import { dnsRecordFor } from '../lib/dns/from-config';
import type { DnsRecordSet } from '../lib/dns/provider';
import { describeRecordSet } from '../lib/dns/records';
import { parseEnvironmentKind, type EnvironmentKind } from '../lib/environment/kinds';
import { BackupNotFound, InputInvalid, isLifeboatError } from '../lib/errors';
import { localSnapshotKey, parseSnapshotFile } from '../lib/minio/names';
import type { SnapshotMetadata } from '../lib/minio/metadata';
import { startCluster, stopCluster } from '../lib/pitr/cluster';
import { assertRecoverable, choosePitrPlan } from '../lib/pitr/plan';
import { clusterOwner, recoveryPathsOf, runDirOf } from '../lib/pitr/recovery-dir';
import { parseTargetTime } from '../lib/pitr/target-time';
import { ensureLocalCopy, RESTORE_CACHE } from '../lib/restore/fetch';
import { writeFileAtomic } from '../lib/pipeline/atomic-file';
import { getBuffer, type Store } from '../lib/storage/store';
import { renderDrReport, type DrPlan, type DrReport, type RestoredDataCheck, type SmokeChecks } from '../lib/dr/report';
import type { ProvisionedEnvironment } from '../lib/environment/provider';
import { startHeartbeats } from './heartbeat';

export type { DrPlan, DrReport, DrStepReport, RestoredDataCheck, SmokeChecks } from '../lib/dr/report';

const SAMPLE_OBJECTS = 20;

/** `dr-<workflow id>`, as an environment name (letters, digits, . _ -; at most 100 characters). */
export function environmentNameFor(workflowId: string): string {
  const cleaned = workflowId.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return `dr-${cleaned}`.slice(0, 100);
}

async function newestLogicalDump(remote: Store, database: string): Promise<{ dump: LogicalMetadata; globalsOffsite: boolean } | undefined> {
  const copies = await scanStore(remote, ['daily/', 'weekly/', 'monthly/']);
  const complete = new Set(copies.filter((c) => c.size !== undefined).map((c) => c.metadata.key));
  const dumps = copies
    .filter((c) => c.size !== undefined && c.metadata.kind === 'logical' && (c.metadata as LogicalMetadata).database === database)
    .map((c) => c.metadata as LogicalMetadata)
    .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  const dump = dumps[0];
  return dump ? { dump, globalsOffsite: dump.globalsKey !== undefined && complete.has(dump.globalsKey) } : undefined;
}

/** The archive of the newest configuration backup off-site (an unchanged record stands for the archive it names). */
async function newestConfigBackup(remote: Store): Promise<ConfigMetadata | undefined> {
  const entries = await listConfigBackups(undefined, remote);
  return entries.length > 0 ? resolveConfigBackup(entries, undefined).archive.metadata : undefined;
}

async function withPg<T>(deps: Pick<Deps, 'config'>, target: { host: string; port: number }, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const { db } = deps.config;
  const client = new Client({ host: target.host, port: target.port, user: db.user, password: db.password, database, connectionTimeoutMillis: 10_000, application_name: 'lifeboat dr' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export function createDrActivities(deps: Pick<Deps, 'config' | 'logger' | 'stores' | 'environments' | 'dns' | 'pgTools'>) {
  const { config, logger, stores } = deps;
  const offsite = (): Store => {
    if (!stores.remote) throw new InputInvalid('REMOTE_STORAGE', 'is off: a disaster recovery restores from the off-site store only (the primary host is assumed gone)', 'set REMOTE_STORAGE=true and S3_* so every backup has an off-site copy');
    return stores.remote;
  };

  return {
    /**
     * Decide everything, read-only: defaults from configuration, the newest off-site base backup
     * whose shipped WAL reaches the target (else the newest dump), each bucket's source, the newest
     * configuration backup, the DNS name (and that the provider works). Refuses bad input naming the field.
     */
    async planDisasterRecovery(input: { mode?: 'failover' | 'drill'; pitrTarget?: string; environment?: string; autoApprove?: boolean; workflowId: string }): Promise<DrPlan> {
      const mode = input.mode ?? config.dr.mode;
      if (input.autoApprove === true && mode === 'failover') throw new InputInvalid('autoApprove', 'only drills approve themselves; a failover waits for a human to approve the DNS switch', 'drop autoApprove, or run a drill');
      const autoApprove = mode === 'drill' ? (input.autoApprove ?? config.dr.autoApprove) : false;
      const environment = parseEnvironmentKind(input.environment ?? config.environment.kind, 'environment');
      deps.environments(environment); // the kind's settings are there (InputInvalid naming them otherwise)
      const pitrTarget = (input.pitrTarget ?? config.dr.pitrTarget).trim();
      let target;
      try {
        target = parseTargetTime(pitrTarget, config.restore.timeZone, new Date());
      } catch (error) {
        if (error instanceof InputInvalid) throw new InputInvalid('pitrTarget', error.message.replace(/^--pitr: /, ''), error.hint);
        throw error;
      }
      const remote = offsite();
      const warnings: string[] = [];
      const artifacts: DrPlan['artifacts'] = [];

      // PostgreSQL: the newest base backup off-site whose shipped WAL reaches the target, else the newest dump.
      let postgresPath: DrPlan['postgresPath'] = 'dump';
      let base: DrPlan['base'];
      let fallbackReason: string | undefined;
      const [{ bases }, { files }] = await Promise.all([readBaseBackups(undefined, remote), listArchivedWal(undefined, remote)]);
      if (bases.length === 0) fallbackReason = 'no base backup off-site';
      else if (environment !== 'local') {
        // A recovered cluster is built on this (the backup) host; another environment's PostgreSQL
        // is a server elsewhere, so it gets the newest logical dump.
        fallbackReason = `the ${environment} environment brings its own PostgreSQL server, and point-in-time recovery builds a new cluster on the backup host only (use environment local for it)`;
      } else {
        try {
          const pitr = choosePitrPlan({ target, bases, wal: files });
          assertRecoverable(pitr);
          postgresPath = 'pitr';
          base = { key: pitr.base.key, finishedAt: pitr.base.finishedAt, bytes: pitr.base.bytes, segments: pitr.segments.length };
          artifacts.push({ kind: 'base', key: pitr.base.key, bytes: pitr.base.bytes });
          warnings.push(...pitr.warnings);
        } catch (error) {
          if (!isLifeboatError(error)) throw error;
          fallbackReason = `point-in-time recovery is not possible from the off-site copies: ${error.message}`;
        }
      }
      let dump: DrPlan['dump'];
      if (postgresPath === 'dump') {
        if (!target.latest) throw new InputInvalid('pitrTarget', `${pitrTarget}: ${fallbackReason}`, 'use pitrTarget latest to restore the newest logical dump instead');
        const found = await newestLogicalDump(remote, config.db.name);
        const newest = found?.dump;
        if (!found || !newest) throw new BackupNotFound(`nothing to restore PostgreSQL from: ${fallbackReason}, and no logical dump of ${config.db.name} off-site`, 'check REMOTE_STORAGE and the backups with `lifeboat restore --list`');
        dump = { key: newest.key, finishedAt: newest.finishedAt, bytes: newest.bytes, database: newest.database, ...(found.globalsOffsite ? { globalsKey: newest.globalsKey } : {}) };
        artifacts.push({ kind: 'logical', key: newest.key, bytes: newest.bytes });
        if (!found.globalsOffsite) warnings.push(`no globals backup of ${newest.key} off-site: the new cluster gets no roles from it, and a dump whose objects belong to other roles fails to load`);
        warnings.push(`restoring the newest logical dump (${newest.key}, ${newest.finishedAt}): ${fallbackReason}`);
      }

      // MinIO: the replica when it answers and holds the bucket, else the newest off-site snapshot.
      const snapshotsRemote = remoteSnapshotStore(remote);
      const snapshotFiles = new Map<string, string>();
      for await (const info of snapshotsRemote.list('snapshots/')) {
        const file = info.key.slice('snapshots/'.length);
        const parsed = parseSnapshotFile(file);
        if (!parsed || !(await snapshotsRemote.stat(`snapshots/${file}.metadata.json`))) continue;
        const known = snapshotFiles.get(parsed.bucket);
        if (!known || file > known) snapshotFiles.set(parsed.bucket, file);
      }
      const buckets: DrPlan['buckets'] = [];
      for (const bucket of config.minio.buckets) {
        const replica = stores.minioBackup ? await stores.minioBackup.bucketExists(bucket).catch(() => false) : false;
        if (replica) {
          buckets.push({ bucket, from: 'replica' });
          continue;
        }
        const file = snapshotFiles.get(bucket);
        const metadata: SnapshotMetadata | undefined = file ? await readRemoteSnapshotMetadata(remote, file) : undefined;
        if (!file || !metadata) throw new BackupNotFound(`bucket ${bucket}: the replica does not answer or lacks it, and there is no snapshot off-site`, 'take one with `lifeboat minio snapshot`, or bring the backup MinIO back');
        buckets.push({ bucket, from: 'snapshot', snapshot: file, objects: metadata.objects });
        artifacts.push({ kind: 'snapshot', key: file, bytes: metadata.bytes });
      }

      const configMetadata = await newestConfigBackup(remote).catch(() => undefined);
      if (configMetadata) artifacts.push({ kind: 'config', key: configMetadata.key, bytes: configMetadata.bytes });
      else warnings.push('no configuration backup off-site: step 6 is skipped');

      // DNS: the name this mode switches, and proof the provider works (changes nothing).
      let dns: DrPlan['dns'];
      const record = dnsRecordFor(mode, config.dns);
      if (deps.dns && record) {
        await deps.dns.check();
        dns = { provider: deps.dns.kind, target: deps.dns.target, record };
      } else warnings.push('no DNS provider configured (DR_DNS_PROVIDER=none): step 8 is left to a human');

      const plan: DrPlan = {
        mode, pitrTarget: target.latest ? 'latest' : target.utc, environment, environmentName: environmentNameFor(input.workflowId), autoApprove, postgresPath,
        ...(base ? { base } : {}), ...(dump ? { dump } : {}), ...(fallbackReason && postgresPath === 'dump' ? { fallbackReason } : {}),
        database: config.db.name, buckets, ...(configMetadata ? { configBackup: configMetadata.key } : {}), ...(dns ? { dns } : {}),
        rtoSeconds: config.dr.rtoMinutes * 60, backupHostTaskQueue: config.temporal.backupHostTaskQueue, uiUrl: config.dr.uiUrl, artifacts, warnings,
      };
      logger.info({ mode, postgresPath, base: base?.key, dump: dump?.key, buckets: buckets.length, dns: dns?.record }, 'disaster recovery planned');
      return plan;
    },

    /** Step 2: the new environment (idempotent: the same name gives the same endpoints, restarting what died). */
    async provisionEnvironment(input: { kind: EnvironmentKind; name: string; postgres: 'server' | 'port' }): Promise<ProvisionedEnvironment> {
      const beats = startHeartbeats({ provisioning: input.name }, 5000);
      try {
        return await deps.environments(input.kind).provision(input.name, { postgres: input.postgres });
      } finally {
        beats.stop();
      }
    },

    /**
     * Step 3: every artifact the plan restores, from the off-site store only, into the caches the
     * restores read (`.restore-cache/`), each sha256 checked against its metadata. A retry finds what
     * is already cached and checks it again instead of downloading.
     */
    async downloadOffsiteBackups(input: { plan: DrPlan }): Promise<{ artifacts: { key: string; bytes: number }[]; bytes: number }> {
      const remote = offsite();
      const beats = startHeartbeats<Record<string, unknown>>({ stage: 'starting' }, 5000);
      const done: { key: string; bytes: number }[] = [];
      try {
        for (const artifact of input.plan.artifacts) {
          const progress = (n: number, total: number): void => beats.update({ artifact: artifact.key, bytes: n, of: total, done: done.length, artifacts: input.plan.artifacts.length });
          if (artifact.kind === 'snapshot') {
            const metadata = await readRemoteSnapshotMetadata(remote, artifact.key);
            if (!metadata) throw new BackupNotFound(`snapshot ${artifact.key} is no longer off-site`);
            await ensureLocalCopy(config.minio.backupRoot, metadata as unknown as ArtifactMetadata, remoteSnapshotStore(remote), progress, 'remote');
          } else {
            const text = (await getBuffer(remote, metadataKey(artifact.key)).catch(() => undefined))?.toString('utf8');
            const metadata = text ? parseMetadata(text) : undefined;
            if (!metadata) throw new BackupNotFound(`${artifact.key} has no valid metadata off-site any more`, 'run the recovery again: it re-plans from what is off-site now');
            await ensureLocalCopy(config.backupRoot, metadata, remote, progress, 'remote');
          }
          done.push({ key: artifact.key, bytes: artifact.bytes });
        }
      } finally {
        beats.stop();
      }
      return { artifacts: done, bytes: done.reduce((n, a) => n + a.bytes, 0) };
    },

    /**
     * Step 7: the restored database holds every table of the newest dump's metadata (row counts
     * reported; equal for a dump restore), and each bucket holds the objects of its snapshot
     * manifest or replica, same keys and sizes, with a sample read back and hashed.
     */
    async verifyRestoredEnvironment(input: { plan: DrPlan; postgres: { host: string; port: number }; minio: { endpoint: string } }): Promise<RestoredDataCheck> {
      const problems: string[] = [];
      const beats = startHeartbeats<Record<string, unknown>>({ stage: 'postgres' }, 5000);
      try {
        const database = input.plan.database;
        const tables = await withPg(deps, input.postgres, database, async (c) => {
          const { rows } = await c.query<{ schema: string; name: string }>(
            "SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2",
          );
          const out: { schema: string; name: string; rows: number }[] = [];
          for (const t of rows) {
            const count = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
            out.push({ ...t, rows: Number(count.rows[0]!.n) });
          }
          return out;
        }).catch((error: Error) => {
          problems.push(`PostgreSQL ${input.postgres.host}:${input.postgres.port} database ${database}: ${error.message}`);
          return [];
        });
        const remote = offsite();
        const reference = input.plan.dump ? undefined : (await newestLogicalDump(remote, database).catch(() => undefined))?.dump;
        const expected = input.plan.dump ? ((await getBuffer(remote, metadataKey(input.plan.dump.key)).then((b) => parseMetadata(b.toString('utf8'))).catch(() => undefined)) as LogicalMetadata | undefined) : reference;
        if (expected) {
          for (const t of expected.tables) {
            const found = tables.find((x) => x.schema === t.schema && x.name === t.name);
            if (!found) problems.push(`table ${t.schema}.${t.name} of ${expected.key} is missing from the restored database`);
            else if (input.plan.dump && found.rows !== t.rows) problems.push(`table ${t.schema}.${t.name}: ${found.rows} rows, the dump's metadata says ${t.rows}`);
          }
        }
        const rows = tables.reduce((n, t) => n + t.rows, 0);

        const store = stores.minioAt(input.minio.endpoint);
        const minio: RestoredDataCheck['minio'] = [];
        for (const b of input.plan.buckets) {
          beats.update({ stage: 'minio', bucket: b.bucket });
          const restored = new Map<string, { size: number; etag: string }>();
          try {
            for await (const o of store.list(b.bucket)) restored.set(o.key, { size: o.size, etag: o.etag });
          } catch (error) {
            problems.push(`bucket ${b.bucket} on ${input.minio.endpoint}: ${(error as Error).message}`);
            continue;
          }
          let expectedObjects: { key: string; size: number; sha256?: string }[] = [];
          if (b.from === 'snapshot') {
            const metadata = await readRemoteSnapshotMetadata(remote, b.snapshot!);
            expectedObjects = metadata?.manifest.map((m) => ({ key: m.key, size: m.size, sha256: m.sha256 })) ?? [];
          } else if (stores.minioBackup) {
            for await (const o of stores.minioBackup.list(b.bucket)) expectedObjects.push({ key: o.key, size: o.size });
          }
          for (const e of expectedObjects) {
            const r = restored.get(e.key);
            if (!r) problems.push(`bucket ${b.bucket}: object ${e.key} is missing`);
            else if (r.size !== e.size) problems.push(`bucket ${b.bucket}: object ${e.key} has ${r.size} bytes, expected ${e.size}`);
          }
          // A sample, read back and hashed against the manifest (snapshot) or the replica's bytes.
          let sampled = 0;
          const step = Math.max(1, Math.floor(expectedObjects.length / SAMPLE_OBJECTS));
          for (let i = 0; i < expectedObjects.length && sampled < SAMPLE_OBJECTS; i += step) {
            const e = expectedObjects[i]!;
            if (!restored.has(e.key)) continue;
            const got = await hashObject(store, b.bucket, e.key);
            const want = e.sha256 ?? (stores.minioBackup ? await hashObject(stores.minioBackup, b.bucket, e.key) : undefined);
            if (want && got !== want) problems.push(`bucket ${b.bucket}: object ${e.key} differs (sha256 ${got.slice(0, 12)}…, expected ${want.slice(0, 12)}…)`);
            sampled++;
          }
          minio.push({ bucket: b.bucket, objects: restored.size, expected: expectedObjects.length, sampled });
        }
        const summary = `${tables.length} tables / ${rows} rows in ${database}${expected ? ` (every table of ${expected.key})` : ''}; ${minio.map((m) => `${m.bucket}: ${m.objects}/${m.expected} objects, ${m.sampled} hashed`).join('; ')}${problems.length ? `; ${problems.length} problems` : ''}`;
        return { ok: problems.length === 0, problems, summary, postgres: { database, tables: tables.length, rows, ...(expected ? { comparedWith: expected.key } : {}) }, minio };
      } finally {
        beats.stop();
      }
    },

    /** Step 8, first half: what the name holds now (kept for rollback; a retried switch would see its own value). */
    async readDnsRecord(input: { record: string }): Promise<DnsRecordSet | null> {
      if (!deps.dns) throw new InputInvalid('DR_DNS_PROVIDER', 'is none: there is no DNS provider to read the record with');
      return (await deps.dns.current(input.record)) ?? null;
    },

    /** Step 8: point the name at the new endpoint; read back from the server. */
    async switchDnsRecord(input: { record: string; value: string }): Promise<{ record: string; now: string; changed: boolean }> {
      if (!deps.dns) throw new InputInvalid('DR_DNS_PROVIDER', 'is none: there is no DNS provider to switch the record with');
      const r = await deps.dns.switch(input.record, input.value);
      logger.info({ record: r.record, now: describeRecordSet(r.current), changed: r.changed }, 'dns switched');
      return { record: r.record, now: describeRecordSet(r.current), changed: r.changed };
    },

    /** Step 9: the configured HTTP and SQL checks, and one object per bucket read from the new MinIO. */
    async runDrSmokeChecks(input: { plan: DrPlan; postgres: { host: string; port: number }; minio: { endpoint: string } }): Promise<SmokeChecks> {
      const checks: SmokeChecks['checks'] = [];
      const timed = async (name: string, fn: () => Promise<string>): Promise<void> => {
        const started = Date.now();
        try {
          checks.push({ name, ok: true, detail: await fn(), ms: Date.now() - started });
        } catch (error) {
          checks.push({ name, ok: false, detail: (error as Error).message, ms: Date.now() - started });
        }
      };
      for (const spec of config.dr.httpChecks) {
        const [url, status = '200', text] = spec.split('|');
        await timed(`http ${url}`, async () => {
          const res = await fetch(url!, { signal: AbortSignal.timeout(15_000) });
          const body = await res.text();
          if (res.status !== Number(status)) throw new Error(`status ${res.status}, expected ${status}`);
          if (text && !body.includes(text)) throw new Error(`body does not contain "${text}"`);
          return `status ${res.status}`;
        });
      }
      for (const sql of config.dr.sqlChecks) {
        await timed(`sql ${sql.slice(0, 60)}`, () =>
          withPg(deps, input.postgres, input.plan.database, async (c) => {
            await c.query('BEGIN READ ONLY');
            try {
              const r = await c.query(sql);
              if (r.rows.length === 0) throw new Error('returned no rows');
              return `${r.rows.length} rows`;
            } finally {
              await c.query('ROLLBACK');
            }
          }),
        );
      }
      const store = stores.minioAt(input.minio.endpoint);
      for (const b of input.plan.buckets) {
        await timed(`object read ${b.bucket}`, async () => {
          for await (const o of store.list(b.bucket)) {
            const sha = await hashObject(store, b.bucket, o.key);
            return `${o.key}: ${o.size} bytes read (sha256 ${sha.slice(0, 12)}…)`;
          }
          throw new Error('the bucket is empty');
        });
      }
      return { ok: checks.every((c) => c.ok), checks };
    },

    /**
     * Step 10 (and the end of any run): the report as dr-reports/<id>.json + .md under BACKUP_ROOT,
     * written atomically, then copied off-site. Idempotent (same id, same files).
     */
    async publishDrReport(input: { report: DrReport }): Promise<{ json: string; markdown: string; remote: boolean }> {
      const dir = join(config.backupRoot, DR_REPORTS_DIR);
      mkdirSync(dir, { recursive: true });
      const base = input.report.id.replace(/[^A-Za-z0-9._-]+/g, '-');
      const files = { json: `${base}.json`, markdown: `${base}.md` };
      const bodies = { json: `${JSON.stringify(input.report, null, 2)}\n`, markdown: renderDrReport(input.report) };
      for (const k of ['markdown', 'json'] as const) writeFileAtomic(join(dir, files[k]), bodies[k], 0o640);
      let remote = false;
      if (stores.remote) {
        for (const k of ['markdown', 'json'] as const) await stores.remote.put(`${DR_REPORTS_DIR}/${files[k]}`, Buffer.from(bodies[k]), { contentType: k === 'json' ? 'application/json' : 'text/markdown' });
        remote = true;
      }
      return { json: join(dir, files.json), markdown: join(dir, files.markdown), remote };
    },

    /**
     * After a failover, re-protect the new primary: its WAL is archived into the WAL archive
     * (archive_mode on, Lifeboat's `wal archive`; a recovered cluster is restarted for that), and
     * the settings that point Lifeboat at it are written to dr-reports/<id>.new-primary.env (no
     * secrets). The first base backup follows as a child workflow. Idempotent.
     */
    async protectNewPrimary(input: { workflowId: string; postgres: { host: string; port: number }; minio?: { endpoint: string }; pitrDataDir?: string }): Promise<{ archiveCommand: string; restarted: boolean; envFile: string }> {
      const archiveCommand = walArchiveCommand(walArchiveDir(config.backupRoot));
      const beats = startHeartbeats({ protecting: input.postgres }, 5000);
      try {
        const mode = await withPg(deps, input.postgres, 'postgres', async (c) => {
          const current = (await c.query<{ mode: string; command: string }>("SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command")).rows[0]!;
          if (current.command !== archiveCommand) await c.query(`ALTER SYSTEM SET archive_command = '${archiveCommand.replace(/'/g, "''")}'`);
          if (current.mode !== 'on') await c.query("ALTER SYSTEM SET archive_mode = 'on'");
          await c.query('SELECT pg_reload_conf()');
          return current.mode;
        });
        let restarted = false;
        if (mode !== 'on') {
          if (!input.pitrDataDir) throw new InputInvalid('postgres', `archive_mode is ${mode} on ${input.postgres.host}:${input.postgres.port} and the server is not one Lifeboat can restart`, 'set archive_mode = on there and restart it, then take a base backup');
          // archive_mode needs a restart: the recovered cluster is ours (under RESTORE_DATA_ROOT).
          const paths = recoveryPathsOf(runDirOf(input.pitrDataDir));
          await stopCluster(deps.pgTools.path('pg_ctl', 15), paths, clusterOwner());
          await startCluster(deps.pgTools.path('pg_ctl', 15), paths, clusterOwner());
          restarted = true;
        }
        const dir = join(config.backupRoot, DR_REPORTS_DIR);
        mkdirSync(dir, { recursive: true });
        const envFile = join(dir, `${input.workflowId.replace(/[^A-Za-z0-9._-]+/g, '-')}.new-primary.env`);
        writeFileAtomic(envFile, [
          `# The new primary after disaster recovery ${input.workflowId} (${new Date().toISOString()}).`,
          '# Merge into the env file (/etc/default/corporate-intel-backup) and restart the workers to protect it;',
          '# secrets (PGPASSWORD, MinIO keys) stay as they are: the new servers use the same credentials.',
          `DB_HOST=${input.postgres.host}`,
          `DB_PORT=${input.postgres.port}`,
          ...(input.minio ? [`MINIO_SOURCE_ENDPOINT=${input.minio.endpoint}`] : []),
          '',
        ].join('\n'), 0o640);
        logger.info({ postgres: input.postgres, restarted, envFile }, 'new primary archives its WAL');
        return { archiveCommand, restarted, envFile };
      } finally {
        beats.stop();
      }
    },

    /**
     * A drill's cleanup (SRM's "cleanup"): the recovered cluster, the drill DNS name, the environment.
     * Each part is idempotent; what is already gone is skipped.
     */
    async cleanupDrill(input: { plan: DrPlan; environment?: string; pitrDataDir?: string; dnsRecord?: string }): Promise<{ removed: string[] }> {
      if (input.plan.mode !== 'drill') throw new InputInvalid('mode', 'only a drill is cleaned up; a failover keeps what it built');
      const removed: string[] = [];
      const beats = startHeartbeats({ cleaning: true }, 5000);
      try {
        if (input.pitrDataDir) {
          const paths = recoveryPathsOf(runDirOf(input.pitrDataDir));
          if (existsSync(paths.runDir)) {
            await stopCluster(deps.pgTools.path('pg_ctl', 15), paths, clusterOwner()).catch(() => undefined);
            rmSync(paths.runDir, { recursive: true, force: true });
            removed.push(`recovered cluster ${paths.runDir}`);
          }
        }
        if (input.dnsRecord && deps.dns) {
          if (input.dnsRecord !== input.plan.dns?.record || input.plan.mode !== 'drill') throw new InputInvalid('dnsRecord', `${input.dnsRecord} is not this drill's DNS name`);
          const r = await deps.dns.remove(input.dnsRecord);
          if (r.changed) removed.push(`DNS ${input.dnsRecord}`);
        }
        if (input.environment) {
          await deps.environments(input.plan.environment).teardown(input.environment);
          removed.push(`environment ${input.environment}`);
        }
        // What step 3 downloaded into the restore caches (a later drill must download again to measure its RTO).
        let cached = 0;
        for (const a of input.plan.artifacts) {
          const path = a.kind === 'snapshot' ? join(config.minio.backupRoot, RESTORE_CACHE, localSnapshotKey(a.key)) : join(config.backupRoot, RESTORE_CACHE, a.key);
          if (existsSync(path)) {
            rmSync(path, { force: true });
            cached++;
          }
        }
        if (cached > 0) removed.push(`${cached} downloaded artifacts`);
      } finally {
        beats.stop();
      }
      return { removed };
    },
  };
}

async function hashObject(store: { get(bucket: string, key: string): Promise<{ body: NodeJS.ReadableStream } | undefined> }, bucket: string, key: string): Promise<string> {
  const object = await store.get(bucket, key);
  if (!object) throw new Error(`${key} is missing`);
  const hash = createHash('sha256');
  for await (const chunk of object.body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

