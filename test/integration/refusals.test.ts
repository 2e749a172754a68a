/**
 * "Refusals write nothing" on the real stack (issue 9, item 6):
 *  - a snapshot restore refused for a hostile archive (`..`, absolute path, link, device), an archive
 *    that does not match its metadata, or a manifest that does not match the archive, leaves no
 *    target bucket behind (workflow and CLI, exit 5 / 6); an accepted one creates it;
 *  - a production-replace restore cancelled while waiting for approval (or failing its check) drops
 *    its staged database and leaves production untouched;
 *  - prune sweeps `.partial` temp files older than the longest activity timeout in every folder
 *    Lifeboat writes into, lists them on a dry run (`lifeboat prune --dry-run` too), keeps fresh ones.
 * Each part has its own BACKUP_ROOT / MINIO_BACKUP_ROOT in a temp dir and unique bucket/database names.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WorkflowFailedError } from '@temporalio/client';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config/load';
import type { ManifestEntry, SnapshotMetadata } from '../../lib/minio/metadata';
import { snapshotName } from '../../lib/minio/names';
import type { PruneBackupsResult } from '../../workflows/prune-backups';
import type { RestoreBucketResult } from '../../workflows/restore-bucket';
import type { RestoreState } from '../../workflows/restore-database';
import { queryDb, runLifeboat, startTestWorker, type TestWorkerHandle } from './helpers';

/** The CLI against the test stack, on the test worker's queue and temp roots. */
const cli = (args: string[], env: Record<string, string>) => runLifeboat(args, env, 120_000);
import { dropBucket, failureOf, readBucket, sha256, stores, testBucket } from './minio-helpers';

const FIXTURES = join(__dirname, '..', 'fixtures');
const FIXTURE_KEY = 'daily/fixture_db_daily_20250101-000000.sql.zst.gpg';


const run = <T>(worker: TestWorkerHandle, type: string, input: unknown): Promise<T> =>
  worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId: `test-${type}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`, args: [input] }) as Promise<T>;

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  body?: Buffer;
  linkname?: string;
}

