/**
 * Workflow tests with the activities swapped for fakes, on Temporal's time-skipping test server
 * (test/time-skipping.ts): restoreDatabase's 24-hour approval gate runs in seconds, and the step
 * tracker's `status` query and current details are checked for restoreDatabase and
 * restorePointInTime. No PostgreSQL or MinIO is touched; the workflow code is the real bundle.
 */
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { followProgress, heartbeatProgress, renderProgress } from '../../client/progress';
import type { RestoreProgress } from '../../lib/restore/load';
import { progressQuery, type RestoreDatabaseResult, type RestoreState } from '../../workflows/restore-database';
import type { RestorePointInTimeResult } from '../../workflows/restore-point-in-time';
import { statusQuery, type RunbookStatus } from '../../workflows/step-tracker';
import { createTimeSkippingEnv, timeSkippingServer } from '../time-skipping';
import { testLogger, workflowBundle } from './helpers';

const PRODUCTION = 'corporate_intel';
/** While set, the fake load heartbeats LIVE and waits for it (the live-progress test). */
let loadGate: Promise<void> | undefined;
const LIVE: RestoreProgress = { stage: 'loading', bytesDone: 400, bytesTotal: 1000, percent: 40, etaSeconds: 3, bytesPerSecond: 200 };
const server = timeSkippingServer();
if (server.kind === 'none') console.warn(`restore-gates: skipped, ${server.reason}`);

