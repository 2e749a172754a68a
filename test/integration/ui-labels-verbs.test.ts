/**
 * Issue 14 on the real stack, for the verbs that started bare workflows: run through the built CLI
 * (dist/client/main.js, as an operator runs it), `prune --dry-run`, `monitor`, `pitr list`, `status`
 * and `audit export` each leave a run that the workflow list finds by `LifeboatKind`, with a static
 * summary, static details naming who started it with which verb and the command that shows it, and
 * the kind in the memo; `dr start` labels its run too and follows it to its end (a refused plan ends
 * the CLI with the refusal's exit code). With no worker on the task queue, or none on the backup
 * host's queue the runbook's activities need, a verb exits 3 at once naming the queue, and starts nothing.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowExecutionDescription } from '@temporalio/client';
import { ApplicationFailure, defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { livePollers } from '../../client/progress';
import { runLifeboat, startTestWorker, testConfig, uniqueQueues, type CliRun, type TestWorkerHandle } from './helpers';

const KIND = defineSearchAttributeKey('LifeboatKind', SearchAttributeType.KEYWORD);

type Run = CliRun;

/** The built CLI with the test stack's configuration and `env` on top. */
const lifeboat = (args: string[], env: Record<string, string>): Promise<Run> => runLifeboat(args, env, 150_000);

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The runs visibility lists for `query` (retried until at least `atLeast` show, visibility settles). */
async function listed(client: Client, query: string, atLeast = 1): Promise<string[]> {
  let ids: string[] = [];
  for (let i = 0; i < 60; i++) {
    ids = [];
    for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
    if (ids.length >= atLeast) break;
    await delay(250);
  }
  return ids;
}

