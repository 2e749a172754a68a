/**
 * disasterRecovery: the seed's "Disaster Recovery Runbook" (steps 1-10, 70 minutes estimated against
 * an RTO of one hour) as one durable workflow. On-call starts it from the Temporal UI (one JSON object,
 * e.g. {"mode":"drill","incident":"INC-1234","declaredBy":"alice","reason":"primary lost"}) or with
 * `lifeboat dr start`. Each row of the seed's table is one step with the seed's estimate as its budget:
 *
 *   1 declare      record who and why, tell every channel (with the UI link)
 *   2 infrastructure  a NEW environment from the provider (local: a new MinIO and config directory;
 *                  the new PostgreSQL is built by step 4)
 *   3 download     the newest backups from the OFF-SITE store only, every sha256 checked
 *   4 postgres     point-in-time recovery from the newest base backup + shipped WAL (to `latest` by
 *                  default), or the newest logical dump when no base backup qualifies (child workflows)
 *   5 minio        every bucket from the replica when it answers, else from its newest snapshot
 *   6 config       the newest configuration backup into the new environment's directory
 *   7 verify       tables and rows, objects against the snapshot / replica: a mismatch stops here
 *   8 dns          a HUMAN GATE (Update `approve`), unless a drill with autoApprove; old values kept
 *   9 app checks   configured HTTP, SQL and object checks against the new endpoints
 *  10 communicate  the report (dr-reports/<id>.json + .md, local and off-site) to every channel
 *
 * A drill then cleans up everything it created (environment, recovered cluster, drill DNS record);
 * a failover never destroys what it created. `abort` (an Update with a reason) stops at the next step
 * boundary. A step that overruns its estimate raises a warning alert and carries on. The `status`
 * query and the UI's current details show the step table; `report` returns the report so far.
 * Inputs, results and the report name things: no secret ever enters history.
 */
import {
  ActivityFailure, ApplicationFailure, CancellationScope, condition, defineQuery, defineUpdate, executeChild, patched, proxyActivities, setHandler, sleep, workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DrPlan, DrReport, DrStepReport, RestoredDataCheck } from '../lib/dr/report';
import type { ProvisionedEnvironment } from '../lib/environment/provider';
import { raiseAlert } from './alerting';
import { invalidInput } from './failures';
import { LOCAL, QUICK, STREAMING, UPLOAD } from './options';
import { backupBase, type BackupBaseResult } from './backup-base';
import { restoreBucket, type RestoreBucketResult } from './restore-bucket';
import { restoreConfigFiles, type RestoreConfigFilesResult } from './restore-config-files';
import { restoreDatabase, type RestoreDatabaseResult } from './restore-database';
import { restorePointInTime, type RestorePointInTimeResult } from './restore-point-in-time';
import { errorLine, StepTracker } from './step-tracker';

export type DrMode = 'failover' | 'drill';

export interface DisasterRecoveryInput {
  /** `drill` (its own environment and DNS name, production untouched, cleaned up after) or `failover`. Default DR_MODE. */
  mode?: DrMode;
  /** Incident reference, e.g. INC-1234. */
  incident?: string;
  /** Who declares the disaster (recorded in the report). */
  declaredBy?: string;
  reason?: string;
  /** `latest` (the end of the shipped WAL; default DR_PITR_TARGET) or a time, e.g. "2025-10-17 14:30:00+00". */
  pitrTarget?: string;
  /** Environment provider: local, command or existing. Default DR_ENVIRONMENT. */
  environment?: string;
  /** Drills only: approve the DNS gate automatically. Default DR_AUTO_APPROVE for drills. */
  autoApprove?: boolean;
  /** When the disaster happened (ISO 8601), for the RPO; default when it was declared. */
  disasterTime?: string;
}

/** The DNS gate's approval: the step it approves and who approves it. */
export interface DrApproval {
  step: string;
  approvedBy: string;
  comment?: string;
}

export const approveUpdate = defineUpdate<string, [DrApproval]>('approve');
export const abortUpdate = defineUpdate<string, [{ reason: string; by?: string }]>('abort');
export const reportQuery = defineQuery<DrReport | undefined>('report');

