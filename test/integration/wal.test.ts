/**
 * WAL archiving as PostgreSQL sees it: the archive_command / restore_command contract through the
 * real programs, spawned with a minimal environment (`wal archive` both as the Node CLI
 * `node bin/lifeboat.js wal archive` and as the compiled tools/wal-archive, which must say the same;
 * `wal fetch` as the Node CLI), off-site shipping/backlog/fetch (lib/wal/remote.ts) against the
 * backup MinIO in a bucket of its own, and the test stack's PostgreSQL archiving through the
 * compiled `wal archive` for real.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walRemoteKey } from '../../lib/catalog/names';
import { walFileContent, walSegmentBuffer } from '../fixtures/wal-segment';
import { parseMetadata } from '../../lib/catalog/metadata';
import { loadPrivateKeys, loadPublicKey, type EncryptionKey } from '../../lib/crypto/openpgp';
import { ChecksumMismatch } from '../../lib/errors';
import { findWalArchiver } from '../../lib/lifeboat-bin';
import { pgClientConfig } from '../../lib/postgres/connection';
import { walSegmentName } from '../../lib/postgres/basebackup';
import { createS3Client, S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { getBuffer, listAll, type Store } from '../../lib/storage/store';
import { fetchWalRemote, shipWalFile, walBacklog, type ShipOptions } from '../../lib/wal/remote';
import { stackEnvFile, testConfig, dropS3Bucket } from './helpers';

const root = join(__dirname, '..', '..');
const cli = join(root, 'bin', 'lifeboat.js');
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sha256File = (path: string): string => sha256(readFileSync(path));

const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-wal-'));
const emptyEnvFile = join(scratch, 'empty.env');
writeFileSync(emptyEnvFile, '');

/** The environment PostgreSQL's archiver would give us: hardly anything. */
function minimalEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LIFEBOAT_ENV_FILE: emptyEnvFile, ...extra };
}

/** A program and its first arguments; `lifeboat` by default: the Node CLI. */
type Program = readonly string[];
const nodeCli: Program = [process.execPath, cli];

function lifeboat(args: string[], options: { cwd?: string; env?: Record<string, string>; program?: Program } = {}): SpawnSyncReturns<string> {
  const [command, ...first] = options.program ?? nodeCli;
  return spawnSync(command!, [...first, ...args], { cwd: options.cwd ?? scratch, env: minimalEnv(options.env), encoding: 'utf8', timeout: 60_000 });
}

/** Run `lifeboat` without waiting, for races between archivers. */
function lifeboatAsync(args: string[], cwd: string, program: Program = nodeCli): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...first] = program;
    const child = spawn(command!, [...first, ...args], { cwd, env: minimalEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/** Poll `probe` until it returns a value (not undefined), or fail after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(200);
  }
}

/** dist/ is what bin/lifeboat.js runs: rebuild it when any source of lib/ or client/ is newer. */
function ensureBuilt(): void {
  const stale = (dir: string): boolean =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).some((file) => {
      if (!file.endsWith('.ts')) return false;
      const built = join(root, 'dist', dir, file.replace(/\.ts$/, '.js'));
      return !existsSync(built) || statSync(built).mtimeMs < statSync(join(root, dir, file)).mtimeMs;
    });
  if (!stale('lib') && !stale('client')) return;
  // Type errors elsewhere must not stop this suite: tsc still emits, and the files it needs are checked below.
  spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'ignore', timeout: 300_000 });
  for (const [source, built] of [['client/wal-cli.ts', 'dist/client/wal-cli.js'], ['lib/wal/archive.ts', 'dist/lib/wal/archive.js'], ['client/wal-remote-fetch.ts', 'dist/client/wal-remote-fetch.js']] as const) {
    expect(statSync(join(root, built)).mtimeMs, `${built} is older than ${source}`).toBeGreaterThanOrEqual(statSync(join(root, source)).mtimeMs);
  }
}

/** A fake WAL file with recognisable random content. */
function walFile(dir: string, name: string, bytes = 256 * 1024): { path: string; content: Buffer } {
  mkdirSync(dir, { recursive: true });
  const content = Buffer.concat([Buffer.from(`fake wal ${name} `), randomBytes(bytes), Buffer.alloc(bytes)]);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

/**
 * A file `wal archive` accepts under `name` (a segment whose header matches the name, or history /
 * backup text), with `bytes` recognisable random bytes after the header (capped to the segment).
 */
function archivableFile(dir: string, name: string, bytes = 256 * 1024): { path: string; content: Buffer } {
  mkdirSync(dir, { recursive: true });
  const content = walFileContent(name, Buffer.concat([Buffer.from(`fake wal ${name} `), randomBytes(Math.min(bytes, 8 * 1024 * 1024))]));
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, content };
}

