/**
 * restoreGlobals on the real stack (issue 14: globals were backed up but could only be restored by
 * hand): roles from a globals backup are created when missing, skipped with a report when they
 * exist, the role running the restore is never altered, memberships of created roles come back, and
 * a tablespace whose directory is gone is reported as missing-directory, not created.
 */
import { chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresOsUser } from '../../lib/postgres/os-user';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import type { RestoreGlobalsResult } from '../../workflows/restore-globals';
import { queryDb, startTestWorker, type TestWorkerHandle } from './helpers';

describe('restoreGlobals on the real stack', () => {
  let worker: TestWorkerHandle;
  const id = Date.now().toString(36);
  const [kept, dropped, member] = [`lb_glob_kept_${id}`, `lb_glob_dropped_${id}`, `lb_glob_member_${id}`];
  const tablespace = `lb_glob_ts_${id}`;
  const tsDir = `/tmp/lifeboat-globals-${id}`;
  let globalsKey: string;

  beforeAll(async () => {
    worker = await startTestWorker();
    const sql = (text: string) => queryDb(worker.config, 'postgres', text);
    await sql(`CREATE ROLE ${kept} LOGIN PASSWORD 'kept-secret'`);
    await sql(`CREATE ROLE ${dropped} NOLOGIN CREATEDB CONNECTION LIMIT 7`);
    await sql(`CREATE ROLE ${member} NOLOGIN`);
    await sql(`GRANT ${dropped} TO ${member}`);
    mkdirSync(tsDir, { mode: 0o700 });
    const owner = postgresOsUser();
    if (owner) chownSync(tsDir, owner.uid, owner.gid);
    await sql(`CREATE TABLESPACE ${tablespace} LOCATION '${tsDir}'`);
    const backup = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-globals-backup-${id}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
    globalsKey = backup.globalsKey;
    // After the backup: one role and the tablespace (and its directory) are gone.
    await sql(`DROP ROLE ${dropped}`);
    await sql(`DROP TABLESPACE ${tablespace}`);
    rmSync(tsDir, { recursive: true, force: true });
  }, 300_000);

  afterAll(async () => {
    for (const role of [kept, dropped, member]) await queryDb(worker.config, 'postgres', `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await queryDb(worker.config, 'postgres', `DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
    rmSync(tsDir, { recursive: true, force: true });
    await worker?.stop();
  });

  it('creates missing roles, skips existing ones and the restoring role, reports a missing tablespace directory', { timeout: 300_000 }, async () => {
    const result = (await worker.env.client.workflow.execute('restoreGlobals', {
      taskQueue: worker.taskQueue,
      workflowId: `test-globals-restore-${id}`,
      args: [{ backup: globalsKey, target: { postgres: { host: worker.config.db.host, port: worker.config.db.port } } }],
    })) as RestoreGlobalsResult;
    expect(result.key).toBe(globalsKey);
    expect(result.roles).toContainEqual({ name: dropped, state: 'created' });
    expect(result.roles).toContainEqual({ name: kept, state: 'skipped', reason: 'exists' });
    expect(result.roles).toContainEqual({ name: member, state: 'skipped', reason: 'exists' });
    expect(result.roles).toContainEqual({ name: worker.config.db.user, state: 'skipped', reason: 'restoring-role' });
    expect(result.tablespaces).toContainEqual(expect.objectContaining({ name: tablespace, location: tsDir, state: 'missing-directory' }));
    expect(existsSync(tsDir)).toBe(false);
    expect(result.memberships).toContainEqual({ role: dropped, member, state: 'granted' });
    // The recreated role has its attributes back; no secret in the result.
    const [role] = await queryDb<{ rolcreatedb: boolean; rolconnlimit: number; rolcanlogin: boolean }>(worker.config, 'postgres', `SELECT rolcreatedb, rolconnlimit, rolcanlogin FROM pg_roles WHERE rolname = '${dropped}'`);
    expect(role).toEqual({ rolcreatedb: true, rolconnlimit: 7, rolcanlogin: false });
    expect(JSON.stringify(result)).not.toMatch(/SCRAM-SHA-256|kept-secret/);
  });

  it('refuses a backup that is not globals before touching the server', async () => {
    const error = await worker.env.client.workflow
      .execute('restoreGlobals', { taskQueue: worker.taskQueue, workflowId: `test-globals-bad-${id}`, args: [{ backup: globalsKey.replace(/globals_/, 'nope_') }] })
      .then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeDefined();
    // The activity's refusal (BackupNotFound, non-retryable) under the workflow's ActivityFailure.
    const cause = (error as { cause?: { cause?: { message?: string; type?: string } } }).cause?.cause;
    expect(cause).toMatchObject({ type: 'BackupNotFound', message: expect.stringMatching(/^no backup/) });
  });
});