describe('a refused snapshot restore leaves no target bucket', () => {
  const evil = testBucket('refuse');
  let dir: string;
  let snapshotDir: string;
  let worker: TestWorkerHandle;
  const buckets: string[] = [];
  let stampCounter = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-refusals-snap-'));
    snapshotDir = join(dir, 'minio', 'snapshots');
    mkdirSync(snapshotDir, { recursive: true });
    worker = await startTestWorker({ overrides: { BACKUP_ROOT: join(dir, 'backups'), MINIO_BACKUP_ROOT: join(dir, 'minio'), REMOTE_STORAGE: 'false' } });
  });
  afterAll(async () => {
    const { source } = stores(worker.config);
    for (const b of buckets) await dropBucket(source, b);
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const good = Buffer.from('good object');
  const other = Buffer.from('another good object');

  /**
   * Write `<evil>_<stamp>.tar.gz` with `entries` under its root, and metadata that matches the
   * archive unless `tweak` changes it. Returns the file name.
   */
  async function plant(entries: (root: string) => Entry[], tweak: (m: SnapshotMetadata) => void = () => undefined): Promise<string> {
    const stamp = `20250101-${String(100000 + stampCounter++).slice(-6)}`;
    const name = snapshotName(evil, stamp, { compression: 'gzip', encrypted: false });
    const pack = tar.pack();
    for (const e of entries(name.root)) pack.entry({ name: e.name, type: e.type ?? 'file', size: e.body?.length ?? 0, mtime: new Date(0), mode: 0o644, linkname: e.linkname }, e.body ?? Buffer.alloc(0));
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
    const archive = gzipSync(Buffer.concat(chunks));
    writeFileSync(join(snapshotDir, name.file), archive);
    const manifest: ManifestEntry[] = [
      { key: 'ok.txt', size: good.length, etag: '', sha256: sha256(good), contentType: 'text/plain', metadata: {}, modified: new Date(0).toISOString() },
      { key: 'dir/other.txt', size: other.length, etag: '', sha256: sha256(other), contentType: 'text/plain', metadata: { origin: 'test' }, modified: new Date(0).toISOString() },
    ];
    const metadata: SnapshotMetadata = {
      format: 'lifeboat/1', kind: 'minio-snapshot', key: `snapshots/${name.file}`, file: name.file, bucket: evil, stamp, root: name.root,
      sha256: sha256(archive), bytes: archive.length, rawBytes: 0, objects: manifest.length, objectBytes: good.length + other.length, compression: { algorithm: 'gzip', level: 6 }, encryption: { enabled: false },
      source: { endpoint: worker.config.minio.source.endpoint }, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), durationSeconds: 0, lifeboatVersion: 'test',
      manifest,
    };
    tweak(metadata);
    writeFileSync(join(snapshotDir, `${name.file}.metadata.json`), JSON.stringify(metadata));
    return name.file;
  }

  const goodEntries = (root: string): Entry[] => [
    { name: `${root}/ok.txt`, body: good },
    { name: `${root}/dir/`, type: 'directory' },
    { name: `${root}/dir/other.txt`, body: other },
  ];
  /** The good entries with `bad` in the middle, so one good object precedes the refusal. */
  const withBad = (bad: (root: string) => Entry) => (root: string): Entry[] => {
    const [first, ...rest] = goodEntries(root);
    return [first!, bad(root), ...rest];
  };

  const cases: [string, () => Promise<string>, string, RegExp][] = [
    ['a ../ entry', () => plant(withBad((root) => ({ name: `${root}/../escaped.txt`, body: Buffer.from('evil') }))), 'OperationRefused', /"\.\." segment/],
    ['an absolute path', () => plant(withBad(() => ({ name: '/tmp/lifeboat-escaped.txt', body: Buffer.from('evil') }))), 'OperationRefused', /absolute path/],
    ['a symbolic link', () => plant(withBad((root) => ({ name: `${root}/passwd`, type: 'symlink', linkname: '/etc/passwd' }))), 'OperationRefused', /is a symlink/],
    ['a hard link', () => plant(withBad((root) => ({ name: `${root}/hard`, type: 'link', linkname: `${root}/ok.txt` }))), 'OperationRefused', /is a link/],
    ['a device', () => plant(withBad((root) => ({ name: `${root}/null`, type: 'character-device' }))), 'OperationRefused', /is a character-device/],
    ['an archive whose sha256 is not the recorded one', () => plant(goodEntries, (m) => { m.sha256 = sha256(Buffer.from('something else')); }), 'ChecksumMismatch', /sha256/],
    ['an object that differs from its manifest entry', () => plant(goodEntries, (m) => { m.manifest[1]!.sha256 = sha256(Buffer.from('tampered')); }), 'ChecksumMismatch', /does not match the manifest/],
    ['a manifest entry the archive lacks', () => plant(goodEntries, (m) => { m.manifest.push({ ...m.manifest[0]!, key: 'missing.txt' }); }), 'ChecksumMismatch', /lacks 1 object/],
    ['an archive entry the manifest lacks', () => plant(goodEntries, (m) => { m.manifest.splice(1, 1); }), 'OperationRefused', /not in the snapshot's manifest/],
  ];

  it.each(cases)('refuses %s before creating the bucket', async (_what, make, type, why) => {
    const file = await make();
    const target = testBucket('target');
    buckets.push(target);
    const failure = await failureOf(run(worker, 'restoreBucket', { snapshot: file, targetBucket: target }));
    expect(failure.type).toBe(type);
    expect(failure.message).toMatch(why);
    expect(await stores(worker.config).source.bucketExists(target)).toBe(false);
  });

  it('the CLI exits 5 (refused) or 6 (integrity) and no bucket appears', async () => {
    const env = { LIFEBOAT_TASK_QUEUE: worker.taskQueue, LIFEBOAT_HOST: worker.config.temporal.host, MINIO_BACKUP_ROOT: join(dir, 'minio'), BACKUP_ROOT: join(dir, 'backups'), REMOTE_STORAGE: 'false' };
    const { source } = stores(worker.config);
    const hostile = await cases[0]![1]();
    const mismatched = await cases[5]![1]();
    for (const [file, code, message] of [[hostile, 5, /"\.\." segment/], [mismatched, 6, /sha256/]] as const) {
      const target = testBucket('cli');
      buckets.push(target);
      const result = await cli(['minio', 'restore', file, '--target-bucket', target], env);
      expect(result.stderr).toMatch(message);
      expect(result.status, result.stderr).toBe(code);
      expect(await source.bucketExists(target)).toBe(false);
    }
  });

  it('an accepted archive creates the bucket and restores every object', async () => {
    const file = await plant(goodEntries);
    const target = testBucket('accepted');
    buckets.push(target);
    const result = await run<RestoreBucketResult>(worker, 'restoreBucket', { snapshot: file, targetBucket: target });
    expect(result).toMatchObject({ from: 'snapshot', targetBucket: target, restored: 2, createdBucket: true });
    const objects = await readBucket(stores(worker.config).source, target);
    expect([...objects.keys()].sort()).toEqual(['dir/other.txt', 'ok.txt']);
    expect(objects.get('dir/other.txt')).toMatchObject({ sha256: sha256(other), contentType: 'text/plain', metadata: { origin: 'test' } });
    // Into an existing empty bucket: not created, still restored.
    const empty = testBucket('empty');
    buckets.push(empty);
    await stores(worker.config).source.ensureBucket(empty);
    expect(await run<RestoreBucketResult>(worker, 'restoreBucket', { snapshot: file, targetBucket: empty })).toMatchObject({ restored: 2, createdBucket: false });
  });
});