/** Temporary files of an atomic write (`.name.xxxxxxxx.partial`), unlike `<segment>.partial` WAL files. */
const isTemp = (name: string): boolean => /^\..*\.partial$/.test(name);

/** Names in a directory, temporary files included (a clean archive has none). */
const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * The two implementations of `lifeboat wal archive` (same arguments, same contract): the Node CLI,
 * for whoever calls the verb by hand and as the fallback without Go, and the compiled
 * tools/wal-archive that archive_command names once `stack up` / `tools ensure` has built it (the
 * test stack's global setup did).
 */
const ARCHIVERS: { impl: string; program: () => Program }[] = [
  { impl: 'node bin/lifeboat.js', program: () => nodeCli },
  {
    impl: 'compiled lifeboat-wal-archive',
    program: () => {
      const compiled = findWalArchiver();
      expect(compiled, 'the compiled archive_command is not built for this source: run `npx lifeboat tools ensure` (or `stack up --test`)').toBeDefined();
      return [compiled!];
    },
  },
];

// (No percent sign in the title: describe.each would print the case object after it.)
describe.each(ARCHIVERS)('archive_command through $impl: wal archive <path> <segment>', (archiver) => {
  let data: string;
  let archive: string;
  let program: Program;
  beforeAll(() => {
    ensureBuilt();
    program = archiver.program();
    data = mkdtempSync(join(scratch, 'data-'));
    archive = join(data, '..', `archive-${randomUUID().slice(0, 8)}`);
  });
  const run = (args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> => lifeboat(args, { ...options, program });
  const runAsync = (args: string[], cwd: string): Promise<{ status: number | null; stderr: string }> => lifeboatAsync(args, cwd, program);

  it('archives a new segment byte for byte, with %p relative to the data directory, and exits 0', () => {
    const name = '000000010000000000000001';
    const { content } = archivableFile(join(data, 'pg_wal'), name, 8 * 1024 * 1024);
    const result = run(['wal', 'archive', '--archive-dir', archive, `pg_wal/${name}`, name], { cwd: data });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(sha256File(join(archive, name))).toBe(sha256(content));
    expect(entries(archive)).toEqual([name]);
    // Not world-readable: WAL holds every row written.
    expect(statSync(join(archive, name)).mode & 0o777).toBe(0o640);
  });

  it.each(['00000002.history', '000000010000000000000002.00000028.backup', '000000010000000000000003.partial'])('archives the %s file PostgreSQL also hands it', (name) => {
    const { path, content } = archivableFile(join(data, 'pg_wal'), name, 100);
    const result = run(['wal', 'archive', '--archive-dir', archive, path, name]);
    expect(result.status).toBe(0);
    expect(readFileSync(join(archive, name)).equals(content)).toBe(true);
  });

  it('succeeds again for an identical file already archived (PostgreSQL retries after a crash)', () => {
    const name = '000000010000000000000004';
    const { path } = archivableFile(join(data, 'pg_wal'), name);
    expect(run(['wal', 'archive', '--archive-dir', archive, path, name]).status).toBe(0);
    const mtime = statSync(join(archive, name)).mtimeMs;
    const again = run(['wal', 'archive', '--archive-dir', archive, path, name]);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/000000010000000000000004 was already archived with identical content/);
    expect(statSync(join(archive, name)).mtimeMs).toBe(mtime);
    expect(entries(archive).filter(isTemp)).toEqual([]);
  });

  it('fails loudly for a different file under an archived name, and never overwrites the archived one', () => {
    const name = '000000010000000000000005';
    const original = archivableFile(join(data, 'pg_wal'), name);
    expect(run(['wal', 'archive', '--archive-dir', archive, original.path, name]).status).toBe(0);
    const impostor = archivableFile(join(data, 'other'), name);
    const result = run(['wal', 'archive', '--archive-dir', archive, impostor.path, name]);
    expect(result.status).not.toBe(0);
    expect(result.status).toBeLessThan(126); // >125 would make PostgreSQL's archiver exit, not retry
    expect(result.stderr).toContain(join(archive, name));
    expect(result.stderr).toMatch(/already exists with different content.*refusing to overwrite/);
    expect(result.stderr).toMatch(/hint: /);
    expect(sha256File(join(archive, name))).toBe(sha256(original.content));
    expect(entries(archive).filter(isTemp)).toEqual([]);
  });

  it('fails for a source file that does not exist, archiving nothing', () => {
    const name = '000000010000000000000006';
    const before = entries(archive);
    const result = run(['wal', 'archive', '--archive-dir', archive, `pg_wal/${name}`, name], { cwd: data });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(join(data, 'pg_wal', name));
    expect(entries(archive)).toEqual(before);
  });

  it.each(['../etc/passwd', 'passwd', '00000001000000000000000', '000000010000000000000001/../../x', ''])('exits 2 for the non-WAL name %j, touching nothing', (name) => {
    const { path } = archivableFile(join(data, 'pg_wal'), '000000010000000000000007');
    const before = entries(join(archive, '..'));
    const archived = entries(archive);
    const result = run(['wal', 'archive', '--archive-dir', archive, path, name]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(name === '' ? /usage: lifeboat wal archive/ : /is not a WAL file name/);
    expect(entries(join(archive, '..'))).toEqual(before);
    expect(entries(archive)).toEqual(archived);
  });

  it('exits 2 with usage when %p or %f is missing', () => {
    const result = run(['wal', 'archive', '--archive-dir', archive]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage: lifeboat wal archive/);
  });

  it('archives into $BACKUP_ROOT/wal-archive when no --archive-dir is given', () => {
    const backupRoot = mkdtempSync(join(scratch, 'root-'));
    const name = '000000010000000000000008';
    const { path, content } = archivableFile(join(data, 'pg_wal'), name);
    const result = run(['wal', 'archive', path, name], { env: { BACKUP_ROOT: backupRoot } });
    expect(result.status).toBe(0);
    expect(readFileSync(join(backupRoot, 'wal-archive', name)).equals(content)).toBe(true);
    const relativeRoot = run(['wal', 'archive', path, name], { env: { BACKUP_ROOT: 'relative/dir' } });
    expect(relativeRoot.status).toBe(2);
    expect(relativeRoot.stderr).toMatch(/BACKUP_ROOT: must be an absolute path/);
  });

  it('lets concurrent archivers of one segment all succeed with one copy', async () => {
    const name = '000000010000000000000009';
    const { path, content } = archivableFile(join(data, 'pg_wal'), name, 4 * 1024 * 1024);
    const results = await Promise.all(Array.from({ length: 4 }, () => runAsync(['wal', 'archive', '--archive-dir', archive, path, name], data)));
    expect(results.map((r) => r.status)).toEqual([0, 0, 0, 0]);
    expect(sha256File(join(archive, name))).toBe(sha256(content));
    expect(entries(archive).filter((n) => n.startsWith(`.${name}`))).toEqual([]);
  });

  it('lets exactly one of two racing archivers with different content win', async () => {
    const name = '00000001000000000000000A';
    const a = archivableFile(join(data, 'a'), name, 4 * 1024 * 1024);
    const b = archivableFile(join(data, 'b'), name, 4 * 1024 * 1024);
    const [ra, rb] = await Promise.all([runAsync(['wal', 'archive', '--archive-dir', archive, a.path, name], data), runAsync(['wal', 'archive', '--archive-dir', archive, b.path, name], data)]);
    expect([ra.status, rb.status].filter((s) => s === 0)).toHaveLength(1);
    const winner = ra.status === 0 ? a : b;
    expect(sha256File(join(archive, name))).toBe(sha256(winner.content));
    expect((ra.status === 0 ? rb : ra).stderr).toMatch(/refusing to overwrite/);
  });
});

describe('the compiled wal archive says what the Node verb says: status and stderr, refusal by refusal', () => {
  const dir = mkdtempSync(join(scratch, 'same-'));
  const archive = join(dir, 'archive');
  const NAME = '000000010000000200000034';
  const original = walSegmentBuffer(NAME, { tail: randomBytes(4096) });
  const put = (file: string, content: Buffer | string): string => {
    const path = join(dir, file);
    writeFileSync(path, content);
    return path;
  };
  const into = (path: string, name = NAME): string[] => ['--archive-dir', archive, path, name];
  // A 2 MiB tmpfs: a 16 MiB segment cannot fit. Needs root (mount); that case is skipped otherwise.
  const full = join(dir, 'full');
  mkdirSync(full);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', full]).status === 0;
  let compiled: Program;
  beforeAll(() => {
    ensureBuilt();
    compiled = ARCHIVERS[1]!.program();
    mkdirSync(archive);
    writeFileSync(join(archive, NAME), original, { mode: 0o640 });
  });
  afterAll(() => {
    if (mounted) spawnSync('umount', [full]);
  });

  const cases: [string, () => { args: string[]; env?: Record<string, string> }][] = [
    ['no %p and %f', () => ({ args: ['--archive-dir', archive] })],
    ['--archive-dir twice', () => ({ args: ['--archive-dir', dir, ...into(put('twice', original))] })],
    ['a name that is no WAL file', () => ({ args: into(put('bad-name', original), '../etc/passwd') })],
    ['a source that does not exist', () => ({ args: into(join(dir, 'missing')) })],
    ['an empty file', () => ({ args: into(put('empty', '')) })],
    ['a text file under a segment name', () => ({ args: into(put('text', 'root:x:0:0:root:/root:/bin/bash\n'.repeat(40))) })],
    ['a truncated segment', () => ({ args: into(put('truncated', walSegmentBuffer(NAME, { fileSize: 8 * 1024 * 1024 }))) })],
    ['another segment under the name', () => ({ args: into(put('other', walSegmentBuffer('000000010000000200000035'))) })],
    ['an unknown page magic', () => ({ args: into(put('magic', walSegmentBuffer(NAME, { magic: 0xd0ff }))) })],
    ['a first page without the long header', () => ({ args: into(put('short-header', walSegmentBuffer(NAME, { info: 0x0001 }))) })],
    ['a segment size that is no power of two', () => ({ args: into(put('size', walSegmentBuffer(NAME, { segmentSize: 3 * 1024 * 1024 }))) })],
    ['a bad WAL page size', () => ({ args: into(put('page', walSegmentBuffer(NAME, { blockSize: 100 }))) })],
    ['a newer timeline than the name', () => ({ args: into(put('timeline', walSegmentBuffer(NAME, { timeline: 2 }))) })],
    ['a name beyond the last segment of a log', () => ({ args: into(put('beyond', walSegmentBuffer('000000010000000000000100')), '000000010000000000000100') })],
    ['a segment under a history name', () => ({ args: into(put('history-binary', original), '00000002.history') })],
    ['NUL bytes in a history file', () => ({ args: into(put('history-nul', Buffer.from([0x31, 0, 0x32])), '00000002.history') })],
    ['a backup file without its first line', () => ({ args: into(put('backup-text', 'LABEL: x\n'), '000000010000000000000002.00000028.backup') })],
    ['a different file under an archived name', () => ({ args: into(put('impostor', walSegmentBuffer(NAME, { tail: randomBytes(4096) }))) })],
    ['an identical file already archived (success)', () => ({ args: into(put('identical', original)) })],
    ['a relative BACKUP_ROOT', () => ({ args: [put('relative', original), NAME], env: { BACKUP_ROOT: 'relative/dir' } })],
  ];
  it.each(cases)('%s', (what, make) => {
    const { args, env } = make();
    const node = lifeboat(['wal', 'archive', ...args], { env });
    const go = lifeboat(['wal', 'archive', ...args], { env, program: compiled });
    expect({ status: go.status, stderr: go.stderr }).toEqual({ status: node.status, stderr: node.stderr });
    expect(node.status).toBe(what.endsWith('(success)') ? 0 : node.status === 2 ? 2 : 1);
    expect(node.stderr).not.toBe('');
    expect(entries(archive)).toEqual([NAME]);
    expect(readFileSync(join(archive, NAME)).equals(original)).toBe(true);
  });

  it.skipIf(!mounted)('a full file system: exit 1 naming the file and the free space, no temp file left', () => {
    const source = put(NAME, original);
    const args = ['wal', 'archive', '--archive-dir', join(full, 'wal-archive'), source, NAME];
    // The free space is read while the partial temp file still fills the disk: not a figure to compare.
    const same = (stderr: string): string => stderr.replace(/: [\d.]+ (bytes|KiB|MiB) free of/, ': N free of');
    const node = lifeboat(args);
    const go = lifeboat(args, { program: compiled });
    expect(go.status).toBe(1);
    expect(same(go.stderr)).toBe(same(node.stderr));
    expect(go.stderr).toMatch(new RegExp(`^lifeboat: wal archive: no space left on device writing ${full}/wal-archive/${NAME} \\(write\\): [\\d.]+ (bytes|KiB) free of 2\\.0 MiB on the file system of ${full}/wal-archive\nhint: free space`));
    expect(entries(join(full, 'wal-archive'))).toEqual([]);
  });
});

describe('restore_command: lifeboat wal fetch --no-remote %f %p', () => {
  let data: string;
  let archive: string;
  const name = '000000010000000000000011';
  let content: Buffer;
  beforeAll(() => {
    ensureBuilt();
    data = mkdtempSync(join(scratch, 'restore-'));
    mkdirSync(join(data, 'pg_wal'));
    archive = mkdtempSync(join(scratch, 'archive-'));
    content = walFile(archive, name).content;
  });

  it('copies an archived segment to the path PostgreSQL asks for (relative to the data directory)', () => {
    const result = lifeboat(['wal', 'fetch', '--archive-dir', archive, '--no-remote', name, 'pg_wal/RECOVERYXLOG'], { cwd: data });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(join(data, 'pg_wal', 'RECOVERYXLOG')).equals(content)).toBe(true);
    expect(entries(join(data, 'pg_wal'))).toEqual(['RECOVERYXLOG']);
    // A second fetch replaces the previous RECOVERYXLOG.
    const other = '000000010000000000000012';
    const second = walFile(archive, other).content;
    expect(lifeboat(['wal', 'fetch', '--archive-dir', archive, '--no-remote', other, 'pg_wal/RECOVERYXLOG'], { cwd: data }).status).toBe(0);
    expect(readFileSync(join(data, 'pg_wal', 'RECOVERYXLOG')).equals(second)).toBe(true);
  });

  it('exits 1 for a segment the archive does not have, writing nothing', () => {
    const result = lifeboat(['wal', 'fetch', '--archive-dir', archive, '--no-remote', '0000000100000000000000FE', join(data, 'pg_wal', 'RECOVERYXLOG.missing')]);
    expect(result.status).toBe(1);
    expect(existsSync(join(data, 'pg_wal', 'RECOVERYXLOG.missing'))).toBe(false);
    // A timeline history PostgreSQL probes for at the start of recovery is "missing" the same way.
    expect(lifeboat(['wal', 'fetch', '--archive-dir', archive, '--no-remote', '00000002.history', join(data, 'pg_wal', 'RECOVERYHISTORY')]).status).toBe(1);
  });

  it('exits 2 for a name that is not a WAL file', () => {
    const result = lifeboat(['wal', 'fetch', '--archive-dir', archive, '--no-remote', '../etc/passwd', join(data, 'x')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/is not a WAL file name/);
    expect(existsSync(join(data, 'x'))).toBe(false);
  });
});

// --- off-site WAL ----------------------------------------------------------------------------------

/** A plain-object copy of a Store's operations, for wrappers that replace one of them. */
function storeOf(store: Store): Store {
  return {
    location: store.location,
    put: (k, body, opts) => store.put(k, body, opts),
    get: (k) => store.get(k),
    stat: (k) => store.stat(k),
    list: (prefix) => store.list(prefix),
    delete: (k) => store.delete(k),
  };
}


describe('off-site WAL: ship, backlog, fetch (own bucket on the backup MinIO)', () => {
  const config = testConfig();
  // remote.ts keeps WAL under the fixed prefix `wal-archive/`: a bucket of our own keeps other tests out.
  const settings = { ...s3SettingsFromConfig(config.remote), bucket: `lifeboat-test-wal-${randomUUID().slice(0, 8)}` };
  const client = createS3Client(settings);
  const remote = new S3Store(settings, client);
  const names = ['000000010000000000000021', '000000010000000000000022', '000000010000000000000023'];
  let archiveDir: string;
  let raw: Map<string, Buffer>;
  let key: EncryptionKey;
  let ship: ShipOptions;
  let gnupgHome: string | undefined;

  beforeAll(async () => {
    expect(config.remote.enabled).toBe(true);
    expect(config.encryption.enabled).toBe(true);
    await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));
    archiveDir = mkdtempSync(join(scratch, 'ship-'));
    raw = new Map(names.map((n) => [n, walFile(archiveDir, n, 512 * 1024).content]));
    key = await loadPublicKey(config.encryption);
    ship = { archiveDir, remote, compression: config.compression, encryptionKey: key, workflowId: 'wal-test' };
    // Oldest first, an hour apart, so the backlog's age is known.
    names.forEach((n, i) => {
      const when = new Date(Date.now() - (3 - i) * 3600_000);
      utimesSync(join(archiveDir, n), when, when);
    });
  });
  afterAll(async () => {
    await dropS3Bucket(client, settings.bucket).catch(() => undefined);
    if (gnupgHome) spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: gnupgHome } });
  });

  it('counts every local segment as pending until it is shipped', async () => {
    const backlog = await walBacklog(archiveDir, remote);
    expect(backlog.pending).toEqual(names);
    expect(backlog.pendingBytes).toBe([...raw.values()].reduce((sum, b) => sum + b.length, 0));
    expect(backlog.shipped).toBe(0);
    expect(backlog.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(3 * 3600);
    expect(backlog.oldestPendingAgeSeconds).toBeLessThan(3 * 3600 + 120);
    expect(backlog.newestLocal).toBe(names[2]);
  });

  it('ships a segment compressed and encrypted, with metadata last, and the backlog shrinks', async () => {
    const name = names[0]!;
    const puts: string[] = [];
    const recording: Store = { ...storeOf(remote), put: (k, body, opts) => (puts.push(k), remote.put(k, body, opts)) };
    const metadata = await shipWalFile(name, { ...ship, remote: recording });
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    expect(puts).toEqual([objectKey, `${objectKey}.metadata.json`]);
    expect(metadata).toMatchObject({ kind: 'wal', key: objectKey, segment: name, rawBytes: raw.get(name)!.length, rawSha256: sha256(raw.get(name)!), encryption: { enabled: true, fingerprint: key.fingerprint } });
    const stored = await getBuffer(remote, objectKey);
    expect(sha256(stored)).toBe(metadata.sha256);
    expect(stored.length).toBe(metadata.bytes);
    expect(stored.includes(raw.get(name)!.subarray(9, 64))).toBe(false);
    expect((await remote.stat(objectKey))?.metadata?.sha256).toBe(metadata.sha256);
    const storedMetadata = parseMetadata((await getBuffer(remote, `${objectKey}.metadata.json`)).toString('utf8'));
    expect(storedMetadata).toEqual(metadata);

    const backlog = await walBacklog(archiveDir, remote);
    expect(backlog.pending).toEqual(names.slice(1));
    expect(backlog.shipped).toBe(1);
    expect(backlog.oldestPendingAgeSeconds).toBeLessThan(2 * 3600 + 120);

    // Shipping it again (a retried activity) finds it intact and writes nothing.
    puts.length = 0;
    expect(await shipWalFile(name, { ...ship, remote: recording })).toEqual(metadata);
    expect(puts).toEqual([]);
  });

  it('clears the backlog once everything is shipped', async () => {
    for (const name of names.slice(1)) await shipWalFile(name, ship);
    const backlog = await walBacklog(archiveDir, remote);
    expect(backlog).toMatchObject({ pending: [], pendingBytes: 0, shipped: 3, oldestPendingAgeSeconds: 0, newestLocal: names[2] });
  });

  it('counts a segment whose metadata object is missing as not shipped', async () => {
    const name = names[1]!;
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    await remote.delete(`${objectKey}.metadata.json`);
    expect((await walBacklog(archiveDir, remote)).pending).toEqual([name]);
    expect(await fetchWalRemote(name, remote, await loadPrivateKeys(config.encryption))).toBeUndefined();
    await shipWalFile(name, ship);
    expect((await walBacklog(archiveDir, remote)).pending).toEqual([]);
  });

  it('fetches a shipped segment back byte for byte (decrypted with the backup private key)', async () => {
    const privateKeys = await loadPrivateKeys(config.encryption);
    for (const name of names) {
      const back = await fetchWalRemote(name, remote, privateKeys);
      expect(back && sha256(back)).toBe(sha256(raw.get(name)!));
    }
    expect(await fetchWalRemote('0000000100000000000000FF', remote, privateKeys)).toBeUndefined();
  });

  it('ships what plain gpg and zstd/gunzip restore by hand', async () => {
    const name = names[2]!;
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    gnupgHome = mkdtempSync(join(scratch, 'gnupg-'));
    const env = { ...process.env, GNUPGHOME: gnupgHome };
    expect(config.encryption.privateKeyFile).toBeDefined();
    expect(spawnSync('gpg', ['--batch', '--import', config.encryption.privateKeyFile!], { env }).status).toBe(0);
    const stored = await getBuffer(remote, objectKey);
    const decrypted = spawnSync('gpg', ['--batch', '--quiet', '--decrypt'], { env, input: stored, maxBuffer: 64 * 1024 * 1024 });
    expect(decrypted.status, decrypted.stderr?.toString()).toBe(0);
    const plain = spawnSync(config.compression.algorithm === 'zstd' ? 'zstd' : 'gzip', ['-d', '-c'], { input: decrypted.stdout, maxBuffer: 64 * 1024 * 1024 });
    expect(plain.status).toBe(0);
    expect(sha256(plain.stdout)).toBe(sha256(raw.get(name)!));
  });

  it('ships and fetches unencrypted gzip when so configured', async () => {
    const name = '000000010000000000000031';
    raw.set(name, walFile(archiveDir, name, 64 * 1024).content);
    const metadata = await shipWalFile(name, { ...ship, compression: { algorithm: 'gzip', level: 6 }, encryptionKey: undefined });
    expect(metadata.key).toBe(`wal-archive/${name}.gz`);
    expect(metadata.encryption).toEqual({ enabled: false });
    const back = await fetchWalRemote(name, remote, undefined);
    expect(back && sha256(back)).toBe(sha256(raw.get(name)!));
  });

  it('restore_command falls back to S3 for a segment the local archive lacks', async () => {
    const name = names[0]!;
    await shipWalFile(name, ship);
    const emptyArchive = mkdtempSync(join(scratch, 'empty-archive-'));
    const target = join(scratch, `RECOVERYXLOG-${randomUUID().slice(0, 8)}`);
    const env = { LIFEBOAT_ENV_FILE: stackEnvFile(), S3_BUCKET: settings.bucket, HOME: process.env.HOME ?? '/root' };
    const result = lifeboat(['wal', 'fetch', '--archive-dir', emptyArchive, name, target], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(sha256File(target)).toBe(sha256(raw.get(name)!));
    const missing = lifeboat(['wal', 'fetch', '--archive-dir', emptyArchive, '0000000100000000000000FF', `${target}.missing`], { env });
    expect(missing.status).toBe(1);
    expect(existsSync(`${target}.missing`)).toBe(false);
  });

  it('refuses a remote segment whose bytes changed: ChecksumMismatch, and restore_command fails', async () => {
    const name = names[0]!;
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    const stored = await getBuffer(remote, objectKey);
    const flipped = Buffer.from(stored);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await remote.put(objectKey, flipped);
    const error = await fetchWalRemote(name, remote, await loadPrivateKeys(config.encryption)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatch);
    expect((error as Error).message).toContain(objectKey);

    const target = join(scratch, `RECOVERYXLOG-${randomUUID().slice(0, 8)}`);
    const env = { LIFEBOAT_ENV_FILE: stackEnvFile(), S3_BUCKET: settings.bucket, HOME: process.env.HOME ?? '/root' };
    const result = lifeboat(['wal', 'fetch', '--archive-dir', mkdtempSync(join(scratch, 'empty-archive-')), name, target], { env });
    // Not 1 ("no such file", which would quietly end recovery early): > 125 makes PostgreSQL abort.
    expect(result.status).toBe(126);
    expect(result.stderr).toMatch(/sha256 does not match/);
    expect(existsSync(target)).toBe(false);

    // Shipping again repairs it.
    await shipWalFile(name, ship);
    const repaired = await fetchWalRemote(name, remote, await loadPrivateKeys(config.encryption));
    expect(repaired && sha256(repaired)).toBe(sha256(raw.get(name)!));
    expect((await listAll(remote, 'wal-archive/')).length).toBe(2 * (names.length + 1));
  });

  /** A Store whose put of `key` waits for `release` (once), telling `arrived` when it gets there. */
  function gatedStore(key: string, options: { fail?: boolean } = {}) {
    let reached!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    let armed = true;
    const store: Store = {
      ...storeOf(remote),
      async put(k, body, opts) {
        if (k === key && armed) {
          armed = false;
          reached();
          await released;
          if (options.fail) throw new Error('worker died here');
        }
        return remote.put(k, body, opts);
      },
    };
    return { store, arrived, release };
  }

  it('stays consistent when a timed-out attempt still ships the same segment (metadata written last by the loser)', async () => {
    const name = '000000010000000000000041';
    raw.set(name, walFile(archiveDir, name, 128 * 1024).content);
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    // The zombie sends its object, then stalls before its metadata; the new attempt ships in full meanwhile.
    const zombie = gatedStore(`${objectKey}.metadata.json`);
    const stalled = shipWalFile(name, { ...ship, remote: zombie.store });
    await zombie.arrived;
    await shipWalFile(name, ship);
    zombie.release();
    await stalled;
    // The metadata describes the object beside it, not the one the zombie sent.
    const metadata = parseMetadata((await getBuffer(remote, `${objectKey}.metadata.json`)).toString('utf8'));
    expect(metadata?.sha256).toBe(sha256(await getBuffer(remote, objectKey)));
    const back = await fetchWalRemote(name, remote, await loadPrivateKeys(config.encryption));
    expect(back && sha256(back)).toBe(sha256(raw.get(name)!));
    expect((await walBacklog(archiveDir, remote)).pending).not.toContain(name);
  });

  it('stays fetchable when an attempt dies between sending the object and its metadata', async () => {
    const name = '000000010000000000000042';
    raw.set(name, walFile(archiveDir, name, 128 * 1024).content);
    const objectKey = walRemoteKey(name, { compression: config.compression.algorithm, encrypted: true });
    // The dying attempt started before the segment was shipped, and sends its object after it was.
    const dying = gatedStore(objectKey, { fail: false });
    const dyingMeta = gatedStore(`${objectKey}.metadata.json`, { fail: true });
    const chained: Store = { ...dyingMeta.store, put: (k, body, opts) => (k === objectKey ? dying.store.put(k, body, opts) : dyingMeta.store.put(k, body, opts)) };
    const doomed = shipWalFile(name, { ...ship, remote: chained }).then(() => undefined, (e: unknown) => e);
    await dying.arrived;
    await shipWalFile(name, ship);
    dying.release();
    await dyingMeta.arrived;
    dyingMeta.release();
    expect(await doomed).toBeInstanceOf(Error);
    const back = await fetchWalRemote(name, remote, await loadPrivateKeys(config.encryption));
    expect(back && sha256(back)).toBe(sha256(raw.get(name)!));
  });

  it('restore_command decrypts an encrypted segment even after ENCRYPT_BACKUPS was turned off', async () => {
    const name = names[1]!;
    await shipWalFile(name, ship);
    const target = join(scratch, `RECOVERYXLOG-${randomUUID().slice(0, 8)}`);
    const env = { LIFEBOAT_ENV_FILE: stackEnvFile(), S3_BUCKET: settings.bucket, HOME: process.env.HOME ?? '/root', ENCRYPT_BACKUPS: 'false' };
    const result = lifeboat(['wal', 'fetch', '--archive-dir', mkdtempSync(join(scratch, 'empty-archive-')), name, target], { env });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(sha256File(target)).toBe(sha256(raw.get(name)!));
  });
});

