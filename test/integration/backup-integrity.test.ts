/**
 * A backup recorded as good is good (issue 9), on the real stack: many backups of a tiny database
 * at once on two cores (where a consumer attached late once lost globals files) each decode to the
 * exact byte count the producer wrote; the metadata records how each artifact was proven; and a
 * worker killed mid-dump leaves no pg_dump, zstd or connection behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetadata } from '../../lib/catalog/metadata';
import type { Config } from '../../lib/config/load';
import { loadPublicKey, type EncryptionKey } from '../../lib/crypto/openpgp';
import { dumpDatabase, dumpGlobals } from '../../lib/postgres/dump';
import { startTicksOf } from '../../lib/pipeline/child';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import { stackEnvFile, startTestWorker, testConfig, uniqueQueues, type TestWorkerHandle } from './helpers';

const TINY = `lifeboat_tiny_${process.pid}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function admin(config: Config, database = 'postgres'): PgClient {
  return new PgClient({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database });
}

/** gpg -d | zstd -d of a file, as an operator would: the decoded bytes. */
function decode(config: Config, file: string): Buffer {
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', `gpg --homedir '${config.encryption.gnupgHome}' --batch --quiet --decrypt '${file}' | zstd -d -q -c`], { maxBuffer: 1 << 28 });
  expect(result.status, result.stderr.toString()).toBe(0);
  return result.stdout;
}

let base: Config;
beforeAll(async () => {
  base = testConfig();
  const c = admin(base);
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${TINY} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${TINY}`);
  await c.end();
  const t = admin(base, TINY);
  await t.connect();
  await t.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
  await t.query("INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 50) g");
  await t.end();
});
afterAll(async () => {
  const c = admin(base);
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${TINY} WITH (FORCE)`);
  await c.end();
});

describe('concurrent backups of a tiny database', () => {
  let root: string;
  let config: Config;
  let key: EncryptionKey;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-integrity-'));
    config = testConfig({ DB_NAME: TINY, BACKUP_ROOT: root });
    key = await loadPublicKey(config.encryption);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('20 concurrent globals + dump pipelines each decode to the byte count the producer wrote', async () => {
    const compression = { algorithm: 'zstd' as const, level: 1 };
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        Promise.all([
          dumpGlobals({ db: config.db, target: join(root, 'daily', `globals_${i}.sql.zst.gpg`), compression, encryptionKey: key, serverMajor: 15 }),
          dumpDatabase({ db: config.db, target: join(root, 'daily', `${TINY}_${i}.sql.zst.gpg`), format: 'plain', compression, encryptionKey: key }),
        ]),
      ),
    );
    process.stdout.write(`[integrity] 40 concurrent pipelines in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    results.forEach(([globals, dump], i) => {
      const g = decode(config, join(root, 'daily', `globals_${i}.sql.zst.gpg`));
      expect(g.length).toBe(globals.rawBytes);
      expect(g.length).toBeGreaterThan(100);
      expect(g.toString()).toContain('-- PostgreSQL database cluster dump complete');
      expect(globals.proof).toMatchObject({ method: 'decoded-file', decodedBytes: g.length });
      const d = decode(config, join(root, 'daily', `${TINY}_${i}.sql.zst.gpg`));
      expect(d.length).toBe(dump.rawBytes);
      expect(d.toString()).toContain('note 50');
      expect(d.toString()).toContain('-- PostgreSQL database dump complete');
    });
    // Nothing half-written left behind.
    expect(readdirSync(join(root, 'daily')).filter((n) => n.endsWith('.partial'))).toEqual([]);
  });

  describe('through Temporal', () => {
    let worker: TestWorkerHandle;
    beforeAll(async () => {
      worker = await startTestWorker({ overrides: { DB_NAME: TINY, BACKUP_ROOT: root, REMOTE_STORAGE: 'false' } });
    });
    afterAll(async () => worker?.stop());

    it('three concurrent backupDatabase runs record globals and dumps with their raw size and proof', async () => {
      const runs = await Promise.all(
        (['daily', 'weekly', 'monthly'] as const).map((tier) =>
          worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-integrity-${tier}-${Date.now()}`, args: [{ tier }] }) as Promise<BackupDatabaseResult>,
        ),
      );
      for (const run of runs) {
        for (const artifact of [run.globalsKey, run.key]) {
          const file = join(root, artifact);
          const metadata = parseMetadata(readFileSync(`${file}.metadata.json`, 'utf8'))!;
          const decoded = decode(worker.config, file);
          expect(metadata.rawBytes).toBe(decoded.length);
          expect(metadata.proof).toMatchObject({ method: 'decoded-file', decodedBytes: decoded.length });
          expect(decoded.length).toBeGreaterThan(100);
        }
      }
    });
  });
});

