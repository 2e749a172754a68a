/**
 * `audit show` on the real stack: a restore that replaces production waits for its approval
 * Update; "alice" approves it from a client with the CLI's identity. The timeline, from the live
 * history (through the CLI) and from the exported, encrypted audit file, names the approver, the
 * identity and the time. PostgreSQL is not touched: the restore's activities are fakes.
 * With LIFEBOAT_CAPTURE_APPROVAL=1 the run is saved as test/replay/histories/restoreDatabase.approved.json
 * (a real history with an approval Update, replayed by test/replay and read by the timeline's unit test).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { timelineOfFile, timelineOfRun } from '../../client/commands/audit';
import { historyToJSON } from '../../lib/audit/history-json';
import { isHistoryKey } from '../../lib/audit/manifest';
import { FsStore } from '../../lib/storage/fs-store';
import { listAll } from '../../lib/storage/store';
import type { RestoreState } from '../../workflows/restore-database';
import { startTestWorker, stackEnvFile, type TestWorkerHandle } from './helpers';

const PRODUCTION = 'corporate_intel';
const BACKUP = 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg';

describe('audit show: who approved a restore, and when (real Temporal)', () => {
  let handle: TestWorkerHandle;
  let root: string;
  let workflowId: string;
  let approvedAt: number;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-audit-show-'));
    const host = { current: '' };
    const fakes: Partial<Activities> = {
      describeBackupTarget: (async () => ({ database: PRODUCTION, backupHostTaskQueue: host.current, remote: false, encrypted: true, compression: 'gzip', dumpFormat: 'plain' })) as unknown as Activities['describeBackupTarget'],
      findBackup: (async () => ({ key: BACKUP, kind: 'logical', tier: 'daily', database: PRODUCTION, finishedAt: '2025-10-17T01:00:00Z', bytes: 1000, local: true, remote: false })) as unknown as Activities['findBackup'],
      fetchBackup: (async () => ({ path: '/backups/x.sql.gz.gpg', source: 'local' })) as unknown as Activities['fetchBackup'],
      restoreBackup: (async (input: { database: string }) => ({ database: input.database, seconds: 2, bytes: 1000 })) as unknown as Activities['restoreBackup'],
      checkRestoredDatabase: (async () => ({ ok: true, problems: [], tables: 4, rows: 100 })) as unknown as Activities['checkRestoredDatabase'],
      dropStagedDatabase: (async () => ({ dropped: true })) as unknown as Activities['dropStagedDatabase'],
      replaceDatabase: (async (input: { keepAs: string }) => ({ production: PRODUCTION, keptAs: input.keepAs })) as unknown as Activities['replaceDatabase'],
    };
    handle = await startTestWorker({ overrides: { BACKUP_ROOT: root, REMOTE_STORAGE: 'false' }, activityOverrides: fakes });
    host.current = handle.workers.hostTaskQueue;
  });
  afterAll(async () => {
    await handle?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the live timeline names the approver, the identity and the time', async () => {
    workflowId = `audit-show-restore-${Date.now()}`;
    const run = await handle.env.client.workflow.start('restoreDatabase', { taskQueue: handle.taskQueue, workflowId, args: [{ backup: BACKUP, replaceProduction: true }] });
    for (let i = 0; i < 200 && (await run.query<RestoreState>('progress')).stage !== 'awaiting-approval'; i++) await new Promise((r) => setTimeout(r, 100));
    // Alice approves from the CLI's identity (client/context.ts cliIdentity).
    const alice = new Client({ connection: handle.env.connection, namespace: handle.config.temporal.namespace, identity: 'lifeboat-cli:alice@ops1' });
    approvedAt = Date.now();
    await alice.workflow.getHandle(workflowId).executeUpdate('approveReplace', { args: [{ confirm: PRODUCTION, approvedBy: 'Alice Example' }] });
    await run.result();

    const t = await timelineOfRun(handle.env.client, handle.config, workflowId);
    expect(t.status).toBe('completed');
    expect(t.approvals).toHaveLength(1);
    expect(t.approvals[0]).toMatchObject({ approver: 'Alice Example', identity: 'lifeboat-cli:alice@ops1', subject: PRODUCTION });
    expect(Math.abs(new Date(t.approvals[0]!.at).getTime() - approvedAt)).toBeLessThan(5_000);
    expect(t.activities.map((a) => a.activityType)).toEqual(expect.arrayContaining(['findBackup', 'restoreBackup', 'replaceDatabase']));
    // LIFEBOAT_CAPTURE_APPROVAL=1 saves this run as the replay fixture with an approval Update.
    if (process.env.LIFEBOAT_CAPTURE_APPROVAL === '1') {
      const fixture = join(__dirname, '..', 'replay', 'histories', 'restoreDatabase.approved.json');
      writeFileSync(fixture, `${historyToJSON(await run.fetchHistory())}\n`);
    }
    // Workers identify themselves as lifeboat-worker@<host> (workers/worker.ts).
    for (const a of t.activities) expect(a.worker).toMatch(/^lifeboat-worker@/);
    expect(t.activities.findIndex((a) => a.activityType === 'replaceDatabase')).toBeGreaterThan(t.activities.findIndex((a) => a.activityType === 'checkRestoredDatabase'));
  });

  it('the CLI prints it: `lifeboat audit show --workflow-id`', async () => {
    const cli = join(__dirname, '..', '..', 'dist', 'client', 'main.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'audit', 'show', '--workflow-id', workflowId], { env: { ...process.env, LIFEBOAT_ENV_FILE: stackEnvFile() } });
    const minute = new Date(approvedAt).toISOString().slice(0, 16).replace('T', ' ');
    expect(stdout).toMatch(new RegExp(`^approval   Alice Example \\(lifeboat-cli:alice@ops1\\) at ${minute}:\\d\\d\\.\\d{3}Z for ${PRODUCTION}$`, 'm'));
    expect(stdout).toMatch(/approval \(approveReplace\) by Alice Example via lifeboat-cli:alice@ops1 for corporate_intel/);
    process.stdout.write(`audit show --workflow-id:\n${stdout}`);
  });

  it('the exported, encrypted history shows the same approval', async () => {
    await new Promise((r) => setTimeout(r, 1500));
    await handle.env.client.workflow.execute('exportAuditTrail', { taskQueue: handle.taskQueue, workflowId: `audit-show-export-${Date.now()}`, args: [{ settleSeconds: 0 }] });
    const keys = (await listAll(new FsStore(root), 'audit/')).map((o) => o.key).filter((k) => isHistoryKey(k) && k.includes(`/${workflowId}__`));
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/\.json\.zst\.gpg$/);
    const t = await timelineOfFile(handle.config, keys[0]!);
    expect(t.approvals[0]).toMatchObject({ approver: 'Alice Example', identity: 'lifeboat-cli:alice@ops1' });
    expect(t).toEqual(await timelineOfRun(handle.env.client, handle.config, workflowId));
  });
});