describe('the verbs label their runs for the Temporal UI', () => {
  let dir: string;
  let worker: TestWorkerHandle;
  let env: Record<string, string>;
  let queue: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-ui-verbs-'));
    for (const sub of ['backups', 'minio', 'restore']) mkdirSync(join(dir, sub));
    env = { ...(uniqueQueues() as Record<string, string>), BACKUP_ROOT: join(dir, 'backups'), MINIO_BACKUP_ROOT: join(dir, 'minio'), RESTORE_DATA_ROOT: join(dir, 'restore'), REMOTE_STORAGE: 'false' };
    worker = await startTestWorker({ overrides: env });
    queue = worker.taskQueue;
    // A worker just started polls within moments: wait until Temporal lists it on both queues.
    for (let i = 0; i < 50; i++) {
      const [general, host] = await Promise.all([livePollers(worker.env.client, queue, 'workflow'), livePollers(worker.env.client, worker.config.temporal.backupHostTaskQueue, 'activity')]);
      if (general.length > 0 && host.length > 0) break;
      await delay(200);
    }
  });
  afterAll(async () => {
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The one run of `kind` on this file's queue, found by its search attribute, described. */
  async function runOfKind(kind: string): Promise<WorkflowExecutionDescription> {
    const ids = await listed(worker.env.client, `TaskQueue = '${queue}' AND LifeboatKind = '${kind}'`);
    expect(ids, `a run with LifeboatKind = '${kind}' on ${queue}`).toHaveLength(1);
    return worker.env.client.workflow.getHandle(ids[0]!).describe();
  }

  /** Summary, details (who started it with which verb, the command that shows it), memo and attribute. */
  async function expectLabel(d: WorkflowExecutionDescription, kind: string, verb: string, summary: RegExp, show: string): Promise<void> {
    expect(await d.staticSummary()).toMatch(summary);
    const details = await d.staticDetails();
    expect(details).toContain(`(\`lifeboat ${verb}\`)`);
    expect(details).toContain(`**show it**: \`${show}\``);
    expect(d.memo?.lifeboatKind).toBe(kind);
    expect(d.typedSearchAttributes.get(KIND)).toBe(kind);
  }

  it('prune --dry-run: kind prune, a summary that says it is a dry run', async () => {
    const r = await lifeboat(['prune', '--dry-run', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ local: { dryRun: true } });
    const d = await runOfKind('prune');
    expect(d.type).toBe('pruneBackups');
    await expectLabel(d, 'prune', 'prune', /^Retention plan \(dry run, nothing removed\): BACKUP_ROOT$/, 'lifeboat backups list');
  });

  it('monitor: kind monitor', async () => {
    const r = await lifeboat(['monitor', '--json'], env);
    // 1 when a critical condition fires (an empty BACKUP_ROOT has no backups): the run completed either way.
    expect([0, 1], r.stderr).toContain(r.status);
    expect(JSON.parse(r.stdout)).toHaveProperty('metrics');
    const d = await runOfKind('monitor');
    expect(d.type).toBe('monitorBackups');
    await expectLabel(d, 'monitor', 'monitor', /^Backup monitoring: metrics and alerts$/, 'lifeboat status');
  });

  it('pitr list: kind pitr-list (not pitr: a listing is no recovery)', async () => {
    const r = await lifeboat(['pitr', 'list', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ clusters: [] });
    const d = await runOfKind('pitr-list');
    expect(d.type).toBe('listRecoveredClusters');
    await expectLabel(d, 'pitr-list', 'pitr list', /^List the clusters point-in-time recovery left on the backup host$/, 'lifeboat pitr list');
    expect(await listed(worker.env.client, `TaskQueue = '${queue}' AND LifeboatKind = 'pitr'`, 0)).toEqual([]);
  });

  it('status: the reportStatus run it starts has kind status', async () => {
    const r = await lifeboat(['status', '--json'], env);
    // The verdict depends on this empty deployment (7 degraded); what matters is that the host was reached.
    expect(JSON.parse(r.stdout)).toHaveProperty('host');
    const d = await runOfKind('status');
    expect(d.type).toBe('reportStatus');
    await expectLabel(d, 'status', 'status', /^lifeboat status: the backup host's facts$/, 'lifeboat status');
  });

  it('audit export --wait: kind audit-export; the started line carries a temporal hint with --address and --namespace', async () => {
    const r = await lifeboat(['audit', 'export', '--wait'], env);
    expect(r.status, r.stderr).toBe(0);
    const { address, namespace } = worker.config.temporal;
    expect(r.stdout).toMatch(new RegExp(`^started workflow (audit-export-\\S+) \\(temporal workflow show --workflow-id \\1 --address ${address} --namespace ${namespace}\\)$`, 'm'));
    expect(r.stdout).toMatch(/^done: /m);
    const d = await runOfKind('audit-export');
    expect(d.type).toBe('exportAuditTrail');
    await expectLabel(d, 'audit-export', 'audit export', /^Audit trail export: histories of the runs closed since the last export$/, 'lifeboat audit verify');
  });

  it('no worker on the backup host\'s queue: monitor exits 3 at once naming that queue, and starts nothing', async () => {
    const elsewhere = `${queue}@elsewhere`;
    const r = await lifeboat(['monitor'], { ...env, LIFEBOAT_BACKUP_HOST: 'elsewhere' });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(`no worker polls task queue ${elsewhere} (activities) in namespace ${worker.config.temporal.namespace}`);
    expect(r.stderr).toContain('nothing was started');
    expect(r.stderr).toMatch(/hint: start a worker/);
    expect(r.ms).toBeLessThan(15_000);
    // Still the one run of the monitor test.
    expect(await listed(worker.env.client, `TaskQueue = '${queue}' AND WorkflowType = 'monitorBackups'`)).toHaveLength(1);
  });
});

describe('dr start: labelled, and followed through awaitResult to the end of the run', () => {
  let worker: TestWorkerHandle;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = uniqueQueues() as Record<string, string>;
    worker = await startTestWorker({
      overrides: env,
      // The runbook stops at its plan (no environment is built): the CLI must see the run end and say why.
      activityOverrides: {
        planDisasterRecovery: (async () => {
          throw ApplicationFailure.nonRetryable('refused for the test: no drill today', 'OperationRefused');
        }) as unknown as Activities['planDisasterRecovery'],
      },
    });
    for (let i = 0; i < 50 && (await livePollers(worker.env.client, worker.taskQueue, 'workflow')).length === 0; i++) await delay(200);
  });
  afterAll(async () => {
    await worker?.stop();
  });

  it('kind dr-drill, a summary naming the incident, details naming who declared it and why; the refusal ends the CLI', async () => {
    const r = await lifeboat(['dr', 'start', '--drill', '--auto-approve', '--incident', 'INC-UI', '--by', 'alice', '--reason', 'label test'], env);
    expect(r.stdout).toMatch(/^started drill dr-drill-\S+$/m);
    expect(r.stderr).toContain('refused for the test: no drill today');
    expect(r.status, r.stderr).toBe(5);
    const ids = await listed(worker.env.client, `TaskQueue = '${worker.taskQueue}' AND LifeboatKind = 'dr-drill'`);
    expect(ids).toHaveLength(1);
    const d = await worker.env.client.workflow.getHandle(ids[0]!).describe();
    expect(d.type).toBe('disasterRecovery');
    expect(await d.staticSummary()).toBe(`DR drill of ${worker.config.db.name}: the ten-step runbook into its own environment (INC-UI)`);
    const details = await d.staticDetails();
    expect(details).toContain('Declared by alice; why: INC-UI: label test.');
    expect(details).toContain('(`lifeboat dr start`)');
    expect(details).toContain('**show it**: `lifeboat dr list`');
    expect(d.memo?.lifeboatKind).toBe('dr-drill');
  });
});

describe('no worker polls the task queue: the verbs exit 3 at once and start nothing', () => {
  const env = uniqueQueues() as Record<string, string>;
  const queue = env.LIFEBOAT_TASK_QUEUE!;

  it.each([
    [['prune', '--dry-run']],
    [['audit', 'export']],
    [['pitr', 'list']],
    [['dr', 'start', '--drill', '--auto-approve', '--no-wait']],
  ])('lifeboat %j', async (args) => {
    const r = await lifeboat(args, env);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain(`no worker polls task queue ${queue}`);
    expect(r.stderr).toContain('nothing was started');
    expect(r.stdout).not.toMatch(/started/);
    expect(r.ms).toBeLessThan(15_000);
  });

  it('started no workflow on that queue', async () => {
    const config = testConfig();
    const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
    try {
      expect((await client.workflow.count(`TaskQueue = '${queue}'`)).count).toBe(0);
    } finally {
      await client.connection.close();
    }
  });
});