describe('a refused replica restore leaves no target bucket', () => {
  let worker: TestWorkerHandle;
  const replica = testBucket('replica');
  const targets: string[] = [];
  beforeAll(async () => {
    worker = await startTestWorker({ overrides: { REMOTE_STORAGE: 'false' } });
    const { backup } = stores(worker.config);
    await backup.ensureBucket(replica);
    await backup.putBuffer(replica, 'a/b.txt', Buffer.from('from the replica'), { contentType: 'text/plain', metadata: {} });
  });
  afterAll(async () => {
    const { source, backup } = stores(worker.config);
    for (const b of targets) await dropBucket(source, b);
    await dropBucket(backup, replica);
    await worker?.stop();
  });

  it('a replica bucket that does not exist: refused, no target bucket; an existing one creates it', async () => {
    const { source } = stores(worker.config);
    const missing = testBucket('norepl');
    const target = testBucket('replt');
    targets.push(target);
    const failure = await failureOf(run(worker, 'restoreBucket', { fromReplica: missing, targetBucket: target }));
    expect(failure).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(/does not exist/) });
    expect(await source.bucketExists(target)).toBe(false);
    const result = await run<RestoreBucketResult>(worker, 'restoreBucket', { fromReplica: replica, targetBucket: target });
    expect(result).toMatchObject({ from: 'replica', restored: 1, createdBucket: true });
    expect([...(await readBucket(source, target)).keys()]).toEqual(['a/b.txt']);
  });
});