// --- the test stack's PostgreSQL, archiving through the compiled `wal archive` -------------------------

describe("the test stack's PostgreSQL archives through the compiled lifeboat wal archive", () => {
  it('archives the segment pg_switch_wal() closes, with no archiver failure', async () => {
    ensureBuilt();
    const config = testConfig();
    const walArchive = join(config.backupRoot, 'wal-archive');
    const pg = new Client(pgClientConfig(config.db));
    await pg.connect();
    try {
      // `stack up` (the global setup) built it and named it: no Node start per segment.
      const compiled = ARCHIVERS[1]!.program()[0]!;
      const command = (await pg.query<{ archive_command: string }>('SHOW archive_command')).rows[0]!.archive_command;
      expect(command).toBe(`'${compiled}' wal archive --archive-dir '${walArchive}' %p %f`);
      type Archiver = { archived_count: string; failed_count: string; last_archived_wal: string | null };
      const archiver = async (): Promise<Archiver> => (await pg.query<Archiver>('SELECT archived_count, failed_count, last_archived_wal FROM pg_stat_archiver')).rows[0]!;
      const before = await archiver();

      // Write a WAL record first, so the current segment is not empty and the switch really closes it.
      await pg.query("SELECT pg_logical_emit_message(false, 'lifeboat-test', $1)", [randomUUID()]);
      const segment = (await pg.query<{ name: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name')).rows[0]!.name;
      await pg.query('SELECT pg_switch_wal()');

      const after = await until(`${segment} in ${walArchive} and in pg_stat_archiver`, async () => {
        if (!existsSync(join(walArchive, segment))) return undefined;
        const now = await archiver();
        return (now.last_archived_wal ?? '').slice(0, 24) >= segment && Number(now.archived_count) > Number(before.archived_count) ? now : undefined;
      });
      expect(Number(after.failed_count)).toBe(Number(before.failed_count));

      // The archived file is that segment: full size, and its first page header names it.
      const segmentSize = Number((await pg.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")).rows[0]!.setting);
      const file = readFileSync(join(walArchive, segment));
      expect(file.length).toBe(segmentSize);
      const timeline = file.readUInt32LE(4);
      const pageAddress = file.readBigUInt64LE(8);
      expect(walSegmentName(timeline, pageAddress, segmentSize)).toBe(segment);
      expect(entries(walArchive).filter((n) => isTemp(n) && n.includes(segment))).toEqual([]);
    } finally {
      await pg.end();
    }
  });
});
