/**
 * disasterRecovery with its activities swapped for fakes, on Temporal's time-skipping test server:
 * the order of the ten steps and their child workflows, the DNS gate (validator, approval recorded),
 * `abort` at a step boundary (a drill cleans up, later steps never run), overrun warnings (a 5-minute
 * estimate passes in virtual time while the gate waits) and input refused before any activity runs.
 * The real-stack drill and failover are in dr.test.ts; this file proves the runbook's control flow.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import type { DrPlan, DrReport } from '../../lib/dr/report';
import { statusQuery, type RunbookStatus } from '../../workflows/step-tracker';
import { createTimeSkippingEnv, timeSkippingServer } from '../time-skipping';
import { testLogger, workflowBundle } from './helpers';

const server = timeSkippingServer();
if (server.kind === 'none') console.warn(`dr-gates: skipped, ${server.reason}`);

describe.skipIf(server.kind === 'none')('disasterRecovery control flow (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = `dr-gates-${randomUUID().slice(0, 8)}`;
  const calls: { activity: string; input: unknown }[] = [];
  const called = (activity: string) => calls.filter((c) => c.activity === activity).map((c) => c.input);
  /** While set, the fake bucket restore waits for it (abort during step 5). */
  let minioGate: Promise<void> | undefined;
  let minioEntered: (() => void) | undefined;
  let mode: 'drill' | 'failover' = 'drill';
  /** The plan's PostgreSQL path: point-in-time recovery, or (when PITR is not possible) the newest dump. */
  let postgresPath: 'pitr' | 'dump' = 'pitr';
  const DUMP = 'daily/corporate_intel_daily_20251017-020000.sql.zst.gpg';
  const GLOBALS = 'daily/globals_20251017-020000.sql.zst.gpg';

  const plan = (m: 'drill' | 'failover', autoApprove: boolean): DrPlan => ({
    mode: m, pitrTarget: 'latest', environment: 'local', environmentName: 'dr-test', autoApprove, postgresPath,
    ...(postgresPath === 'pitr'
      ? { base: { key: 'base/20251017-010000/base.tar.zst.gpg', finishedAt: '2025-10-17T01:00:00Z', bytes: 1000, segments: 3 } }
      : { dump: { key: DUMP, finishedAt: '2025-10-17T02:00:00Z', bytes: 1000, database: 'corporate_intel', globalsKey: GLOBALS }, fallbackReason: 'no base backup off-site' }),
    database: 'corporate_intel', buckets: [{ bucket: 'company-data', from: 'replica' }, { bucket: 'reports', from: 'snapshot', snapshot: 'reports_20251017-010000.tar.gz.gpg', objects: 5 }],
    dns: { provider: 'rfc2136', target: '127.0.0.1:53 zone lifeboat.test', record: m === 'drill' ? 'drill.lifeboat.test' : 'db.lifeboat.test' },
    rtoSeconds: 3600, backupHostTaskQueue: taskQueue, uiUrl: 'http://localhost:8233', artifacts: [], warnings: [],
  });

  const fake = <K extends keyof Activities>(activity: K, result: (input: never) => unknown) =>
    [activity, async (input: never) => {
      calls.push({ activity, input });
      return result(input);
    }] as const;

  beforeAll(async () => {
    testLogger();
    env = await createTimeSkippingEnv();
    const activities = Object.fromEntries([
      fake('planDisasterRecovery', (input: { autoApprove?: boolean; mode?: 'drill' | 'failover' }) => plan(input.mode ?? mode, input.autoApprove === true)),
      fake('notify', () => ({ channels: [] })),
      fake('provisionEnvironment', (input: { name: string }) => ({ name: input.name, kind: 'local', postgres: { host: '127.0.0.1', port: 25432 }, minio: { endpoint: 'http://127.0.0.1:29000' }, configDir: '/tmp/dr-test/config' })),
      fake('downloadOffsiteBackups', () => ({ artifacts: [{ key: 'base/x', bytes: 1000 }], bytes: 1000 })),
      // restorePointInTime (child workflow)
      fake('describeBackupTarget', () => ({ database: 'corporate_intel', backupHostTaskQueue: taskQueue, remote: true, encrypted: true, compression: 'zstd', dumpFormat: 'plain' })),
      fake('planPointInTimeRecovery', (input: { port: number; source: string }) => ({
        target: { utc: '2025-10-17T14:30:00.000Z', latest: true }, base: { key: 'base/20251017-010000/base.tar.zst.gpg', startLsn: '0/2000028', serverMajor: 15, systemIdentifier: '1' },
        segmentCount: 3, segmentRuns: [], warnings: [], port: input.port, source: input.source,
      })),
      fake('prepareRecoveryDataDir', () => ({ dataDir: '/tmp/pitr-x/data', port: 25432 })),
      fake('startRecoveryCluster', () => ({ recoveryPoint: { lastTransactionAt: '2025-10-17T14:29:59Z' }, restoredSegments: 3 })),
      fake('verifyRecoveredCluster', () => ({ databases: [{ name: 'corporate_intel', tables: 4, rows: 100 }] })),
      // restoreDatabase (child workflow, the dump path)
      fake('findBackup', () => ({ key: DUMP, kind: 'logical', tier: 'daily', database: 'corporate_intel', finishedAt: '2025-10-17T02:00:00Z', bytes: 1000, local: false, remote: true, globalsKey: GLOBALS })),
      fake('fetchBackup', () => ({ path: '/tmp/dr-test/dump', source: 'remote' })),
      fake('applyGlobalsBackup', (input: { backup: string }) => ({ key: input.backup, source: 'remote', server: '127.0.0.1:25432', restoringRole: 'postgres', roles: [{ name: 'app', state: 'created' }], tablespaces: [], memberships: [] })),
      fake('restoreBackup', (input: { database: string }) => ({ database: input.database, bytes: 1000, seconds: 1, tables: [] })),
      fake('checkRestoredDatabase', () => ({ ok: true, problems: [], tables: 4, rows: 100 })),
      // restoreBucket (child workflows)
      fake('describeMinioTarget', () => ({ buckets: [], backupHostTaskQueue: taskQueue, backupServer: true })),
      fake('findSnapshot', () => ({ file: 'reports_20251017-010000.tar.gz.gpg', bucket: 'reports', stamp: '20251017-010000', objects: 5, bytes: 100, local: false, remote: true })),
      fake('prepareRestoreTarget', () => ({ created: false, hadObjects: false })),
      fake('restoreSnapshot', () => ({ file: 'reports_20251017-010000.tar.gz.gpg', targetBucket: 'reports', objects: 5, restored: 5, bytes: 100, copy: 'remote', resumedEntries: 0, createdBucket: true })),
      fake('mirrorBucket', async () => {
        if (minioGate) {
          minioEntered?.();
          await minioGate;
        }
        return { copied: 7, bytesCopied: 700, skipped: 0, deleted: 0, createdBucket: true };
      }),
      fake('verifyRestoredEnvironment', () => ({ ok: true, problems: [], summary: '4 tables / 100 rows; company-data: 7/7 objects', postgres: { database: 'corporate_intel', tables: 4, rows: 100 }, minio: [] })),
      fake('readDnsRecord', () => ({ name: 'db.lifeboat.test', ttl: 60, records: [{ type: 'A', value: '192.0.2.10' }] })),
      fake('switchDnsRecord', (input: { record: string; value: string }) => ({ record: input.record, now: `A ${input.value}`, changed: true })),
      fake('runDrSmokeChecks', () => ({ ok: true, checks: [{ name: 'sql SELECT 1', ok: true, detail: '1 rows', ms: 1 }] })),
      fake('publishDrReport', () => ({ json: '/tmp/r.json', markdown: '/tmp/r.md', remote: true })),
      fake('cleanupDrill', () => ({ removed: ['environment dr-test'] })),
      // Re-protection after a failover (and backupBase as its child)
      fake('protectNewPrimary', () => ({ archiveCommand: 'wal archive', restarted: true, envFile: '/tmp/dr.new-primary.env' })),
      fake('takeBaseBackup', (input: { target?: unknown }) => ({ kind: 'base', key: 'base/20251017-150000/base.tar.zst.gpg', sha256: 'a'.repeat(64), bytes: 10, startLsn: '0/3000028', stopLsn: '0/3000100', timeline: 2, target: input.target })),
      fake('recordBackup', () => ({ metadataKey: 'base/20251017-150000/base.tar.zst.gpg.metadata.json' })),
      fake('uploadArtifact', () => ({ key: 'base/20251017-150000/base.tar.zst.gpg' })),
      fake('shipWal', () => ({ shipped: [] })),
      fake('writeRunLog', () => undefined), // backupBase's per-run log (reprotect)
      fake('recordUndeliveredAlert', () => undefined),
    ]);
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    running = worker.run();
  }, 600_000);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const start = (input: unknown) => env.client.workflow.start('disasterRecovery', { taskQueue, workflowId: `dr-${randomUUID()}`, args: [input] });

  async function until(handle: Awaited<ReturnType<typeof start>>, predicate: (s: RunbookStatus) => boolean) {
    for (let i = 0; i < 300; i++) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && predicate(s)) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('condition never reached');
  }

  it('a drill with autoApprove runs the ten steps in the seed\'s order, then cleans up everything it created', async () => {
    calls.length = 0;
    mode = 'drill';
    const handle = await start({ mode: 'drill', autoApprove: true, incident: 'INC-1', declaredBy: 'alice', reason: 'weekly drill' });
    const report = (await handle.result()) as DrReport;
    expect(report.outcome).toBe('recovered');
    expect(report.steps.map((s) => `${s.name}:${s.state}`)).toEqual([
      'declare:done', 'infrastructure:done', 'download:done', 'postgres:done', 'minio:done', 'config:done', 'verify:done', 'dns:done', 'app-checks:done', 'communicate:done', 'cleanup:done',
    ]);
    expect(report.steps.slice(0, 10).map((s) => s.estimateSeconds)).toEqual([300, 600, 300, 900, 600, 300, 300, 300, 300, 300]);
    // PITR from the off-site copy into the port the environment reserved; buckets by their source.
    expect(called('provisionEnvironment')).toEqual([{ kind: 'local', name: 'dr-test', postgres: 'port' }]);
    expect(called('planPointInTimeRecovery')).toEqual([expect.objectContaining({ targetTime: 'latest', port: 25432, source: 'remote' })]);
    expect(called('mirrorBucket')).toEqual([expect.objectContaining({ bucket: 'company-data', direction: 'restore', target: { endpoint: 'http://127.0.0.1:29000' } })]);
    expect(called('restoreSnapshot')).toEqual([expect.objectContaining({ snapshot: 'reports_20251017-010000.tar.gz.gpg', source: 'remote', target: { endpoint: 'http://127.0.0.1:29000' } })]);
    // The drill's own DNS name, approved by the drill itself; then removed with the rest.
    expect(called('switchDnsRecord')).toEqual([{ record: 'drill.lifeboat.test', value: '127.0.0.1' }]);
    expect(report.approvals).toEqual([expect.objectContaining({ step: 'dns', approvedBy: 'autoApprove (drill)' })]);
    expect(called('cleanupDrill')).toEqual([expect.objectContaining({ environment: 'dr-test', pitrDataDir: '/tmp/pitr-x/data', dnsRecord: 'drill.lifeboat.test' })]);
    expect(report.rpo).toMatchObject({ lastTransactionAt: '2025-10-17T14:29:59Z' });
    expect(report.stepSeconds).toBeLessThanOrEqual(report.totalSeconds + 0.001);
    // "DR started" and the resolution reached the channels.
    const alerts = called('notify') as { condition: string; summary: string }[];
    expect(alerts[0]!.summary).toMatch(/^DR drill started \(alice, INC-1: weekly drill\); point-in-time recovery from base\/20251017-010000\/base\.tar\.zst\.gpg to latest, 2 buckets; follow it at http:\/\/localhost:8233\/namespaces\/default\/workflows\//);
    expect(alerts[alerts.length - 1]!.summary).toMatch(/ recovered: \d+ s against an RTO of 60 min \(met\), RPO /);
  });

  it('a drill on the dump path applies the dump\'s globals to the new cluster before loading it', async () => {
    calls.length = 0;
    mode = 'drill';
    postgresPath = 'dump';
    try {
      const handle = await start({ mode: 'drill', autoApprove: true, incident: 'INC-2', declaredBy: 'alice', reason: 'dump path' });
      const report = (await handle.result()) as DrReport;
      expect(report.outcome).toBe('recovered');
      expect(called('applyGlobalsBackup')).toEqual([{ backup: GLOBALS, source: 'remote', target: { host: '127.0.0.1', port: 25432 } }]);
      expect(called('restoreBackup')).toEqual([expect.objectContaining({ key: DUMP, database: 'corporate_intel', target: { host: '127.0.0.1', port: 25432 } })]);
      // Roles first, then the load (the dump's owners and grants name them).
      const order = calls.map((c) => c.activity);
      expect(order.indexOf('applyGlobalsBackup')).toBeLessThan(order.indexOf('restoreBackup'));
      expect(called('planPointInTimeRecovery')).toEqual([]);
    } finally {
      postgresPath = 'pitr';
    }
  });

  it('a failover waits at the DNS gate: the validator refuses the wrong step and an empty approver; a 5-minute wait raises an overrun warning; the approval is recorded', async () => {
    calls.length = 0;
    mode = 'failover';
    const handle = await start({ mode: 'failover', incident: 'INC-2', declaredBy: 'bob' });
    await until(handle, (s) => s.current === 'dns');
    const wrongStep = await handle.executeUpdate('approve', { args: [{ step: 'postgres', approvedBy: 'carol' }] }).catch((e: unknown) => e);
    expect(wrongStep).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((wrongStep as WorkflowUpdateFailedError).cause as Error).message).toBe('step: waiting for approval of "dns", not "postgres"');
    const noOne = await handle.executeUpdate('approve', { args: [{ step: 'dns', approvedBy: '  ' }] }).catch((e: unknown) => e);
    expect(((noOne as WorkflowUpdateFailedError).cause as Error).message).toMatch(/^approvedBy: name who approves/);
    // The gate waits; virtual time passes the step's 5-minute estimate and a warning goes out.
    await env.sleep('6 minutes');
    await until(handle, () => (called('notify') as { condition: string }[]).some((a) => a.condition.endsWith(':dns') && a.condition.startsWith('dr-overrun:')));
    expect(called('switchDnsRecord')).toEqual([]);
    await handle.executeUpdate('approve', { args: [{ step: 'dns', approvedBy: 'carol', comment: 'checked the data' }] });
    const report = (await handle.result()) as DrReport;
    expect(report.outcome).toBe('recovered');
    expect(called('readDnsRecord')).toEqual([{ record: 'db.lifeboat.test' }]);
    expect(called('switchDnsRecord')).toEqual([{ record: 'db.lifeboat.test', value: '127.0.0.1' }]);
    expect(report.restored.dns).toMatchObject({ record: 'db.lifeboat.test', old: ['A 192.0.2.10'], approvedBy: 'carol' });
    expect(report.approvals).toEqual([expect.objectContaining({ step: 'dns', approvedBy: 'carol', comment: 'checked the data' })]);
    expect(report.steps.find((s) => s.name === 'dns')!.seconds).toBeGreaterThanOrEqual(360);
    // A failover never destroys what it built; it re-protects the new primary instead.
    expect(called('cleanupDrill')).toEqual([]);
    expect(report.steps.map((s) => s.name)).not.toContain('cleanup');
    expect(report.steps[report.steps.length - 1]).toMatchObject({ name: 'reprotect', state: 'done' });
    expect(called('protectNewPrimary')).toEqual([expect.objectContaining({ postgres: { host: '127.0.0.1', port: 25432 }, pitrDataDir: '/tmp/pitr-x/data' })]);
    expect(called('takeBaseBackup')).toEqual([expect.objectContaining({ target: { host: '127.0.0.1', port: 25432 } })]);
    expect(report.restored.reprotect).toMatchObject({ baseBackup: 'base/20251017-150000/base.tar.zst.gpg', restarted: true });
  });

  it('abort during step 5 of a drill stops at the boundary, runs no later step and cleans up', async () => {
    calls.length = 0;
    mode = 'drill';
    let release!: () => void;
    minioGate = new Promise<void>((r) => (release = r));
    const entered = new Promise<void>((r) => (minioEntered = r));
    try {
      const handle = await start({ mode: 'drill', autoApprove: true, declaredBy: 'dave' });
      await entered;
      const answer = await handle.executeUpdate('abort', { args: [{ reason: 'drill window over', by: 'dave' }] });
      expect(answer).toMatch(/stops at the next step boundary and cleans up/);
      release();
      const report = (await handle.result()) as DrReport;
      expect(report.outcome).toBe('aborted');
      expect(report.aborted).toMatchObject({ reason: 'drill window over', by: 'dave' });
      expect(report.steps.map((s) => `${s.name}:${s.state}`)).toEqual(['declare:done', 'infrastructure:done', 'download:done', 'postgres:done', 'minio:done', 'cleanup:done']);
      expect(called('verifyRestoredEnvironment')).toEqual([]);
      expect(called('switchDnsRecord')).toEqual([]);
      expect(called('cleanupDrill')).toEqual([expect.objectContaining({ environment: 'dr-test', pitrDataDir: '/tmp/pitr-x/data' })]);
      expect((called('cleanupDrill')[0] as { dnsRecord?: string }).dnsRecord).toBeUndefined();
    } finally {
      minioGate = undefined;
    }
  });

  it.each([
    [{ mode: 'test' }, /^mode: "test" is not one of failover, drill/],
    [{ mode: 'failover', autoApprove: true }, /^autoApprove: only drills approve themselves/],
    [{ environment: 'cloud' }, /^environment: "cloud" is not one of local, command, existing/],
    [{ pitrTarget: '' }, /^pitrTarget: give `latest` or a time/],
    [{ incident: 'x'.repeat(300) }, /^incident: /],
    [{ drill: true }, /^drill: unknown field; the fields are mode, incident/],
    ['drill', /^input: must be one JSON object/],
  ])('refuses %j before any activity runs', async (input, message) => {
    calls.length = 0;
    const handle = await start(input);
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as WorkflowFailedError).cause).toMatchObject({ type: 'InputInvalid', message: expect.stringMatching(message) as string });
    expect(calls).toEqual([]);
  });
});