describe.skipIf(server.kind === 'none')('approval gate and steps (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `gates-${randomUUID().slice(0, 8)}`;
  const calls: { activity: string; input: unknown }[] = [];
  const called = (activity: string) => calls.filter((c) => c.activity === activity).map((c) => c.input);
  const fake = <K extends keyof Activities>(activity: K, result: (input: never) => unknown) =>
    [activity, async (input: never) => {
      calls.push({ activity, input });
      return result(input);
    }] as const;

  beforeAll(async () => {
    testLogger(); // the Runtime's logger, before the environment creates one
    env = await createTimeSkippingEnv();
    const activities = Object.fromEntries([
      fake('describeBackupTarget', () => ({ database: PRODUCTION, backupHostTaskQueue: taskQueue, remote: false, encrypted: true, compression: 'gzip', dumpFormat: 'plain' })),
      fake('findBackup', () => ({ key: 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg', kind: 'logical', tier: 'daily', database: PRODUCTION, finishedAt: '2025-10-17T01:00:00Z', bytes: 1000, local: true, remote: false })),
      fake('fetchBackup', () => ({ path: '/backups/daily/x.sql.gz.gpg', source: 'local' })),
      fake('restoreBackup', async (input: { database: string }) => {
        if (loadGate) {
          Context.current().heartbeat({ ...LIVE, tools: [] });
          await loadGate;
        }
        return { database: input.database, seconds: 2, bytes: 1000 };
      }),
      fake('checkRestoredDatabase', () => ({ ok: true, problems: [], tables: 4, rows: 100 })),
      fake('dropStagedDatabase', () => ({ dropped: true })),
      fake('replaceDatabase', (input: { keepAs: string }) => ({ production: PRODUCTION, keptAs: input.keepAs })),
      fake('planPointInTimeRecovery', () => ({
        target: { utc: '2025-10-17T14:30:00.000Z' },
        base: { key: 'base/20251017-010000', startLsn: '0/2000028', serverMajor: 15, systemIdentifier: '1' },
        segmentCount: 3,
        warnings: [],
        port: 15999,
      })),
      fake('prepareRecoveryDataDir', () => ({ dataDir: '/tmp/pitr-x', port: 15999 })),
      fake('startRecoveryCluster', () => ({ recoveryPoint: { lastTransactionAt: '2025-10-17T14:29:59Z' }, restoredSegments: 3 })),
      fake('verifyRecoveredCluster', () => ({ databases: [] })),
    ]);
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    running = worker.run();
  }, 600_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const startRestore = (input: Record<string, unknown>) =>
    env.client.workflow.start('restoreDatabase', { taskQueue, workflowId: `gate-${randomUUID()}`, args: [input] });

  async function untilAwaitingApproval(handle: Awaited<ReturnType<typeof startRestore>>): Promise<RestoreState> {
    for (let i = 0; i < 200; i++) {
      const state = await handle.query<RestoreState>('progress');
      if (state.stage === 'awaiting-approval' || state.stage === 'failed') return state;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the restore never reached the approval gate');
  }

  it('without an approval, fails after 24 h (virtual; seconds of real time), drops the staged copy and replaces nothing', async () => {
    calls.length = 0;
    const wall = Date.now();
    const handle = await startRestore({ backup: 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg', replaceProduction: true });
    const staged = (await untilAwaitingApproval(handle)).database;
    expect(staged).toMatch(new RegExp(`^${PRODUCTION}_restore_`));
    expect((await handle.query(statusQuery)).current).toBe('approval');

    const failure = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(((failure as WorkflowFailedError).cause as Error).message).toMatch(/no approval within 24 h/);
    expect(Date.now() - wall).toBeLessThan(60_000);
    const { raw } = await handle.describe();
    const waitedMs = Number(raw.workflowExecutionInfo!.closeTime!.seconds) * 1000 - Number(raw.workflowExecutionInfo!.startTime!.seconds) * 1000;
    expect(waitedMs).toBeGreaterThanOrEqual(24 * 3600 * 1000 - 1000);
    expect(called('dropStagedDatabase')).toEqual([{ database: staged }]);
    expect(called('replaceDatabase')).toEqual([]);

    const status = await handle.query(statusQuery);
    expect(status.state).toBe('failed');
    expect(status.steps.map((s) => [s.name, s.state])).toEqual([['locate', 'done'], ['fetch', 'done'], ['load', 'done'], ['compare', 'done'], ['approval', 'failed'], ['replace', 'pending']]);
    expect(status.steps[4]!.detail).toMatch(/no approval within 24 h/);
  });

  it('an approval 23 h (virtual) after the gate opened replaces production; every step is recorded', async () => {
    calls.length = 0;
    const handle = await startRestore({ backup: 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg', replaceProduction: true });
    const staged = (await untilAwaitingApproval(handle)).database!;
    await env.sleep('23 hours');
    expect((await handle.query<RestoreState>('progress')).stage).toBe('awaiting-approval');
    await handle.executeUpdate('approveReplace', { args: [{ confirm: PRODUCTION }] });
    const result = (await handle.result()) as RestoreDatabaseResult;
    expect(result.replaced).toEqual({ production: PRODUCTION, keptAs: expect.stringMatching(new RegExp(`^${PRODUCTION}_pre_restore_`)) as string });
    expect(called('replaceDatabase')).toEqual([{ restored: staged, keepAs: result.replaced!.keptAs }]);
    expect(called('dropStagedDatabase')).toEqual([]);

    const status: RunbookStatus = await handle.query(statusQuery);
    expect(status).toMatchObject({ runbook: 'restoreDatabase', state: 'done' });
    expect(status.current).toBeUndefined();
    expect(status.steps.map((s) => s.state)).toEqual(['done', 'done', 'done', 'done', 'done', 'done']);
    const approval = status.steps.find((s) => s.name === 'approval')!;
    expect(approval.seconds).toBeGreaterThanOrEqual(23 * 3600);
    expect(Date.parse(approval.endedAt!) - Date.parse(approval.startedAt!)).toBe(approval.seconds! * 1000);
    // The `progress` query keeps its shape: the stage, and the load's bytes once it finished.
    expect(await handle.query<RestoreState>('progress')).toMatchObject({ stage: 'done', percent: 100, bytesDone: 1000, bytesTotal: 1000, bytesPerSecond: 500, etaSeconds: 0, backup: expect.any(String) as string, database: staged });
  });

  it('a plain restore (no gate) records its four steps and skips none', async () => {
    const handle = await startRestore({ backup: 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg', targetDatabase: 'restored_here' });
    await handle.result();
    const status = await handle.query(statusQuery);
    expect(status.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['locate:done', 'fetch:done', 'load:done', 'compare:done']);
    expect(status.steps[1]!.detail).toBe('local copy, sha256 matches');
  });

  it('live load progress comes from the heartbeat details (no signal); the CLI draws the same bar from them', async () => {
    let release!: () => void;
    loadGate = new Promise<void>((r) => (release = r));
    try {
      const handle = await startRestore({ backup: 'daily/corporate_intel_daily_20251017-010000.sql.gz.gpg', targetDatabase: 'restored_live' });
      const writes: string[] = [];
      const out = {
        isTTY: true,
        write(text: string) {
          writes.push(text);
          if (text.includes(renderProgress(LIVE))) release();
          return true;
        },
      } as unknown as NodeJS.WriteStream;
      const following = followProgress(handle, progressQuery, out);
      for (let i = 0; i < 100 && !(await heartbeatProgress(handle)); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await heartbeatProgress(handle)).toEqual({ bytesDone: 400, bytesTotal: 1000, percent: 40, etaSeconds: 3, bytesPerSecond: 200 });
      await following;
      expect(writes.some((w) => w.includes(renderProgress(LIVE)))).toBe(true);
      // Progress reached the CLI without a single signal in the history.
      const history = await handle.fetchHistory();
      expect(history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes)).toEqual([]);
    } finally {
      loadGate = undefined;
      release();
    }
  });

  it('restorePointInTime: steps plan, prepare, recover, verify; stageSeconds are the steps\' times', async () => {
    const handle = await env.client.workflow.start('restorePointInTime', { taskQueue, workflowId: `gate-pitr-${randomUUID()}`, args: [{ targetTime: '2025-10-17 14:30:00+00' }] });
    const result = (await handle.result()) as RestorePointInTimeResult;
    const status = await handle.query(statusQuery);
    expect(status).toMatchObject({ runbook: 'restorePointInTime', state: 'done' });
    expect(status.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['plan:done', 'prepare:done', 'recover:done', 'verify:done']);
    expect(result.stageSeconds).toEqual({ plan: status.steps[0]!.seconds, prepare: status.steps[1]!.seconds, recover: status.steps[2]!.seconds, verify: status.steps[3]!.seconds });
    expect(await handle.query('progress')).toMatchObject({ stage: 'done', base: 'base/20251017-010000', dataDir: '/tmp/pitr-x', port: 15999 });
  });

  it('restorePointInTime: a refused plan fails the plan step with the refusal', async () => {
    const handle = await env.client.workflow.start('restorePointInTime', { taskQueue, workflowId: `gate-pitr-${randomUUID()}`, args: [{ targetTime: '2025-10-17 14:30:00+00', port: 70000 }] });
    await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('failed');
    expect(status.steps[0]).toMatchObject({ name: 'plan', state: 'failed', detail: expect.stringMatching(/--port/) as string });
  });
});
