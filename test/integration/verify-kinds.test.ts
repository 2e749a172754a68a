/**
 * verifyBackups over every kind of artifact, on the real stack, in a BACKUP_ROOT and MINIO_BACKUP_ROOT
 * of its own (so no other test sees these deliberately corrupted fixtures):
 *  - globals: a real `pg_dumpall --globals-only` passes; a zero-length file and one that decodes to
 *    nothing (the 147-byte case of issue 9, checksum matching its metadata) fail;
 *  - base backups: a real one passes (tar listing, backup_label, pg_control, WAL); the same tar cut in
 *    half and recorded with a matching checksum fails;
 *  - WAL: real archived segments pass; a segment whose page header is damaged is named;
 *  - MinIO snapshots: an archive matching its manifest passes; one lacking a manifest entry fails.
 * `lifeboat verify --all` exits 6 naming each; `--latest` covers the newest of each kind; the
 * listings show globals with their verification state.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { listRestorable, restoreCommands } from '../../client/commands/restore';
import { catalogRows } from '../../client/commands/backup';
import { readCatalog } from '../../lib/catalog/catalog';
import type { BaseMetadata } from '../../lib/catalog/metadata';
import type { Config } from '../../lib/config/load';
import { loadPrivateKeys, loadPublicKey, type EncryptionKey } from '../../lib/crypto/openpgp';
import type { SnapshotMetadata } from '../../lib/minio/metadata';
import { decodeBuffer, encodeBuffer } from '../../lib/pipeline/codec';
import { FsStore } from '../../lib/storage/fs-store';
import { readVerification } from '../../lib/verify/record';
import type { BackupBaseResult } from '../../workflows/backup-base';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { queryDb, stackEnvFile, startTestWorker, testConfig, type TestWorkerHandle } from './helpers';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('verify covers every artifact kind', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-verify-kinds-'));
  const overrides = { BACKUP_ROOT: join(scratch, 'postgres'), MINIO_BACKUP_ROOT: join(scratch, 'minio'), REMOTE_STORAGE: 'false' };
  let worker: TestWorkerHandle;
  let config: Config;
  let key: EncryptionKey;
  let realBase: BackupBaseResult;
  const keys = {
    goodGlobals: 'daily/globals_20250101-000001.sql.zst.gpg',
    zeroLengthGlobals: 'weekly/globals_20250101-000002.sql.zst.gpg',
    emptyGlobals: 'daily/globals_20250101-000003.sql.zst.gpg',
    truncatedBase: 'base/20250101-000004/base.tar.zst.gpg',
    goodSnapshot: 'snapshots/verify-good_20250101-000005.tar.gz.gpg',
    badSnapshot: 'snapshots/verify-bad_20250101-000006.tar.gz.gpg',
  };
  let corruptSegment: string;
  let goodSegment: string;

  /** Write an artifact and its metadata as the pipeline would (checksum of what is on disk). */
  const place = (artifactKey: string, file: Buffer, metadata: Record<string, unknown>, root = config.backupRoot): void => {
    const path = join(root, artifactKey);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, file);
    const stamp = /(\d{8})-(\d{6})/.exec(artifactKey)!;
    const at = `${stamp[1]!.slice(0, 4)}-${stamp[1]!.slice(4, 6)}-${stamp[1]!.slice(6, 8)}T${stamp[2]!.slice(0, 2)}:${stamp[2]!.slice(2, 4)}:${stamp[2]!.slice(4, 6)}.000Z`;
    writeFileSync(
      `${path}.metadata.json`,
      JSON.stringify({
        format: 'lifeboat/1', key: artifactKey, file: artifactKey.split('/').pop(), sha256: sha256(file), bytes: file.length,
        compression: artifactKey.includes('.gz') ? { algorithm: 'gzip', level: 6 } : config.compression,
        encryption: { enabled: true, recipient: key.recipient, fingerprint: key.fingerprint, encryptionSubkey: key.encryptionSubkey },
        startedAt: at, finishedAt: at, durationSeconds: 0, lifeboatVersion: 'test', ...metadata,
      }, null, 2),
    );
  };

  const pgEnv = (c: Config) => ({ ...process.env, PGHOST: c.db.host, PGPORT: String(c.db.port), PGUSER: c.db.user, PGPASSWORD: c.db.password ?? '' });

  /** A snapshot archive of `objects` under `<bucket>_<stamp>/`, and its manifest. */
  const snapshot = async (bucket: string, stamp: string, objects: Record<string, string>): Promise<{ file: Buffer; manifest: SnapshotMetadata['manifest']; raw: number }> => {
    const pack = tar.pack();
    const chunks: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      pack.on('data', (c: unknown) => {
        chunks.push(c as Buffer);
      });
      pack.on('end', () => resolve());
      pack.on('error', reject);
    });
    const manifest: SnapshotMetadata['manifest'] = [];
    for (const [k, body] of Object.entries(objects)) {
      pack.entry({ name: `${bucket}_${stamp}/${k}`, size: Buffer.byteLength(body), mtime: new Date('2025-01-01T00:00:00Z') }, body);
      manifest.push({ key: k, size: Buffer.byteLength(body), etag: createHash('md5').update(body).digest('hex'), sha256: sha256(Buffer.from(body)), contentType: 'text/plain', metadata: {}, modified: '2025-01-01T00:00:00.000Z' });
    }
    pack.finalize();
    await done;
    const raw = Buffer.concat(chunks);
    return { file: await encodeBuffer(raw, { algorithm: 'gzip', level: 6 }, key), manifest, raw: raw.length };
  };

  const placeSnapshot = async (snapshotKey: string, objects: Record<string, string>, manifestExtra: Record<string, string> = {}): Promise<void> => {
    const [, bucket, stamp] = /^snapshots\/(.+)_(\d{8}-\d{6})\.tar/.exec(snapshotKey)!;
    const archived = await snapshot(bucket!, stamp!, objects);
    const listed = await snapshot(bucket!, stamp!, { ...objects, ...manifestExtra });
    place(snapshotKey, archived.file, {
      kind: 'minio-snapshot', bucket, stamp, root: `${bucket}_${stamp}`, rawBytes: archived.raw, objects: listed.manifest.length,
      objectBytes: listed.manifest.reduce((n, e) => n + e.size, 0), source: { endpoint: 'http://127.0.0.1:19010' }, manifest: listed.manifest,
    }, config.minio.backupRoot);
  };

  beforeAll(async () => {
    worker = await startTestWorker({ overrides });
    config = worker.config;
    expect(config.encryption.enabled).toBe(true);
    key = await loadPublicKey(config.encryption);

    // Globals: a real pg_dumpall, a zero-length file, and an encrypted stream of nothing.
    const dumpall = spawnSync('pg_dumpall', ['--globals-only', '--no-password'], { env: pgEnv(config), maxBuffer: 64 << 20 });
    expect(dumpall.status, dumpall.stderr?.toString()).toBe(0);
    place(keys.goodGlobals, await encodeBuffer(dumpall.stdout, config.compression, key), { kind: 'globals', tier: 'daily' });
    place(keys.zeroLengthGlobals, Buffer.alloc(0), { kind: 'globals', tier: 'weekly' });
    const nothing = await encodeBuffer(Buffer.alloc(0), config.compression, key);
    expect(nothing.length).toBeLessThan(400);
    place(keys.emptyGlobals, nothing, { kind: 'globals', tier: 'daily' });

    // Base backups: a real one, and its tar cut in half, recorded with a matching checksum.
    realBase = (await worker.env.client.workflow.execute('backupBase', { taskQueue: worker.taskQueue, workflowId: `test-vk-base-${Date.now()}`, args: [{}] })) as BackupBaseResult;
    const realMetadata = JSON.parse(readFileSync(join(config.backupRoot, `${realBase.key}.metadata.json`), 'utf8')) as BaseMetadata;
    const tarBytes = await decodeBuffer(readFileSync(join(config.backupRoot, realBase.key)), { compression: config.compression.algorithm, encrypted: true }, await loadPrivateKeys(config.encryption));
    const half = tarBytes.subarray(0, Math.floor(tarBytes.length / 2 / 512) * 512 + 100);
    const { format: _f, key: _k, file: _file, sha256: _s, bytes: _b, startedAt: _st, finishedAt: _fi, ...baseFacts } = realMetadata;
    place(keys.truncatedBase, await encodeBuffer(half, config.compression, key), baseFacts);

    // WAL: real segments from the stack's archive (read only), one copy with a damaged page header.
    await queryDb(config, config.db.name, 'SELECT pg_switch_wal()');
    const stackArchive = join(testConfig().backupRoot, 'wal-archive');
    let segments: string[] = [];
    for (let i = 0; i < 150 && !segments.includes(realMetadata.startWal); i++) {
      segments = existsSync(stackArchive) ? readdirSync(stackArchive).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort() : [];
      if (!segments.includes(realMetadata.startWal)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(segments).toContain(realMetadata.startWal);
    const ours = join(config.backupRoot, 'wal-archive');
    mkdirSync(ours, { recursive: true });
    goodSegment = realMetadata.startWal;
    copyFileSync(join(stackArchive, goodSegment), join(ours, goodSegment));
    corruptSegment = `${goodSegment.slice(0, 8)}00000099000000AA`;
    const damaged = readFileSync(join(stackArchive, goodSegment));
    damaged.fill(0, 0, 40);
    writeFileSync(join(ours, corruptSegment), damaged);

    // Snapshots: one matching its manifest, one whose archive lacks a manifest entry.
    await placeSnapshot(keys.goodSnapshot, { 'a.txt': 'alpha', 'dir/b.txt': 'bravo' });
    await placeSnapshot(keys.badSnapshot, { 'a.txt': 'alpha' }, { 'lost/object.bin': 'never archived' });
  });

  afterAll(async () => {
    await worker?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  let lastVerifyId = '';
  const verify = async (scope: 'all' | 'latest'): Promise<VerifyBackupsResult> => {
    lastVerifyId = `test-vk-${scope}-${Date.now()}`;
    return (await worker.env.client.workflow.execute('verifyBackups', { taskQueue: worker.taskQueue, workflowId: lastVerifyId, args: [{ scope }] })) as VerifyBackupsResult;
  };
  const detailOf = (result: VerifyBackupsResult, k: string): string => result.results.find((r) => r.key === k)!.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('\n');

  it('--all passes the good artifacts and fails each broken one, named, with the reason', async () => {
    const result = await verify('all');
    const byKey = new Map(result.results.map((r) => [r.key, r]));
    for (const k of [keys.goodGlobals, realBase.key, keys.goodSnapshot]) expect(byKey.get(k)?.ok, `${k}: ${JSON.stringify(byKey.get(k)?.checks)}`).toBe(true);
    expect(byKey.get(realBase.key)!.checks.find((c) => c.name === 'content')?.detail).toMatch(/backup_label, pg_control and WAL .* match the metadata; all \d+ files of backup_manifest present with their sizes$/);
    for (const k of [keys.zeroLengthGlobals, keys.emptyGlobals, keys.truncatedBase, keys.badSnapshot, 'wal-archive']) expect(byKey.get(k)?.ok, k).toBe(false);

    expect(detailOf(result, keys.zeroLengthGlobals)).toMatch(/decrypt-decompress|content: decodes to nothing/);
    expect(detailOf(result, keys.emptyGlobals)).toMatch(/^content: decodes to nothing \(0 bytes\): not a pg_dumpall globals dump/);
    expect(detailOf(result, keys.truncatedBase)).toMatch(/content: (not a complete tar archive|the tar end-of-archive marker is missing)/);
    expect(detailOf(result, keys.badSnapshot)).toMatch(/content: .*1 manifest object\(s\) missing from the archive: "lost\/object.bin"/);
    const wal = byKey.get('wal-archive')!;
    expect(wal.checks.filter((c) => c.name === 'wal-segment')).toEqual([{ name: 'wal-segment', ok: false, detail: expect.stringMatching(new RegExp(`^${corruptSegment}: does not start with a WAL page header`)) }]);
    expect(wal.checks[0]!.detail).toMatch(/^1 bad WAL file\(s\): 0000000.*AA; 2 file\(s\)/);
    expect(result.failed).toBe(5);
    // The UI's current details (issue 14): the tally and the failed ones by name, not a blank page.
    const metadata = await worker.env.client.workflow.getHandle(lastVerifyId).query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(new RegExp(`^Verification \\(all\\)\n\n\\*\\*done\\*\\*: ${result.results.length} verified\n\n${result.results.length} of ${result.results.length} done: ${result.verified} ok, 5 failed`));
    expect(metadata.currentDetails).toContain(`- **FAILED** \`${keys.emptyGlobals}\`: content`);

    // Recorded beside each artifact (snapshots beside the snapshot), per copy.
    expect(readVerification(config.backupRoot, keys.emptyGlobals)?.copies?.local).toMatchObject({ ok: false, detail: expect.stringContaining('decodes to nothing') });
    expect(readVerification(config.backupRoot, keys.goodGlobals)?.copies?.local?.ok).toBe(true);
    expect(readVerification(config.backupRoot, keys.badSnapshot, config.minio.backupRoot)?.ok).toBe(false);
    expect(readVerification(config.backupRoot, 'wal-archive')?.copies?.local?.ok).toBe(false);
  });

  it('`lifeboat verify --all` exits 6 and names each failure', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { LIFEBOAT_ENV_FILE: stackEnvFile(), LIFEBOAT_TASK_QUEUE: config.temporal.taskQueue, LIFEBOAT_HOST: config.temporal.host, ...overrides });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const code = await restoreCommands.find((c) => c.name === 'verify')!.run([], { all: true });
      expect(code).toBe(6);
    } finally {
      spy.mockRestore();
      process.env = saved;
    }
    const text = out.join('');
    for (const k of [keys.zeroLengthGlobals, keys.emptyGlobals, keys.truncatedBase, keys.badSnapshot, 'wal-archive']) expect(text).toContain(`FAILED ${k}`);
    expect(text).toContain(corruptSegment);
    expect(text).toMatch(/\d+ verified, 5 failed/);
  });

  it('--latest covers the newest of each kind', async () => {
    const result = await verify('latest');
    expect(result.results.map((r) => r.key).sort()).toEqual(
      [keys.emptyGlobals, keys.zeroLengthGlobals, realBase.key, 'wal-archive', keys.goodSnapshot, keys.badSnapshot].sort(),
    );
    // WAL from the newest base backup's first segment on: both files here are in scope.
    expect(result.results.find((r) => r.key === 'wal-archive')!.checks[0]!.detail).toContain(`(${goodSegment} .. ${corruptSegment})`);
  });

  it('restore --list and backups list show globals with their verification state', async () => {
    const listing = await listRestorable(config);
    const line = (k: string): string => listing.split('\n').find((l) => l.includes(k)) ?? '';
    expect(line(keys.goodGlobals)).toMatch(/^globals\s+daily\s.*\sok \d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+never\s+daily\/globals_/);
    expect(line(keys.emptyGlobals)).toMatch(/FAILED/);
    const rows = catalogRows(await readCatalog(new FsStore(config.backupRoot), undefined), config.backupRoot);
    expect(rows[0]).toEqual(['KIND', 'TIER', 'FINISHED (UTC)', 'AGE', 'DURATION', 'SIZE', 'LOCAL', 'REMOTE', 'LOCAL VERIFIED', 'REMOTE VERIFIED', 'KEY']);
    const globals = rows.find((r) => r[10] === keys.zeroLengthGlobals)!;
    expect(globals[0]).toBe('globals');
    expect(globals[8]).toMatch(/^FAILED .* ago$/);
    expect(globals[9]).toBe('never');
  });
});
