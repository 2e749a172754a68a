/**
 * Inputs that are not what they claim, refused before anything is written or started:
 * `lifeboat wal archive %p %f` (the real CLI, as PostgreSQL runs it) refuses a file that is not the
 * WAL segment its name says, archives a real segment of the test stack's PostgreSQL, and on a full
 * file system says where and how much space is left; `lifeboat minio backup|mirror|verify --bucket`
 * refuses a bucket the source MinIO does not have, without starting a workflow.
 */
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAL_FILE_PATTERN } from '../../lib/catalog/names';
import { pgClientConfig } from '../../lib/postgres/connection';
import { stackEnvFile, testConfig } from './helpers';

const root = join(__dirname, '..', '..');
const cli = join(root, 'bin', 'lifeboat.js');
const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-wal-input-'));
const emptyEnvFile = join(scratch, 'empty.env');
writeFileSync(emptyEnvFile, '');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function lifeboat(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> & { ms: number } {
  const started = Date.now();
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LIFEBOAT_ENV_FILE: emptyEnvFile, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { ...result, ms: Date.now() - started };
}

/** bin/lifeboat.js runs dist/: it must hold this change. */
function expectBuilt(): void {
  for (const [source, built] of [['lib/wal/segment.ts', 'dist/lib/wal/segment.js'], ['lib/wal/archive.ts', 'dist/lib/wal/archive.js'], ['client/commands/minio.ts', 'dist/client/commands/minio.js']] as const) {
    expect(existsSync(join(root, built)) && statSync(join(root, built)).mtimeMs >= statSync(join(root, source)).mtimeMs, `${built} is older than ${source}: run npx tsc -p tsconfig.build.json`).toBe(true);
  }
}

const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

/** A segment the test stack's PostgreSQL archived (closing one with pg_switch_wal() when there is none yet). */
async function realSegment(): Promise<{ name: string; path: string }> {
  const config = testConfig();
  const archive = join(config.backupRoot, 'wal-archive');
  const segments = (): string[] => entries(archive).filter((n) => /^[0-9A-F]{24}$/.test(n));
  if (segments().length === 0) {
    const pg = new Client(pgClientConfig(config.db));
    await pg.connect();
    try {
      await pg.query("SELECT pg_logical_emit_message(false, 'lifeboat-test', $1)", [randomUUID()]);
      await pg.query('SELECT pg_switch_wal()');
    } finally {
      await pg.end();
    }
    for (let i = 0; i < 150 && segments().length === 0; i++) await delay(200);
  }
  const name = segments().at(-1);
  if (!name) throw new Error(`no archived segment in ${archive}`);
  return { name, path: join(archive, name) };
}

describe('wal archive refuses a file that is not the WAL segment its name says', () => {
  let archive: string;
  let segment: { name: string; path: string };
  beforeAll(async () => {
    expectBuilt();
    archive = join(scratch, 'archive');
    segment = await realSegment();
  });

  it.each([
    ['/etc/passwd', (): string => '/etc/passwd', /does not start with a WAL page header \(first bytes 726f6f74/],
    ['16 MiB of zeros', (): string => {
      const path = join(scratch, 'zeros');
      writeFileSync(path, Buffer.alloc(16 * 1024 * 1024));
      return path;
    }, /does not start with a WAL page header \(first bytes 00000000/],
    ['a truncated real segment', (): string => {
      const path = join(scratch, 'truncated');
      writeFileSync(path, readFileSync(segment.path).subarray(0, 8 * 1024 * 1024));
      return path;
    }, /is 8388608 bytes, but its header gives wal_segment_size 16777216: truncated or not a WAL segment/],
  ])('exits 2 for %s under a segment name, naming %%p and the problem, archiving nothing', (_what, make, message) => {
    const path = make();
    const name = '000000010000000000000001';
    const before = entries(archive);
    const result = lifeboat(['wal', 'archive', '--archive-dir', archive, path, name]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`lifeboat: wal archive: %p: ${path} `);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain(`refusing to archive it as ${name}`);
    expect(result.stderr).toMatch(/\nhint: archive_command must pass %p %f of a WAL segment PostgreSQL wrote/);
    expect(entries(archive)).toEqual(before);
    expect(entries(archive)).not.toContain(name);
  });

  it('exits 2 for a real segment under the name of another segment', () => {
    const other = `${segment.name.slice(0, 16)}${(parseInt(segment.name.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, '0')}`;
    const result = lifeboat(['wal', 'archive', '--archive-dir', archive, segment.path, other]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/the file belongs to another segment/);
    expect(entries(archive)).not.toContain(other);
  });

  it('exits 2 for binary content under a timeline history name', () => {
    const result = lifeboat(['wal', 'archive', '--archive-dir', archive, segment.path, '00000002.history']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/is 16777216 bytes: a history file is a few lines of text/);
    expect(entries(archive)).not.toContain('00000002.history');
  });

  it("archives a real segment of the test stack's PostgreSQL byte for byte", () => {
    const result = lifeboat(['wal', 'archive', '--archive-dir', archive, segment.path, segment.name]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(join(archive, segment.name)).equals(readFileSync(segment.path))).toBe(true);
    expect(entries(archive).filter((n) => !WAL_FILE_PATTERN.test(n))).toEqual([]);
  });

  // A 2 MiB tmpfs: a 16 MiB segment cannot fit. Needs root (mount); skipped otherwise.
  const full = join(scratch, 'full');
  mkdirSync(full, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', full]).status === 0;
  afterAll(() => {
    if (mounted) spawnSync('umount', [full]);
  });
  it.skipIf(!mounted)('on a full file system exits non-zero naming the path and the free space, leaving no temp file', () => {
    copyFileSync(segment.path, join(scratch, segment.name));
    const result = lifeboat(['wal', 'archive', '--archive-dir', join(full, 'wal-archive'), join(scratch, segment.name), segment.name]);
    expect(result.status).toBe(1); // PostgreSQL keeps the segment and retries
    expect(result.stderr).toMatch(new RegExp(`no space left on device writing ${full}/wal-archive/${segment.name} \\(write\\): [\\d.]+ (bytes|KiB) free of 2\\.0 MiB on the file system of ${full}/wal-archive`));
    expect(result.stderr).toMatch(/\nhint: free space on that file system/);
    expect(entries(join(full, 'wal-archive'))).toEqual([]);
  });
});

describe('minio verbs refuse a --bucket the source MinIO does not have, before starting anything', () => {
  const queue = `test-${randomUUID().slice(0, 8)}`;
  const env = (): Record<string, string> => ({ LIFEBOAT_ENV_FILE: stackEnvFile(), LIFEBOAT_TASK_QUEUE: queue, LIFEBOAT_HOST: 'testhost' });
  let temporal: TemporalClient;
  beforeAll(async () => {
    expectBuilt();
    const config = testConfig();
    temporal = new TemporalClient({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  });
  afterAll(async () => {
    await temporal?.connection.close();
  });
  /** Workflows ever started on this test's own task queue (visibility, polled until it settles). */
  const startedOnQueue = async (atLeast: number): Promise<number> => {
    let n = 0;
    for (let i = 0; i < 50; i++) {
      n = (await temporal.workflow.count(`TaskQueue = '${queue}'`)).count;
      if (n >= atLeast) break;
      await delay(200);
    }
    return n;
  };

  it.each([['backup'], ['mirror'], ['verify']])('minio %s --bucket nope-missing exits 2 quickly, naming --bucket and the bucket', async (verb) => {
    const result = lifeboat(['minio', verb, '--bucket', `company-data,nope-missing-${verb}`], env());
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`--bucket: bucket nope-missing-${verb} does not exist on the source MinIO \\(http[^)]+\\); nothing was started`));
    expect(result.stderr).toMatch(/hint: name existing buckets, e\.g\. the configured BUCKETS_TO_BACKUP=/);
    expect(result.stdout).not.toMatch(/started workflow/);
    expect(result.ms).toBeLessThan(15_000);
  });

  it('started no workflow (an existing bucket passes the check and stops at "no worker"; a start is seen by the same query)', async () => {
    expect(await startedOnQueue(0)).toBe(0);
    // An existing bucket passes the bucket check; no worker polls this queue, so nothing starts (exit 3).
    const ok = lifeboat(['minio', 'backup', '--bucket', 'company-data'], env());
    expect(ok.status).toBe(3);
    expect(ok.stderr).toMatch(new RegExp(`no worker polls task queue ${queue}`));
    expect(await startedOnQueue(0)).toBe(0);
    // Control: a workflow started on this queue is counted by the same query (terminated at once).
    const handle = await temporal.workflow.start('backupBuckets', { taskQueue: queue, workflowId: `test-control-${randomUUID().slice(0, 8)}`, args: [{ buckets: ['company-data'] }] });
    await handle.terminate('test control: no worker on this queue');
    expect(await startedOnQueue(1)).toBe(1);
  });
});