describe('a production-replace restore that does not swap leaves no staged database', () => {
  const production = `refuse_prod_${Date.now()}`;
  let dir: string;
  let worker: TestWorkerHandle;

  const databases = async (config: Config): Promise<string[]> =>
    (await queryDb<{ datname: string }>(config, 'postgres', `SELECT datname FROM pg_database WHERE datname LIKE '${production.slice(0, 28)}%' ORDER BY 1`)).map((r) => r.datname);
  const productionRows = async (config: Config): Promise<string[]> => (await queryDb<{ note: string }>(config, production, 'SELECT note FROM marker ORDER BY id')).map((r) => r.note);

  /** The fixture backup (fixture key) under a unique stamp in our BACKUP_ROOT; `tweak` edits its metadata. */
  function placeFixture(config: Config, tweak: (m: { tables: { rows: number }[] }) => void = () => undefined): string {
    const stamp = `2025${String(Math.floor(Math.random() * 1e4)).padStart(4, '0')}-${String(Date.now() % 1e6).padStart(6, '0')}`;
    const key = `daily/fixture_db_daily_${stamp}.sql.zst.gpg`;
    const target = join(config.backupRoot, key);
    mkdirSync(join(config.backupRoot, 'daily'), { recursive: true });
    copyFileSync(join(FIXTURES, 'backups', 'good', FIXTURE_KEY), target);
    const metadata = JSON.parse(readFileSync(join(FIXTURES, 'backups', 'good', `${FIXTURE_KEY}.metadata.json`), 'utf8')) as { tables: { rows: number }[] };
    tweak(metadata);
    writeFileSync(`${target}.metadata.json`, JSON.stringify({ ...metadata, key, file: key.split('/')[1] }, null, 2));
    return key;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-refusals-db-'));
    // A production database of our own, so the suite's `corporate_intel` is never involved.
    const base = await startTestWorker({ overrides: { REMOTE_STORAGE: 'false' } });
    try {
      await queryDb(base.config, 'postgres', `CREATE DATABASE ${production}`);
    } finally {
      await base.stop();
    }
    worker = await startTestWorker({ overrides: { DB_NAME: production, BACKUP_ROOT: join(dir, 'backups'), REMOTE_STORAGE: 'false', GPG_PRIVATE_KEY_FILE: join(FIXTURES, 'keys', 'fixture-private.asc') } });
    await queryDb(worker.config, production, "CREATE TABLE marker (id int PRIMARY KEY, note text); INSERT INTO marker VALUES (1, 'production before the restore')");
  });
  afterAll(async () => {
    if (worker) {
      for (const db of await databases(worker.config)) await queryDb(worker.config, 'postgres', `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      await worker.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('cancelled while waiting for approval: the staged database is dropped, production untouched', async () => {
    const key = placeFixture(worker.config);
    const handle = await worker.env.client.workflow.start('restoreDatabase', { taskQueue: worker.taskQueue, workflowId: `test-refuse-cancel-${Date.now()}`, args: [{ backup: key, replaceProduction: true }] });
    let state: RestoreState | undefined;
    for (let i = 0; i < 600; i++) {
      state = await handle.query<RestoreState>('progress');
      if (state.stage === 'awaiting-approval' || state.stage === 'failed') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(state?.stage).toBe('awaiting-approval');
    const staged = state!.database!;
    expect(staged).toMatch(new RegExp(`^${production}_restore_\\d{8}_\\d{6}_[0-9a-f]{6}$`));
    expect(await databases(worker.config)).toEqual([production, staged].sort());

    await handle.cancel();
    const outcome = await handle.result().catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(WorkflowFailedError);
    expect(((outcome as WorkflowFailedError).cause as Error).name).toBe('CancelledFailure');
    // No staged copy, no kept copy: only production, with its own contents.
    expect(await databases(worker.config)).toEqual([production]);
    expect(await productionRows(worker.config)).toEqual(['production before the restore']);
    // The cleanup ran as an activity after the cancellation.
    const history = await handle.fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType?.name ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    expect(scheduled).toContain('dropStagedDatabase');
    expect(scheduled).not.toContain('replaceDatabase');
  });

  it('failing its check before the swap: the staged database is dropped too', async () => {
    const key = placeFixture(worker.config, (m) => {
      m.tables[0]!.rows += 1;
    });
    const failure = await failureOf(worker.env.client.workflow.execute('restoreDatabase', { taskQueue: worker.taskQueue, workflowId: `test-refuse-check-${Date.now()}`, args: [{ backup: key, replaceProduction: true }] }));
    expect(failure).toMatchObject({ type: 'ChecksumMismatch' });
    expect(await databases(worker.config)).toEqual([production]);
    expect(await productionRows(worker.config)).toEqual(['production before the restore']);
  });
});

describe('prune sweeps stale .partial temp files', () => {
  const HOUR = 3600_000;
  let dir: string;
  let worker: TestWorkerHandle;
  const old: string[] = [];
  const fresh: string[] = [];

  function partial(path: string, ageMs: number): string {
    const full = join(dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, Buffer.alloc(1000, 1));
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(full, t, t);
    return full;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-refusals-prune-'));
    worker = await startTestWorker({ overrides: { BACKUP_ROOT: join(dir, 'backups'), MINIO_BACKUP_ROOT: join(dir, 'minio'), REMOTE_STORAGE: 'false' } });
    // Killed runs' leftovers in every folder Lifeboat writes into, older than the 12 h upload timeout...
    for (const path of [
      'backups/daily/.corporate_intel_daily_20250101-010000.sql.zst.gpg.0a1b2c3d.partial',
      'backups/weekly/.globals_20250101-010000.sql.zst.gpg.1b2c3d4e.partial',
      'backups/base/20250101-010000/.base.tar.zst.gpg.2c3d4e5f.partial',
      'backups/config/.config_20250101-010000.tar.zst.gpg.3d4e5f60.partial',
      'backups/wal-archive/.000000010000000000000001.4e5f6071.partial',
      'backups/.restore-cache/daily/.x_daily_20250101-010000.sql.zst.gpg.5f607182.partial',
      'minio/snapshots/.company-data_20250101-010000.tar.gz.gpg.60718293.partial',
    ]) old.push(partial(path, 13 * HOUR));
    // ...and files a live run may still be writing (or not ours), which stay.
    fresh.push(partial('backups/daily/.corporate_intel_daily_20250102-010000.sql.zst.gpg.718293a4.partial', 11 * HOUR));
    fresh.push(partial('minio/snapshots/.company-data_20250102-010000.tar.gz.gpg.8293a4b5.partial', 60_000));
    fresh.push(partial('backups/metrics/not-hidden.partial', 40 * HOUR));
  });
  afterAll(async () => {
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a dry run (workflow and `lifeboat prune --dry-run`) lists the stale ones and removes nothing', async () => {
    const result = await run<PruneBackupsResult>(worker, 'pruneBackups', { dryRun: true });
    expect(result.partials).toMatchObject({ dryRun: true, minAgeSeconds: 12 * 3600, bytesFreed: 0 });
    expect(result.partials.files.map((f) => f.path).sort()).toEqual([...old].sort());
    const out = await cli(['prune', '--dry-run'], { LIFEBOAT_TASK_QUEUE: worker.taskQueue, LIFEBOAT_HOST: worker.config.temporal.host, BACKUP_ROOT: join(dir, 'backups'), MINIO_BACKUP_ROOT: join(dir, 'minio'), REMOTE_STORAGE: 'false' });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/stale temp files \(untouched > 12 h\): 7 to remove/);
    for (const path of old) expect(out.stdout).toContain(`would remove ${path}`);
    for (const path of [...old, ...fresh]) expect(existsSync(path), path).toBe(true);
  });

  it('removes those older than the longest activity timeout, reports and logs them, keeps the rest', async () => {
    const result = await run<PruneBackupsResult>(worker, 'pruneBackups', {});
    expect(result.partials).toMatchObject({ dryRun: false, bytesFreed: 7000 });
    expect(result.partials.files.map((f) => f.path).sort()).toEqual([...old].sort());
    for (const path of old) expect(existsSync(path), path).toBe(false);
    for (const path of fresh) expect(existsSync(path), path).toBe(true);
    const log = readFileSync(join(dir, 'backups', 'logs', 'prune.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; kind: string });
    expect(log.filter((e) => e.kind === 'partial').map((e) => e.key).sort()).toEqual([...old].sort());
    // Nothing stale is left: a second prune removes nothing.
    expect((await run<PruneBackupsResult>(worker, 'pruneBackups', {})).partials.files).toEqual([]);
  });
});
