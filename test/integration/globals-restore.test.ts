/**
 * restoreGlobals on the real stack (issue 14: globals were backed up but could only be restored by
 * hand): roles from a globals backup are created when missing, skipped with a report when they
 * exist, the role running the restore is never altered, memberships of created roles come back, and
 * a tablespace whose directory is gone is reported as missing-directory, not created. A full
 * restore with `withGlobals` applies the same run's globals before the load.
 */
import { chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postgresOsUser } from '../../lib/postgres/os-user';
import { applyGlobals, parseGlobals } from '../../lib/restore/globals';
import type { BackupDatabaseResult } from '../../workflows/backup-database';
import type { RestoreDatabaseResult } from '../../workflows/restore-database';
import type { RestoreGlobalsResult } from '../../workflows/restore-globals';
import { queryDb, runLifeboat, startTestWorker, type TestWorkerHandle } from './helpers';


describe('restoreGlobals on the real stack', () => {
  let worker: TestWorkerHandle;
  const id = Date.now().toString(36);
  const [kept, dropped, member] = [`lb_glob_kept_${id}`, `lb_glob_dropped_${id}`, `lb_glob_member_${id}`];
  const tablespace = `lb_glob_ts_${id}`;
  // Under the stack directory, not /tmp: a cluster killed while the tablespace exists replays its
  // CREATE TABLESPACE at start and needs the directory (a /tmp directory cleaned meanwhile broke CI).
  const tsDir = join(inject('stackDir'), 'tablespaces', `lifeboat-globals-${id}`);
  let globalsKey: string;
  let dumpKey: string;

  beforeAll(async () => {
    worker = await startTestWorker();
    const sql = (text: string) => queryDb(worker.config, 'postgres', text);
    await sql(`CREATE ROLE ${kept} LOGIN PASSWORD 'kept-secret'`);
    await sql(`CREATE ROLE ${dropped} NOLOGIN CREATEDB CONNECTION LIMIT 7`);
    await sql(`CREATE ROLE ${member} NOLOGIN`);
    await sql(`GRANT ${dropped} TO ${member}`);
    mkdirSync(join(tsDir, '..'), { recursive: true, mode: 0o755 });
    mkdirSync(tsDir, { mode: 0o700 });
    const owner = postgresOsUser();
    if (owner) chownSync(tsDir, owner.uid, owner.gid);
    await sql(`CREATE TABLESPACE ${tablespace} LOCATION '${tsDir}'`);
    const backup = (await worker.env.client.workflow.execute('backupDatabase', { taskQueue: worker.taskQueue, workflowId: `test-globals-backup-${id}`, args: [{ tier: 'daily' }] })) as BackupDatabaseResult;
    globalsKey = backup.globalsKey;
    dumpKey = backup.key;
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

  it('a full restore with withGlobals applies the same run\'s globals before the load, then loads and checks the dump', { timeout: 300_000 }, async () => {
    await queryDb(worker.config, 'postgres', `DROP ROLE IF EXISTS ${dropped}`);
    const result = (await worker.env.client.workflow.execute('restoreDatabase', {
      taskQueue: worker.taskQueue,
      workflowId: `test-globals-full-${id}`,
      args: [{ backup: dumpKey, withGlobals: true }],
    })) as RestoreDatabaseResult;
    try {
      expect(result.globals?.key).toBe(globalsKey);
      expect(result.globals?.roles).toContainEqual({ name: dropped, state: 'created' });
      expect(result.globals?.roles).toContainEqual({ name: kept, state: 'skipped', reason: 'exists' });
      expect(result.check.ok).toBe(true);
      const [role] = await queryDb<{ n: number }>(worker.config, 'postgres', `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${dropped}'`);
      expect(role?.n).toBe(1);
      // The step table shows the globals step between fetch and load.
      const history = await worker.env.client.workflow.getHandle(`test-globals-full-${id}`).fetchHistory();
      const scheduled = (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
      expect(scheduled.indexOf('applyGlobalsBackup')).toBeGreaterThan(scheduled.indexOf('fetchBackup'));
      expect(scheduled.indexOf('applyGlobalsBackup')).toBeLessThan(scheduled.indexOf('restoreBackup'));
    } finally {
      await queryDb(worker.config, 'postgres', `DROP DATABASE IF EXISTS ${result.database}`);
    }
  });

  it('refuses withGlobals with verifyOnly before anything runs', async () => {
    const error = await worker.env.client.workflow
      .execute('restoreDatabase', { taskQueue: worker.taskQueue, workflowId: `test-globals-verify-${id}`, args: [{ backup: dumpKey, withGlobals: true, verifyOnly: true }] })
      .then(() => undefined, (e: unknown) => e as Error);
    expect((error as { cause?: { message?: string } } | undefined)?.cause?.message).toMatch(/^withGlobals: a verify-only restore/);
    const history = await worker.env.client.workflow.getHandle(`test-globals-verify-${id}`).fetchHistory();
    expect((history.events ?? []).some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  });

  it('`lifeboat restore BACKUP --with-globals`: refused with --verify-only (exit 2, nothing started), else prints the globals report', { timeout: 300_000 }, async () => {
    const env = { LIFEBOAT_TASK_QUEUE: worker.taskQueue, LIFEBOAT_HOST: 'testhost' };
    const refused = await runLifeboat(['restore', dumpKey, '--with-globals', '--verify-only'], env);
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/--with-globals: cannot be combined with --verify-only/);
    expect(refused.stderr).not.toMatch(/started workflow/);

    await queryDb(worker.config, 'postgres', `DROP ROLE IF EXISTS ${dropped}`);
    const out = await runLifeboat(['restore', dumpKey, '--with-globals', '--json'], env);
    expect(out.status, out.stderr).toBe(0);
    const { result } = JSON.parse(out.stdout) as { result: RestoreDatabaseResult };
    try {
      expect(result.globals?.key).toBe(globalsKey);
      expect(result.globals?.roles).toContainEqual({ name: dropped, state: 'created' });
      expect(result.check.ok).toBe(true);
    } finally {
      await queryDb(worker.config, 'postgres', `DROP DATABASE IF EXISTS ${result.database}`);
    }
  });

  it('a retry after a worker died mid-restore reports what the first attempt created as created, and grants those roles\' memberships', async () => {
    const [parent, child] = [`lb_glob_retry_parent_${id}`, `lb_glob_retry_child_${id}`];
    const script = parseGlobals([
      `CREATE ROLE ${parent};`, `ALTER ROLE ${parent} WITH NOLOGIN;`,
      `CREATE ROLE ${child};`, `ALTER ROLE ${child} WITH NOLOGIN;`,
      `GRANT ${parent} TO ${child} GRANTED BY ${worker.config.db.user};`,
    ].join('\n'));
    try {
      // Attempt 1 committed both roles (as its heartbeats said), then died before the memberships.
      const heard: { roles: string[] }[] = [];
      const firstRoles = { ...script, memberships: [] };
      const first = await applyGlobals(worker.config.db, firstRoles, undefined, { onCreated: (c) => heard.push(c) });
      expect(first.roles.map((r) => r.state)).toEqual(['created', 'created']);
      expect(heard.at(-1)?.roles).toEqual([parent, child]);
      // Attempt 2, with attempt 1's heartbeat details: created, not "exists", and the membership granted.
      const retry = await applyGlobals(worker.config.db, script, undefined, { created: heard.at(-1) });
      expect(retry.roles).toEqual([{ name: parent, state: 'created' }, { name: child, state: 'created' }]);
      expect(retry.memberships).toEqual([{ role: parent, member: child, state: 'granted' }]);
      // Without them (a restore that never created these roles) they are existing roles, left alone.
      const other = await applyGlobals(worker.config.db, script);
      expect(other.roles).toEqual([{ name: parent, state: 'skipped', reason: 'exists' }, { name: child, state: 'skipped', reason: 'exists' }]);
      expect(other.memberships).toEqual([{ role: parent, member: child, state: 'skipped' }]);
    } finally {
      for (const role of [child, parent]) await queryDb(worker.config, 'postgres', `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
  });
});