/** PIDs of the live descendants of `pid` with their command names. */
function descendants(pid: number): { pid: number; name: string }[] {
  const children = new Map<number, { pid: number; name: string }[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), { pid: Number(entry), name }]);
    } catch {
      // gone
    }
  }
  const out: { pid: number; name: string }[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c.pid)));
  walk(pid);
  return out;
}

describe('a worker killed mid-dump', () => {
  let root: string;
  let worker: ChildProcess | undefined;
  let locker: PgClient | undefined;
  let temporal: Client;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-killed-'));
    temporal = new Client({ connection: await Connection.connect({ address: base.temporal.address }), namespace: base.temporal.namespace });
  });
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await locker?.end().catch(() => undefined);
    await temporal?.connection.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A lock on the tiny database's table (pg_dump waits on it), and a worker process on fresh queues. */
  async function blockedDump(extraEnv: Record<string, string>) {
    const queues = uniqueQueues();
    const overrides = { ...queues, DB_NAME: TINY, BACKUP_ROOT: root, REMOTE_STORAGE: 'false' };
    const config = testConfig(overrides);
    // pg_dump blocks on this lock (and holds its connection and exported snapshot) until it ends.
    locker = admin(config, TINY);
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE notes IN ACCESS EXCLUSIVE MODE');
    const env = { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile(), LOG_LEVEL: 'warn', ...overrides, ...extraEnv };
    const startWorker = () => spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'lifeboat.js'), 'worker'], { env, stdio: 'ignore' });
    worker = startWorker();
    const handle = await temporal.workflow.start('backupDatabase', { taskQueue: config.temporal.taskQueue, workflowId: `test-killed-dump-${Date.now()}`, args: [{ tier: 'daily' }] });
    // Wait for pg_dump (under the worker) to be waiting on the lock.
    let tools: { pid: number; name: string }[] = [];
    for (let i = 0; i < 300; i++) {
      tools = descendants(worker.pid!).filter((t) => t.name === 'pg_dump' || t.name === 'zstd');
      const waiting = await locker.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'lifeboat pg_dump' AND wait_event_type = 'Lock'");
      if (tools.some((t) => t.name === 'pg_dump') && waiting.rows[0].n > 0) break;
      await sleep(100);
    }
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['pg_dump', 'zstd']));
    return { handle, tools, startWorker };
  }

  it('leaves no pg_dump or zstd running 5 s later, and no connection of it in pg_stat_activity', async () => {
    const { handle, tools } = await blockedDump({});
    try {
      worker!.kill('SIGKILL');
      await new Promise((r) => worker!.once('exit', r));
      await sleep(5000);
      // Every tool of that attempt is gone (the kernel killed them with the worker) ...
      expect(tools.filter((t) => startTicksOf(t.pid) !== undefined)).toEqual([]);
      // ... and so are their connections, though the lock they waited for is still held.
      const left = await locker!.query("SELECT application_name, state, wait_event_type FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'lifeboat%'", [TINY]);
      expect(left.rows).toEqual([]);
    } finally {
      await locker!.query('ROLLBACK').catch(() => undefined);
      await locker!.end().catch(() => undefined);
      locker = undefined;
      await handle.terminate('test over').catch(() => undefined);
    }
  });

  it('without setpriv, the retry on a new worker stops what the killed attempt left, then completes', async () => {
    // LIFEBOAT_NO_PDEATHSIG=1 stands for a machine without util-linux setpriv: the tools survive
    // the worker; the retry finds them in the heartbeat details (same boot, PID and start time).
    const { handle, tools, startWorker } = await blockedDump({ LIFEBOAT_NO_PDEATHSIG: '1' });
    try {
      worker!.kill('SIGKILL');
      await new Promise((r) => worker!.once('exit', r));
      await sleep(2000);
      expect(tools.filter((t) => startTicksOf(t.pid) !== undefined).map((t) => t.name)).toContain('pg_dump');
      worker = startWorker();
      // The retry comes after the heartbeat timeout (1 minute): it kills the leftovers first.
      for (let i = 0; i < 150 && tools.some((t) => startTicksOf(t.pid) !== undefined); i++) await sleep(1000);
      expect(tools.filter((t) => startTicksOf(t.pid) !== undefined)).toEqual([]);
      await locker!.query('ROLLBACK');
      const result = (await handle.result()) as BackupDatabaseResult;
      expect(result.key).toMatch(/^daily\//);
    } finally {
      await locker!.query('ROLLBACK').catch(() => undefined);
      await handle.terminate('test over').catch(() => undefined);
    }
  }, 240_000);
});