/** The seed's table: step name, action, estimate (minutes), responsible. */
export const DR_STEPS = [
  { name: 'declare', action: 'Assess damage and declare incident', minutes: 5, responsible: 'On-call Engineer' },
  { name: 'infrastructure', action: 'Spin up new infrastructure', minutes: 10, responsible: 'DevOps Lead' },
  { name: 'download', action: 'Download latest backups from S3', minutes: 5, responsible: 'DevOps Engineer' },
  { name: 'postgres', action: 'Restore PostgreSQL database', minutes: 15, responsible: 'Database Admin' },
  { name: 'minio', action: 'Restore MinIO object storage', minutes: 10, responsible: 'DevOps Engineer' },
  { name: 'config', action: 'Restore configuration files', minutes: 5, responsible: 'DevOps Engineer' },
  { name: 'verify', action: 'Verify data integrity', minutes: 5, responsible: 'QA Engineer' },
  { name: 'dns', action: 'Update DNS and routing', minutes: 5, responsible: 'Network Admin' },
  { name: 'app-checks', action: 'Test application functionality', minutes: 5, responsible: 'QA Engineer' },
  { name: 'communicate', action: 'Communicate resolution', minutes: 5, responsible: 'Incident Commander' },
] as const;
export type DrStepName = (typeof DR_STEPS)[number]['name'] | 'cleanup' | 'reprotect';

const MODES: readonly DrMode[] = ['failover', 'drill'];
const ENVIRONMENTS = ['local', 'command', 'existing'];
const FIELDS = ['mode', 'incident', 'declaredBy', 'reason', 'pitrTarget', 'environment', 'autoApprove', 'disasterTime'];
const TEXT = /^[\p{L}\p{N} .,:;_@/#()'+-]{1,200}$/u;

function invalid(message: string): never {
  throw invalidInput(message);
}

/** Shape checks, before anything runs (the planning activity checks the rest against configuration). */
export function checkDrInput(input: unknown): DisasterRecoveryInput {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) invalid('input: must be one JSON object, e.g. {"mode":"drill","incident":"INC-1234","declaredBy":"alice","reason":"primary lost"}');
  const fields = input as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) invalid(`${unknown[0]}: unknown field; the fields are ${FIELDS.join(', ')}`);
  if (fields.mode !== undefined && !MODES.includes(fields.mode as DrMode)) invalid(`mode: ${JSON.stringify(fields.mode)} is not one of failover, drill`);
  for (const name of ['incident', 'declaredBy', 'reason'] as const) {
    const v = fields[name];
    if (v !== undefined && (typeof v !== 'string' || !TEXT.test(v))) invalid(`${name}: ${JSON.stringify(v)} must be 1-200 characters of text (letters, digits, spaces and . , : ; _ @ / # ( ) ' + -)`);
  }
  if (fields.pitrTarget !== undefined && (typeof fields.pitrTarget !== 'string' || fields.pitrTarget.trim() === '')) invalid('pitrTarget: give `latest` or a time like "2025-10-17 14:30:00+00"');
  if (fields.environment !== undefined && (typeof fields.environment !== 'string' || !ENVIRONMENTS.includes(fields.environment))) {
    invalid(`environment: ${JSON.stringify(fields.environment)} is not one of ${ENVIRONMENTS.join(', ')}`);
  }
  if (fields.autoApprove !== undefined && typeof fields.autoApprove !== 'boolean') invalid('autoApprove: must be true or false');
  if (fields.autoApprove === true && fields.mode === 'failover') invalid('autoApprove: only drills approve themselves; a failover waits for a human to approve the DNS switch');
  if (fields.disasterTime !== undefined && (typeof fields.disasterTime !== 'string' || Number.isNaN(Date.parse(fields.disasterTime)))) {
    invalid('disasterTime: must be an ISO 8601 time, e.g. 2025-10-17T14:30:00Z');
  }
  return fields as DisasterRecoveryInput;
}

/** The approval validator's rules (pure, for tests): the step waited for, and a named approver. */
export function checkApproval(approval: unknown, waitingFor: string | undefined): DrApproval {
  if (!waitingFor) throw new Error('not waiting for an approval now');
  if (!approval || typeof approval !== 'object') throw new Error(`approve takes { step: "${waitingFor}", approvedBy: "name" }`);
  const { step, approvedBy } = approval as Partial<DrApproval>;
  if (step !== waitingFor) throw new Error(`step: waiting for approval of "${waitingFor}", not ${JSON.stringify(step)}`);
  if (typeof approvedBy !== 'string' || approvedBy.trim() === '' || !TEXT.test(approvedBy)) throw new Error('approvedBy: name who approves (1-200 characters)');
  return approval as DrApproval;
}

