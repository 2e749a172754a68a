/**
 * Configuration file backups on the real stack (Temporal, MinIO off-site, OpenPGP key of the test
 * stack): a set with modes, owners, an empty directory, a symbolic link inside the set and a name
 * with spaces and UTF-8 round-trips through backupConfigFiles / restoreConfigFiles; a restore into
 * a non-empty directory is refused without writing; a missing path is a warning in the result and
 * the metadata; a FIFO and an unreadable file fail naming the file; the env file's secret values
 * are in no workflow history; the archive opens by hand with `gpg -d | zstd -d | tar -x`; a run
 * that finds nothing changed records "unchanged"; `diff` writes nothing; in place needs an approval.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unchangedConfigRows } from '../../client/commands/backup';
import { listConfigBackups, parseConfigUnchanged, resolveConfigBackup } from '../../lib/catalog/config';
import { formatStamp } from '../../lib/catalog/names';
import { parseMetadata, type ConfigMetadata } from '../../lib/catalog/metadata';
import { FsStore } from '../../lib/storage/fs-store';
import { S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import type { BackupConfigFilesResult } from '../../workflows/backup-config-files';
import { approveInPlaceUpdate, configRestoreQuery, type RestoreConfigFilesResult } from '../../workflows/restore-config-files';
import type { VerifyBackupsResult } from '../../workflows/verify-backups';
import { dropS3Bucket, historyText, stackEnvFile, startTestWorker, type TestWorkerHandle } from './helpers';
import { failureOf } from './minio-helpers';

const UTF8_NAME = 'with space ü € 日本.conf';

describe('configuration file backups', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'lifeboat-config-files-'));
  const live = join(scratch, 'live');
  const app = join(live, 'etc', 'app');
  const envFile = join(live, 'etc', 'default', 'corporate-intel-backup');
  const missing = join(live, 'etc', 'not-there.conf');
  const bucket = `lifeboat-test-config-${randomUUID().slice(0, 8)}`;
  const marker = `content-marker-${randomUUID()}`;
  let worker: TestWorkerHandle;
  let remote: S3Store;
  let first: BackupConfigFilesResult;
  const ids: string[] = [];

  /** The set: files with modes and an owner, an empty directory, a link inside the set, a UTF-8 name, an excluded file, the env file. */
  const makeSet = (): void => {
    mkdirSync(join(app, 'conf.d'), { recursive: true });
    mkdirSync(join(app, 'empty'), { mode: 0o750 });
    chmodSync(join(app, 'empty'), 0o750);
    writeFileSync(join(app, 'app.conf'), `listen = 8080\n# ${marker}\n`, { mode: 0o640 });
    chmodSync(join(app, 'app.conf'), 0o640);
    writeFileSync(join(app, 'run.sh'), '#!/bin/sh\nexec app\n');
    chmodSync(join(app, 'run.sh'), 0o755);
    writeFileSync(join(app, UTF8_NAME), 'utf-8 name\n');
    chmodSync(join(app, UTF8_NAME), 0o600);
    writeFileSync(join(app, 'owned.conf'), 'owned by 1234:2345\n');
    chownSync(join(app, 'owned.conf'), 1234, 2345);
    writeFileSync(join(app, 'conf.d', 'a.conf'), 'a = 1\n');
    writeFileSync(join(app, 'conf.d', 'editor.swp'), 'excluded\n');
    symlinkSync('app.conf', join(app, 'current.conf'));
    // The env file: a copy of the test stack's (its real secrets), mode 0600.
    mkdirSync(join(live, 'etc', 'default'), { recursive: true });
    writeFileSync(envFile, readFileSync(stackEnvFile()), { mode: 0o600 });
    chmodSync(envFile, 0o600);
    utimesSync(join(app, 'app.conf'), new Date('2024-05-01T10:00:00Z'), new Date('2024-05-01T10:00:00Z'));
  };

  const run = async <T>(type: string, input: unknown): Promise<T> => {
    const workflowId = `test-${type}-${Date.now()}-${randomUUID().slice(0, 4)}`;
    ids.push(workflowId);
    return (await worker.env.client.workflow.execute(type, { taskQueue: worker.taskQueue, workflowId, args: [input] })) as T;
  };
  const metadataOf = (key: string): ConfigMetadata => parseMetadata(readFileSync(join(worker.config.backupRoot, `${key}.metadata.json`), 'utf8')) as ConfigMetadata;
  /** Content, mode and (for links) target of every entry below `dir`, by relative path. */
  const tree = (dir: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string, rel: string): void => {
      for (const name of readdirSync(d).sort()) {
        const p = join(d, name);
        const r = `${rel}/${name}`;
        const s = lstatSync(p);
        if (s.isSymbolicLink()) out[r] = `link ${readlinkSync(p)}`;
        else if (s.isDirectory()) {
          out[r] = `dir ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`;
          walk(p, r);
        } else out[r] = `file ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid} ${readFileSync(p).toString('base64')}`;
      }
    };
    walk(dir, '');
    return out;
  };

  beforeAll(async () => {
    makeSet();
    worker = await startTestWorker({
      overrides: {
        BACKUP_ROOT: join(scratch, 'backups'),
        MINIO_BACKUP_ROOT: join(scratch, 'minio'),
        S3_BUCKET: bucket,
        CONFIG_BACKUP_PATHS: `${app},${envFile},${missing}`,
        CONFIG_BACKUP_EXCLUDE: '*.swp',
        // A valid value: the DR runbook's setting is being added in parallel and its empty default does not validate yet.
        DR_CHECK_HTTP: 'http://127.0.0.1:1/health',
      },
    });
    expect(worker.config.remote.enabled).toBe(true);
    remote = new S3Store(s3SettingsFromConfig(worker.config.remote));
    await remote.client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  afterAll(async () => {
    await worker?.stop();
    if (remote) await dropS3Bucket(remote.client, bucket);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('archives the set into config/config_<stamp>.tar.zst.gpg with its manifest, warns about a missing path, copies it off-site', async () => {
    const started = Date.now();
    first = await run<BackupConfigFilesResult>('backupConfigFiles', {});
    const seconds = (Date.now() - started) / 1000;
    expect(first.outcome).toBe('archived');
    expect(first.key).toBe(`config/config_${first.stamp}.tar.zst.gpg`);
    // The missing path: a clear warning in the result and in the metadata.
    const warning = `${missing} (CONFIG_BACKUP_PATHS) does not exist: not backed up`;
    expect(first.warnings).toContain(warning);
    const metadata = metadataOf(first.key);
    expect(metadata.warnings).toContain(warning);
    expect(metadata.sha256).toBe(first.sha256);
    expect(metadata.bytes).toBe(statSync(join(worker.config.backupRoot, first.key)).size);
    // The manifest: path, size, mode, owner, sha256 per file; the link and the empty directory; no excluded file.
    const byPath = new Map(metadata.manifest.map((e) => [e.path, e]));
    expect(byPath.get(join(app, 'app.conf'))).toMatchObject({ type: 'file', mode: 0o640, uid: 0, size: statSync(join(app, 'app.conf')).size, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(byPath.get(join(app, 'owned.conf'))).toMatchObject({ uid: 1234, gid: 2345 });
    expect(byPath.get(join(app, 'current.conf'))).toMatchObject({ type: 'symlink', linkTarget: 'app.conf' });
    expect(byPath.get(join(app, 'empty'))).toMatchObject({ type: 'directory', mode: 0o750 });
    expect(byPath.get(join(app, UTF8_NAME))).toMatchObject({ type: 'file', mode: 0o600 });
    expect(byPath.get(envFile)).toMatchObject({ type: 'file', mode: 0o600 });
    expect(byPath.has(join(app, 'conf.d', 'editor.swp'))).toBe(false);
    expect(first.files).toBe(6);
    // Off-site: the archive and its metadata object under config/.
    expect(first.remote?.key).toBe(first.key);
    expect((await remote.stat(first.key))?.size).toBe(metadata.bytes);
    expect(await remote.stat(`${first.key}.metadata.json`)).toBeDefined();
    process.stderr.write(`config backup: ${first.files} files, ${metadata.fileBytes} bytes of files -> ${metadata.bytes} bytes archived in ${seconds.toFixed(2)} s (workflow incl. upload; activity ${metadata.durationSeconds} s)\n`);
  });

  it('keeps the env file\'s secret values and every file\'s contents out of the workflow history', async () => {
    const history = historyText(await worker.env.client.workflow.getHandle(ids[0]!).fetchHistory());
    expect(history).toContain(first.key); // the decoded payloads are searched
    const secrets = worker.config.secretValues;
    expect(secrets.length).toBeGreaterThan(2);
    for (const secret of secrets) expect(history.includes(secret), 'a secret value of the env file is in the history').toBe(false);
    expect(history.includes(marker)).toBe(false);
  });

  it('opens by hand with gpg -d | zstd -d | tar -x', () => {
    const home = join(scratch, 'gnupg');
    mkdirSync(home, { mode: 0o700 });
    const gpg = spawnSync('gpg', ['--homedir', home, '--batch', '--import', worker.config.encryption.privateKeyFile!], { encoding: 'utf8' });
    expect(gpg.status, gpg.stderr).toBe(0);
    const out = join(scratch, 'by-hand');
    mkdirSync(out);
    const file = join(worker.config.backupRoot, first.key);
    const shell = spawnSync('bash', ['-o', 'pipefail', '-c', `gpg --homedir "${home}" --batch -d "${file}" | zstd -d | tar -x -C "${out}"`], { encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    const root = join(out, `config_${first.stamp}`);
    expect(tree(join(root, app))).toEqual(withoutExcluded(tree(app)));
    expect(readFileSync(join(root, envFile))).toEqual(readFileSync(envFile));
    expect(statSync(join(root, envFile)).mode & 0o7777).toBe(0o600);
  });

  it('restores into a new directory: content, modes, owners, the empty directory, the link and the UTF-8 name come back identical, checked against the manifest', async () => {
    const target = join(scratch, 'restored');
    const result = await run<RestoreConfigFilesResult>('restoreConfigFiles', { targetDir: target });
    expect(result).toMatchObject({ backup: first.key, mode: 'new', restored: { files: 6, symlinks: 1, ownersRestored: true, checked: metadataOf(first.key).manifest.length, copy: 'local' } });
    expect(tree(join(target, app))).toEqual(withoutExcluded(tree(app)));
    expect(readFileSync(join(target, envFile))).toEqual(readFileSync(envFile));
    expect(statSync(join(target, app, 'app.conf')).mtime.toISOString()).toBe('2024-05-01T10:00:00.000Z');
  });

  it('refuses a restore into a non-empty directory and writes nothing', async () => {
    const target = join(scratch, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'mine');
    const failure = await failureOf(run('restoreConfigFiles', { targetDir: target }));
    expect(failure.type).toBe('OperationRefused');
    expect(failure.message).toMatch(/is not empty .* nothing was written/);
    expect(readdirSync(target)).toEqual(['keep.txt']);
  });

  it('records "unchanged" when the files are those of the newest backup, and a new archive once one changes', async () => {
    const second = await run<BackupConfigFilesResult>('backupConfigFiles', {});
    expect(second).toMatchObject({ outcome: 'unchanged', key: `config/config_${second.stamp}.unchanged.json`, sameAs: first.key, files: 6 });
    expect(existsSync(join(worker.config.backupRoot, `config/config_${second.stamp}.tar.zst.gpg`))).toBe(false);
    expect(parseConfigUnchanged(readFileSync(join(worker.config.backupRoot, second.key), 'utf8'))).toMatchObject({ sameAs: first.key, warnings: second.warnings });
    expect(await remote.stat(second.key)).toBeDefined();
    // Listed, and a restore of the unchanged run restores its archive.
    const entries = await listConfigBackups(new FsStore(worker.config.backupRoot), remote);
    expect(entries.map((e) => [e.kind, e.key])).toEqual([['unchanged', second.key], ['archive', first.key]]);
    expect(unchangedConfigRows(entries)[0]).toEqual(expect.arrayContaining(['config', 'unchanged', `${second.key} (= ${first.key})`]));
    const diff = await run<RestoreConfigFilesResult>('restoreConfigFiles', { backup: second.key, diff: true });
    expect(diff).toMatchObject({ backup: first.key, requested: second.key, mode: 'diff', differences: { total: 0 } });

    writeFileSync(join(app, 'conf.d', 'a.conf'), 'a = 2\n');
    await new Promise((r) => setTimeout(r, 1100)); // names are unique per second
    const third = await run<BackupConfigFilesResult>('backupConfigFiles', {});
    expect(third.outcome).toBe('archived');
    expect(third.key).not.toBe(first.key);
  });

  it('takes the next free second when other runs hold the names of this one, instead of failing', async () => {
    // Other runs' "unchanged" records for this second and the next three (a scheduled run and
    // manual ones in a burst): the backup waits on a workflow timer and takes the first free name.
    const template = JSON.parse(readFileSync(join(worker.config.backupRoot, 'config', readdirSync(join(worker.config.backupRoot, 'config')).find((f) => f.endsWith('.unchanged.json'))!), 'utf8')) as Record<string, unknown>;
    const newest = resolveConfigBackup(await listConfigBackups(new FsStore(worker.config.backupRoot), undefined), undefined).archive;
    const now = Date.now();
    const held = [0, 1, 2, 3].map((s) => formatStamp(new Date(now + s * 1000)));
    const heldPaths = held.map((stamp) => {
      const path = join(worker.config.backupRoot, 'config', `config_${stamp}.unchanged.json`);
      const record = { ...template, key: `config/config_${stamp}.unchanged.json`, stamp, sameAs: newest.key, manifestSha256: newest.metadata.manifestSha256, workflowId: 'another-run', runId: 'another-run-id' };
      writeFileSync(path, JSON.stringify(record));
      return path;
    });
    try {
      const workflowId = `test-backupConfigFiles-burst-${randomUUID().slice(0, 8)}`;
      ids.push(workflowId);
      const handle = await worker.env.client.workflow.start('backupConfigFiles', { taskQueue: worker.taskQueue, workflowId, args: [{}] });
      const result = (await handle.result()) as BackupConfigFilesResult;
      expect(result.outcome).toBe('unchanged');
      expect(held).not.toContain(result.stamp);
      expect(result.stamp > held[0]!).toBe(true);
      // The other runs' records are untouched, and the wait was a timer in the history.
      for (const path of heldPaths) expect(JSON.parse(readFileSync(path, 'utf8')).runId).toBe('another-run-id');
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.timerStartedEventAttributes).length).toBeGreaterThanOrEqual(1);
      rmSync(join(worker.config.backupRoot, result.key));
      if (result.remote) await remote.delete(result.remote.key);
    } finally {
      for (const path of heldPaths) rmSync(path, { force: true });
    }
  });

  it('verify --all covers configuration archives', async () => {
    const result = await run<VerifyBackupsResult>('verifyBackups', { scope: 'all' });
    const configResults = result.results.filter((r) => r.key.startsWith('config/'));
    expect(configResults).toHaveLength(2);
    for (const r of configResults) {
      expect(r.ok, JSON.stringify(r.checks)).toBe(true);
      expect(r.checks.find((c) => c.name === 'content')?.detail).toMatch(/every file, directory and link of the manifest/);
    }
  });

  it('--diff lists what differs from the live files and writes nothing', async () => {
    writeFileSync(join(app, 'app.conf'), 'listen = 9090\n');
    chmodSync(join(app, 'run.sh'), 0o700);
    writeFileSync(join(app, 'new.conf'), 'added\n');
    const before = tree(live);
    const result = await run<RestoreConfigFilesResult>('restoreConfigFiles', { backup: first.key, diff: true });
    const changes = result.differences!.list.map((d) => `${d.change} ${d.path}`);
    expect(changes).toEqual(expect.arrayContaining([`content ${join(app, 'app.conf')}`, `mode ${join(app, 'run.sh')}`, `extra ${join(app, 'new.conf')}`, `content ${join(app, 'conf.d', 'a.conf')}`]));
    expect(result.restored).toBeUndefined();
    expect(tree(live)).toEqual(before);
    // No contents in the history, only paths and facts.
    expect(JSON.stringify(result).includes('9090')).toBe(false);
  });

  it('restores in place only after an approveInPlace Update naming the backup', async () => {
    const before = tree(live);
    const handle = await worker.env.client.workflow.start('restoreConfigFiles', { taskQueue: worker.taskQueue, workflowId: `test-config-in-place-${Date.now()}`, args: [{ backup: first.key, inPlace: true }] });
    ids.push(handle.workflowId);
    for (let i = 0; (await handle.query(configRestoreQuery)).stage !== 'awaiting-approval'; i++) {
      expect(i).toBeLessThan(200);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await handle.query(configRestoreQuery)).differences).toBeGreaterThanOrEqual(4);
    expect(tree(live)).toEqual(before); // nothing written while waiting
    await expect(handle.executeUpdate(approveInPlaceUpdate, { args: [{ confirm: 'something-else' }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect(await handle.executeUpdate(approveInPlaceUpdate, { args: [{ confirm: first.key.split('/').pop()! }] })).toMatch(/approved/);
    const result = (await handle.result()) as RestoreConfigFilesResult;
    expect(result).toMatchObject({ mode: 'in-place', restored: { files: 6 } });
    expect(readFileSync(join(app, 'app.conf'), 'utf8')).toContain(marker);
    expect(statSync(join(app, 'run.sh')).mode & 0o7777).toBe(0o755);
    expect(readFileSync(join(app, 'conf.d', 'a.conf'), 'utf8')).toBe('a = 1\n');
    expect(existsSync(join(app, 'new.conf'))).toBe(true); // files the backup does not have are left alone
    rmSync(join(app, 'new.conf'));
    const after = await run<RestoreConfigFilesResult>('restoreConfigFiles', { backup: first.key, diff: true });
    expect(after.differences?.total).toBe(0);
  });

  it('fails naming the file when the set holds a FIFO (reading it would block)', async () => {
    const fifo = join(app, 'control.pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    try {
      const failure = await failureOf(run('backupConfigFiles', {}));
      expect(failure.type).toBe('InputInvalid');
      expect(failure.message).toContain(`${fifo} is a FIFO (named pipe)`);
    } finally {
      rmSync(fifo);
    }
  });

  it('fails naming the file when a file cannot be read (collected as an unprivileged user: root reads everything)', () => {
    // Tests run as root, for whom no permission bit makes a file unreadable; the walk the activity
    // runs is run here as `nobody`, for whom a 0600 root file is.
    const bundle = join(scratch, 'collect.js');
    buildSync({ entryPoints: [join(__dirname, '..', '..', 'lib', 'config-files', 'collect.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
    const dir = join(scratch, 'nobody');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    chmodSync(scratch, 0o755);
    writeFileSync(join(dir, 'readable.conf'), 'ok\n', { mode: 0o644 });
    writeFileSync(join(dir, 'secret.conf'), 'no\n', { mode: 0o600 });
    chmodSync(join(dir, 'secret.conf'), 0o600);
    const script = `require(${JSON.stringify(bundle)}).collectConfigSet([${JSON.stringify(dir)}], []).then(() => console.log('collected'), (e) => { console.log(e.name + ': ' + e.message); process.exit(3); })`;
    const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(3);
    expect(result.stdout).toContain(`InputInvalid: CONFIG_BACKUP_PATHS: cannot read ${join(dir, 'secret.conf')} (EACCES)`);
  });

  it('refuses bad input before any side effect', async () => {
    expect((await failureOf(run('restoreConfigFiles', {}))).type).toBe('InputInvalid');
    expect((await failureOf(run('restoreConfigFiles', { targetDir: 'relative/dir' }))).type).toBe('InputInvalid');
    expect((await failureOf(run('restoreConfigFiles', { targetDir: join(scratch, 'x'), inPlace: true }))).type).toBe('InputInvalid');
    expect((await failureOf(run('backupConfigFiles', { paths: ['/etc'] }))).type).toBe('InputInvalid');
  });
});

/** The live tree as the backup holds it: CONFIG_BACKUP_EXCLUDE (*.swp) left out. */
function withoutExcluded(t: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(t).filter(([k]) => !k.endsWith('.swp')));
}