/** A refusal (non-retryable) from an activity becomes the workflow's own failure with its type and message. */
function asRefusal(error: unknown): unknown {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable) {
    return ApplicationFailure.create({ message: error.cause.message, type: error.cause.type ?? undefined, nonRetryable: true });
  }
  return error;
}

class Aborted extends Error {}

export async function disasterRecovery(rawInput: DisasterRecoveryInput): Promise<DrReport> {
  const info = workflowInfo();
  const declaredAt = new Date();
  let plan: DrPlan | undefined = undefined;
  let environment: ProvisionedEnvironment | undefined;
  let waitingFor: string | undefined;
  let approval: (DrApproval & { at: string }) | undefined;
  let abort: { reason: string; by?: string; at: string } | undefined;
  let report: DrReport | undefined;
  const created: { environment?: string; pitrDataDir?: string; dnsRecord?: string; dnsOld?: string[] } = {};
  const summary = (): string => {
    const lines = [`**${plan?.mode ?? rawInput?.mode ?? 'disaster recovery'}** ${rawInput?.incident ?? ''}`.trim()];
    if (plan) lines.push(`RTO objective ${Math.round(plan.rtoSeconds / 60)} min; elapsed ${Math.round((Date.now() - declaredAt.getTime()) / 60000)} min; budget left ${Math.round((plan.rtoSeconds - (Date.now() - declaredAt.getTime()) / 1000) / 60)} min`);
    if (environment) lines.push(`new environment \`${environment.name}\`: ${environment.postgres ? `PostgreSQL ${environment.postgres.host}:${environment.postgres.port}` : ''} ${environment.minio ? `MinIO ${environment.minio.endpoint}` : ''}`.trim());
    if (waitingFor) lines.push(`**waiting for approval of step \`${waitingFor}\`**: \`lifeboat dr approve ${info.workflowId} --step ${waitingFor} --by NAME\``);
    if (abort) lines.push(`abort asked by ${abort.by ?? 'someone'}: ${abort.reason}`);
    return lines.join('\n\n');
  };
  const actions: Record<string, string> = { ...Object.fromEntries(DR_STEPS.map((s) => [s.name, s.action])), cleanup: 'Clean up the drill', reprotect: 'Re-protect the new primary' };
  const steps = new StepTracker('disasterRecovery', DR_STEPS.map((s) => ({ name: s.name, estimateSeconds: s.minutes * 60 })), { summary: () => summary(), table: { actions } });
  setHandler(reportQuery, () => report);
  setHandler(
    approveUpdate,
    (a) => {
      approval = { ...a, at: new Date().toISOString() };
      waitingFor = undefined;
      steps.render();
      return `approved step ${a.step} by ${a.approvedBy}`;
    },
    { validator: (a) => void checkApproval(a, waitingFor) },
  );
  setHandler(
    abortUpdate,
    (a) => {
      abort = { ...a, at: new Date().toISOString() };
      steps.render();
      return `abort recorded: the run stops at the next step boundary${plan?.mode === 'drill' ? ' and cleans up' : ''}`;
    },
    {
      validator: (a) => {
        if (!a || typeof a.reason !== 'string' || a.reason.trim() === '') throw new Error('reason: say why the run is aborted');
        if (report) throw new Error('the run has finished');
      },
    },
  );

  // 0. Bad input fails here, before any side effect, naming the field.
  const input = checkDrInput(rawInput);
  const planning = proxyActivities<Activities>({ ...QUICK, startToCloseTimeout: '5 minutes' });
  const p: DrPlan = await planning.planDisasterRecovery({ ...input, workflowId: info.workflowId }).catch((e: unknown) => {
    throw asRefusal(e);
  });
  plan = p;
  const host = p.backupHostTaskQueue;
  const local = proxyActivities<Activities>(LOCAL(host));
  const hostStreaming = proxyActivities<Activities>({ ...STREAMING(host), retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 } });
  const download = proxyActivities<Activities>(UPLOAD(host));
  const envOps = proxyActivities<Activities>({ ...STREAMING(host), startToCloseTimeout: '30 minutes', retry: { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 } });
  const stepReports: DrStepReport[] = [];
  const results: Partial<DrReport['restored']> = {};
  const childId = (suffix: string): string => `${info.workflowId}-${suffix}`;

  /** Run one step with its budget: a timer raises a warning when the step overruns (the step carries on). */
  const step = async <T>(name: DrStepName, fn: () => Promise<T>, detail?: (r: T) => string): Promise<T> => {
    if (abort && name !== 'cleanup') throw new Aborted(abort.reason);
    const estimate = DR_STEPS.find((s) => s.name === name);
    steps.start(name);
    const overrun = new CancellationScope();
    if (estimate) {
      void overrun
        .run(async () => {
          await sleep(estimate.minutes * 60_000);
          await raiseAlert(host, { severity: 'warning', condition: `dr-overrun:${info.workflowId}:${name}`, summary: `DR ${p.mode} ${info.workflowId}: step ${name} (${estimate.action}) overruns its estimate of ${estimate.minutes} min` });
        })
        .catch(() => undefined);
    }
    try {
      const result = await fn();
      steps.done(name, detail?.(result));
      return result;
    } catch (error) {
      steps.fail(name, errorLine(error));
      throw error;
    } finally {
      overrun.cancel();
      const s = steps.status().steps.find((x) => x.name === name)!;
      stepReports.push({ name, action: estimate?.action ?? (name === 'cleanup' ? 'Clean up the drill' : 'Re-protect the new primary'), estimateSeconds: estimate ? estimate.minutes * 60 : undefined, seconds: steps.seconds(name) ?? 0, state: s.state, detail: s.detail, startedAt: s.startedAt!, endedAt: s.endedAt });
    }
  };

  const buildReport = (outcome: DrReport['outcome'], error?: string): DrReport => {
    const endedAt = new Date();
    const totalSeconds = (endedAt.getTime() - declaredAt.getTime()) / 1000;
    // The RTO ends with step 10 (a drill's cleanup and a failover's re-protection come after recovery).
    const communicated = stepReports.find((s) => s.name === 'communicate' && s.state === 'done')?.endedAt;
    const recoverySeconds = communicated ? (Date.parse(communicated) - declaredAt.getTime()) / 1000 : totalSeconds;
    const lastTransactionAt = results.postgres?.lastTransactionAt;
    const disasterAt = input.disasterTime ? new Date(input.disasterTime).toISOString() : declaredAt.toISOString();
    return {
      id: info.workflowId,
      runId: info.runId,
      mode: p.mode,
      outcome,
      ...(error ? { error } : {}),
      incident: input.incident,
      declaredBy: input.declaredBy,
      reason: input.reason,
      declaredAt: declaredAt.toISOString(),
      endedAt: endedAt.toISOString(),
      totalSeconds,
      recoverySeconds,
      stepSeconds: stepReports.filter((s) => s.name !== 'cleanup' && s.name !== 'reprotect').reduce((n, s) => n + s.seconds, 0),
      rtoObjectiveSeconds: p.rtoSeconds,
      rtoMet: outcome === 'recovered' && recoverySeconds <= p.rtoSeconds,
      estimateSeconds: DR_STEPS.reduce((n, s) => n + s.minutes * 60, 0),
      rpo: {
        disasterAt,
        ...(lastTransactionAt ? { lastTransactionAt, seconds: Math.max(0, (Date.parse(disasterAt) - Date.parse(lastTransactionAt)) / 1000) } : {}),
      },
      steps: stepReports,
      environment: environment ?? null,
      restored: results as DrReport['restored'],
      approvals: approval ? [approval] : [],
      ...(abort ? { aborted: abort } : {}),
      plan: p,
    };
  };

  let outcome: DrReport['outcome'] = 'recovered';
  let failure: unknown;
  try {
    // 1. Declare: starting the workflow is the declaration; every channel hears it, with the UI link.
    await step('declare', async () => {
      const link = `${p.uiUrl}/namespaces/${encodeURIComponent(info.namespace)}/workflows/${encodeURIComponent(info.workflowId)}/${encodeURIComponent(info.runId)}`;
      const who = `${input.declaredBy ?? 'unknown'}${input.incident ? `, ${input.incident}` : ''}${input.reason ? `: ${input.reason}` : ''}`;
      await raiseAlert(host, {
        severity: p.mode === 'failover' ? 'critical' : 'info',
        condition: `dr:${info.workflowId}`,
        summary: `DR ${p.mode} started (${who}); ${p.postgresPath === 'pitr' ? `point-in-time recovery from ${p.base!.key} to ${p.pitrTarget}` : `restore of ${p.dump!.key}`}, ${p.buckets.length} buckets; follow it at ${link}`,
        details: { workflowId: info.workflowId, runId: info.runId, link, mode: p.mode },
      });
    }, () => `${p.mode} declared by ${input.declaredBy ?? 'unknown'}${input.incident ? ` (${input.incident})` : ''}`);

    // 2. New infrastructure: the provider hands back endpoints, never secrets.
    const env: ProvisionedEnvironment = await step('infrastructure', async () => {
      created.environment = p.environmentName;
      // Point-in-time recovery brings its own data directory: the environment only reserves the port.
      return envOps.provisionEnvironment({ kind: p.environment, name: p.environmentName, postgres: p.postgresPath === 'pitr' ? 'port' : 'server' });
    }, (e) => `${e.name}: ${e.minio?.endpoint ?? 'no MinIO'}${e.postgres ? `, PostgreSQL ${e.postgres.host}:${e.postgres.port}` : ''}`);
    environment = env;

    // 3. The newest backups, from the off-site store only, each checked against its metadata.
    const downloaded = await step('download', () => download.downloadOffsiteBackups({ plan: p }), (d) => `${d.artifacts.length} artifacts, ${Math.round(d.bytes / 1048576)} MiB, every sha256 matches`);
    results.download = { artifacts: downloaded.artifacts.length, bytes: downloaded.bytes };

    // 4. PostgreSQL: point-in-time recovery to the end of the shipped WAL, or the newest dump.
    results.postgres = await step('postgres', async () => {
      if (p.postgresPath === 'pitr') {
        if (!env.postgres) throw invalidInput(`environment: the ${p.environment} environment reserved no PostgreSQL port`);
        const port = env.postgres.port;
        const r: RestorePointInTimeResult = await executeChild(restorePointInTime, {
          workflowId: childId('postgres'),
          taskQueue: info.taskQueue,
          args: [{ targetTime: p.pitrTarget, source: 'remote', target: { postgres: { host: '127.0.0.1', port } } }],
        });
        created.pitrDataDir = r.dataDir;
        environment = { ...env, postgres: { host: '127.0.0.1', port: r.port } };
        return { path: 'pitr' as const, host: '127.0.0.1', port: r.port, backup: r.baseKey, dataDir: r.dataDir, lastTransactionAt: r.recoveryPoint.lastTransactionAt, databases: r.databases.map((d) => ({ name: d.name, tables: d.tables, rows: d.rows })), seconds: r.seconds };
      }
      if (!env.postgres) throw invalidInput(`environment: the ${p.environment} environment has no PostgreSQL endpoint to restore the dump into`);
      const r: RestoreDatabaseResult = await executeChild(restoreDatabase, {
        workflowId: childId('postgres'),
        taskQueue: info.taskQueue,
        // The new cluster has no roles: the same run's globals first (runs from before this replay without).
        args: [{ backup: p.dump!.key, source: 'remote', target: { postgres: env.postgres }, targetDatabase: p.database, ...(p.dump!.globalsKey && patched('dr-restores-globals') ? { withGlobals: true } : {}) }],
      });
      if (!r.check.ok) throw ApplicationFailure.nonRetryable(`the restored database does not match ${r.backup}: ${r.check.problems.join('; ')}`, 'ChecksumMismatch');
      return { path: 'dump' as const, host: env.postgres.host, port: env.postgres.port, backup: r.backup, lastTransactionAt: p.dump!.finishedAt, databases: [{ name: r.database, tables: r.check.tables, rows: r.check.rows }], seconds: r.restoreSeconds };
    }, (r) => `${r.path === 'pitr' ? 'point-in-time recovery' : 'logical dump'} from ${r.backup}: ${r.databases.reduce((n, d) => n + d.rows, 0)} rows; last transaction ${r.lastTransactionAt ?? 'unknown'}`);
    const pg = { host: results.postgres.host, port: results.postgres.port };

    // 5. MinIO: every bucket from the replica when it answers, else from its newest off-site snapshot.
    results.minio = await step('minio', async () => {
      if (!env.minio) throw invalidInput(`environment: the ${p.environment} environment has no MinIO endpoint`);
      const target = { minio: { endpoint: env.minio.endpoint } };
      const buckets = await Promise.all(
        p.buckets.map(async (b, i) => {
          const r: RestoreBucketResult = await executeChild(restoreBucket, {
            workflowId: childId(`minio-${i}-${b.bucket}`),
            taskQueue: info.taskQueue,
            args: [b.from === 'replica' ? { fromReplica: b.bucket, target } : { snapshot: b.snapshot!, source: 'remote', target }],
          });
          return { bucket: b.bucket, from: r.from, source: r.source, objects: r.restored + r.skipped, bytes: r.bytes };
        }),
      );
      return { endpoint: env.minio.endpoint, buckets };
    }, (r) => `${r.buckets.length} buckets, ${r.buckets.reduce((n, b) => n + b.objects, 0)} objects into ${r.endpoint}`);

    // 6. Configuration files into the new environment's directory, never over the live host's files.
    results.config = await step('config', async () => {
      if (!p.configBackup || !env.configDir) return { skipped: p.configBackup ? 'the environment has no configuration directory' : 'no configuration backup off-site' };
      const r: RestoreConfigFilesResult = await executeChild(restoreConfigFiles, { workflowId: childId('config'), taskQueue: info.taskQueue, args: [{ backup: p.configBackup, targetDir: env.configDir, source: 'remote' }] });
      return { backup: r.backup, targetDir: env.configDir, files: r.restored?.files };
    }, (r) => ('skipped' in r && r.skipped ? `skipped: ${r.skipped}` : `${(r as { files?: number }).files ?? '?'} files into ${(r as { targetDir: string }).targetDir}`));

    // 7. Verify: tables and rows, objects; a mismatch stops before DNS.
    const checked: RestoredDataCheck = await step('verify', () => hostStreaming.verifyRestoredEnvironment({ plan: p, postgres: pg, minio: env.minio! }), (c) => c.summary);
    results.verify = checked;
    if (!checked.ok) throw ApplicationFailure.nonRetryable(`data integrity check failed: ${checked.problems.slice(0, 5).join('; ')}`, 'ChecksumMismatch');

    // 8. DNS: a human decision (unless a drill approves itself), then the switch; old values kept.
    results.dns = await step('dns', async () => {
      if (!p.dns) return { skipped: 'no DNS provider configured (DR_DNS_PROVIDER=none): point clients at the new endpoints by hand' };
      if (p.mode === 'drill' && p.autoApprove) {
        approval = { step: 'dns', approvedBy: 'autoApprove (drill)', at: new Date().toISOString() };
      } else {
        waitingFor = 'dns';
        steps.render();
        await raiseAlert(host, { severity: p.mode === 'failover' ? 'critical' : 'info', condition: `dr-approval:${info.workflowId}`, summary: `DR ${p.mode} ${info.workflowId}: data restored and verified; approve the DNS switch of ${p.dns.record} to ${pg.host}: lifeboat dr approve ${info.workflowId} --step dns --by NAME` });
        await condition(() => approval !== undefined || abort !== undefined);
        waitingFor = undefined;
        if (!approval) throw new Aborted(abort!.reason);
      }
      // The old value in a step of its own (a retried switch would read its own new value), for rollback.
      const before = await local.readDnsRecord({ record: p.dns.record });
      const old = before ? before.records.map((r) => `${r.type} ${r.value}`) : [];
      created.dnsRecord = p.dns.record;
      const r = await local.switchDnsRecord({ record: p.dns.record, value: pg.host });
      return { record: r.record, value: r.now, old, approvedBy: approval!.approvedBy };
    }, (r) => ('skipped' in r && r.skipped ? `skipped: ${r.skipped}` : `${(r as { record: string }).record} -> ${(r as { value: string }).value} (was ${((r as { old: string[] }).old ?? []).join(', ') || 'absent'})`));

    // 9. The application's checks against the new endpoints.
    results.checks = await step('app-checks', () => hostStreaming.runDrSmokeChecks({ plan: p, postgres: pg, minio: env.minio! }), (c) => `${c.checks.filter((x) => x.ok).length}/${c.checks.length} checks passed`);
    if (!results.checks.ok) throw ApplicationFailure.nonRetryable(`application checks failed: ${results.checks.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; ')}`, 'ChecksumMismatch');

    // 10. Communicate: the report to every channel, written locally and off-site.
    await step('communicate', async () => {
      report = buildReport('recovered');
      const written = await local.publishDrReport({ report });
      await raiseAlert(host, { severity: 'info', resolved: true, condition: `dr:${info.workflowId}`, summary: resolutionLine(report), details: { report: written.markdown } });
      return report;
    }, (r) => `recovered in ${Math.round(r.recoverySeconds)} s against an RTO of ${Math.round(r.rtoObjectiveSeconds / 60)} min`);
    // After a failover: protect the new primary before anyone goes home (its WAL archived, a first base backup).
    if (p.mode === 'failover') {
      steps.plan([{ name: 'reprotect' }]);
      results.reprotect = await step('reprotect', async () => {
        const protectedBy = await hostStreaming.protectNewPrimary({ workflowId: info.workflowId, postgres: pg, ...(env.minio ? { minio: env.minio } : {}), ...(created.pitrDataDir ? { pitrDataDir: created.pitrDataDir } : {}) });
        const base: BackupBaseResult = await executeChild(backupBase, { workflowId: childId('reprotect-base'), taskQueue: info.taskQueue, args: [{ target: { postgres: pg } }] });
        return { envFile: protectedBy.envFile, restarted: protectedBy.restarted, baseBackup: base.key, uploaded: base.uploaded };
      }, (r) => `WAL archived from ${pg.host}:${pg.port}; first base backup ${r.baseBackup}${r.uploaded ? ' (off-site too)' : ''}; settings in ${r.envFile}`);
      // The report again, now with the re-protection (the channels already heard the result).
      report = buildReport('recovered');
      await local.publishDrReport({ report });
    }
  } catch (error) {
    failure = error;
    outcome = error instanceof Aborted ? 'aborted' : 'failed';
    steps.failRunning(errorLine(error));
  }

  // A drill cleans up everything it created; a failover never destroys what it built.
  if (p.mode === 'drill') {
    await CancellationScope.nonCancellable(async () => {
      steps.plan([{ name: 'cleanup' }]);
      await step('cleanup', () => envOps.cleanupDrill({ plan: p, environment: created.environment, pitrDataDir: created.pitrDataDir, dnsRecord: created.dnsRecord }), (c) => c.removed.join(', ') || 'nothing to remove').catch((e: unknown) => {
        outcome = outcome === 'recovered' ? 'failed' : outcome;
        failure ??= e;
      });
    });
  }
  if (outcome !== 'recovered' || !report) {
    const final = buildReport(outcome, failure ? errorLine(failure) : undefined);
    report = final;
    await CancellationScope.nonCancellable(async () => {
      const written = await local.publishDrReport({ report: final });
      await raiseAlert(host, { severity: p.mode === 'failover' ? 'critical' : 'warning', condition: `dr:${info.workflowId}`, summary: resolutionLine(final), details: { report: written.markdown } });
    });
  } else if (p.mode === 'drill') {
    // The drill's report again, now with its cleanup (the channels already heard the result).
    report = buildReport('recovered');
    await local.publishDrReport({ report });
  }
  steps.finish();
  if (outcome === 'failed') throw ApplicationFailure.nonRetryable(`disaster recovery ${p.mode} failed: ${report.error ?? 'see the report'}`, failure instanceof ApplicationFailure && failure.type ? failure.type : 'DisasterRecoveryFailed', report);
  return report;
}

/** The one line every channel gets at the end. */
function resolutionLine(r: DrReport): string {
  const rpo = r.rpo.seconds !== undefined ? `, RPO ${Math.round(r.rpo.seconds)} s` : '';
  return `DR ${r.mode} ${r.id} ${r.outcome}${r.error ? ` (${r.error})` : ''}: ${Math.round(r.recoverySeconds)} s against an RTO of ${Math.round(r.rtoObjectiveSeconds / 60)} min${r.outcome === 'recovered' ? (r.rtoMet ? ' (met)' : ' (NOT met)') : ''}${rpo}`;
}
