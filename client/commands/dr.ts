/**
 * `lifeboat dr ...`: the disaster-recovery runbook (workflows/disaster-recovery.ts) from the CLI.
 *
 *   dr start [--drill] [--auto-approve] [--pitr TIME] [--incident ID] [--by NAME] [--reason TEXT] [--environment KIND] [--no-wait]
 *   dr status [ID] [--watch] [--json]     the step table (the newest run when no ID)
 *   dr approve ID --step dns --by NAME    the DNS gate
 *   dr abort ID --reason TEXT [--by NAME] stop at the next step boundary (a drill cleans up)
 *   dr report ID [--json]                 the report (from the run, else dr-reports/ on disk)
 *   dr list [--json]                      runs, newest first
 *
 * Every flag is checked before a connection is made, with the same rules the workflow applies again.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DR_REPORTS_DIR } from '../../lib/catalog/layout';
import type { Config } from '../../lib/config/load';
import { renderDrReport, type DrReport } from '../../lib/dr/report';
import { formatStamp } from '../../lib/catalog/names';
import { BackupNotFound, InputInvalid } from '../../lib/errors';
import { parseTargetTime } from '../../lib/pitr/target-time';
import { abortUpdate, approveUpdate, checkDrInput, disasterRecovery, DR_STEPS, reportQuery, type DisasterRecoveryInput } from '../../workflows/disaster-recovery';
import { statusQuery, type RunbookStatus } from '../../workflows/step-tracker';
import type { CommandSpec } from '../command-table';
import { connectClient, loadCliContext, personOf } from '../context';
import { table } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions, type UiLabel } from '../start-options';

/**
 * The UI label of a DR run started from the CLI: drill or failover, the incident, who declared it
 * and why (the operator's own words, already in the workflow's input). Pure.
 */
export function drLabel(config: Pick<Config, 'db' | 'dr' | 'environment'>, input: DisasterRecoveryInput): UiLabel {
  const mode = input.mode ?? config.dr.mode;
  const pitr = input.pitrTarget ?? config.dr.pitrTarget;
  const environment = `a \`${input.environment ?? config.environment.kind}\` environment`;
  const autoApprove = input.autoApprove ?? config.dr.autoApprove;
  const why = [input.incident, input.reason].filter(Boolean).join(': ');
  const who = [input.declaredBy ? `Declared by ${input.declaredBy}` : '', why ? `why: ${why}` : ''].filter(Boolean).join('; ');
  const declared = who ? ` ${who}.` : '';
  return {
    kind: mode === 'drill' ? 'dr-drill' : 'dr-failover',
    summary: mode === 'drill'
      ? `DR drill of ${config.db.name}: the ten-step runbook into its own environment${input.incident ? ` (${input.incident})` : ''}`
      : `DR failover of ${config.db.name}${input.incident ? ` for ${input.incident}` : ''}: the ten-step runbook`,
    what: mode === 'drill'
      ? `The disaster-recovery runbook end to end from the off-site copies into ${environment} of its own, database recovered to ${pitr}, DNS gate ${autoApprove ? 'approved automatically' : 'waiting for `lifeboat dr approve`'}, cleaned up afterwards; measures the RTO against ${config.dr.rtoMinutes} min. Production is not touched.${declared}`
      : `The seed's ten-step disaster recovery: ${environment}, database recovered to ${pitr} from the off-site copies, buckets and configuration restored, checks, then the DNS switch after \`lifeboat dr approve\`; RTO objective ${config.dr.rtoMinutes} min.${declared}`,
    show: 'lifeboat dr list',
    attributes: { LifeboatDatabase: config.db.name },
  };
}

/** The workflow's own input checks, as the CLI's InputInvalid (field first) so exit code 2 follows. */
function checked(input: DisasterRecoveryInput): DisasterRecoveryInput {
  try {
    return checkDrInput(input);
  } catch (error) {
    if (error instanceof ApplicationFailure) {
      const m = /^([A-Za-z.]+): (.*)$/s.exec(error.message);
      throw m ? new InputInvalid(flagOf(m[1]!), m[2]!) : new InputInvalid('input', error.message);
    }
    throw error;
  }
}

const FLAGS: Record<string, string> = { mode: '--drill', autoApprove: '--auto-approve', pitrTarget: '--pitr', incident: '--incident', declaredBy: '--by', reason: '--reason', environment: '--environment' };
const flagOf = (field: string): string => FLAGS[field] ?? field;

const seconds = (s: number | undefined): string => (s === undefined ? '' : s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

/** The step table: step, state, started, took vs estimate; then the RTO budget left. Pure. */
export function renderDrStatus(id: string, status: RunbookStatus, rtoSeconds: number, now = Date.now()): string {
  const started = status.steps[0]?.startedAt ? Date.parse(status.steps[0].startedAt) : undefined;
  const rows = [['#', 'STEP', 'STATE', 'STARTED (UTC)', 'TOOK', 'ESTIMATE', 'DETAIL']];
  status.steps.forEach((s, i) => {
    const running = s.state === 'running' && s.startedAt ? (now - Date.parse(s.startedAt)) / 1000 : undefined;
    const took = s.seconds ?? running;
    const over = took !== undefined && s.estimateSeconds !== undefined && took > s.estimateSeconds ? ' OVER' : '';
    rows.push([String(i + 1), s.name, s.state, s.startedAt ? s.startedAt.slice(11, 19) : '', `${seconds(took)}${running !== undefined ? '…' : ''}${over}`, seconds(s.estimateSeconds), (s.detail ?? '').slice(0, 100)]);
  });
  const elapsed = started !== undefined ? (now - started) / 1000 : 0;
  const ended = status.state !== 'running';
  const lastEnd = status.steps.map((s) => (s.endedAt ? Date.parse(s.endedAt) : 0)).reduce((a, b) => Math.max(a, b), 0);
  const total = ended && started !== undefined && lastEnd ? (lastEnd - started) / 1000 : elapsed;
  return `${id}: ${status.state}${status.current ? `, at step ${status.current}` : ''}\n${table(rows)}${ended ? 'took' : 'elapsed'} ${seconds(total)} of an RTO of ${seconds(rtoSeconds)}; ${ended ? '' : `budget left ${seconds(rtoSeconds - total)}`}\n`;
}

async function newestRun(client: Client): Promise<string> {
  for await (const w of client.workflow.list({ query: "WorkflowType = 'disasterRecovery'" })) return w.workflowId;
  throw new BackupNotFound('no disasterRecovery run in this namespace', 'start one with `lifeboat dr start --drill`');
}

async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { config } = loadCliContext();
  const client = await connectClient(config);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

function handleOf(client: Client, id: string): WorkflowHandle<typeof disasterRecovery> {
  return client.workflow.getHandle<typeof disasterRecovery>(id);
}

export const drCommands: CommandSpec[] = [
  {
    name: 'dr start',
    summary: 'start the disaster-recovery runbook (a failover unless --drill); prints the run id and follows the steps',
    options: [
      { flags: '--drill', description: 'a drill: its own environment and DNS name, production untouched, cleaned up afterwards' },
      { flags: '--failover', description: 'a real failover (the default is DR_MODE)' },
      { flags: '--auto-approve', description: 'drills only: approve the DNS gate without a human' },
      { flags: '--pitr <time>', description: 'recover the database to TIME (default DR_PITR_TARGET: latest, the end of the shipped WAL)' },
      { flags: '--incident <id>', description: 'incident reference, e.g. INC-1234' },
      { flags: '--by <name>', description: 'who declares it (default: $USER)' },
      { flags: '--reason <text>', description: 'why' },
      { flags: '--environment <kind>', description: 'environment provider: local, command or existing (default DR_ENVIRONMENT)' },
      { flags: '--no-wait', description: 'start and return' },
    ],
    async run(_args, opts) {
      const { config } = loadCliContext();
      if (opts.drill && opts.failover) throw new InputInvalid('--drill', 'give --drill or --failover, not both');
      const mode = opts.drill ? 'drill' : opts.failover ? 'failover' : undefined;
      let pitrTarget: string | undefined;
      if (opts.pitr !== undefined) {
        const target = parseTargetTime(String(opts.pitr), config.restore.timeZone, new Date());
        pitrTarget = target.latest ? 'latest' : target.utc;
      }
      const input = checked({
        ...(mode ? { mode } : {}),
        ...(opts.autoApprove ? { autoApprove: true } : {}),
        ...(pitrTarget ? { pitrTarget } : {}),
        ...(opts.incident !== undefined ? { incident: String(opts.incident) } : {}),
        declaredBy: String(opts.by ?? process.env.SUDO_USER ?? process.env.USER ?? 'cli'),
        ...(opts.reason !== undefined ? { reason: String(opts.reason) } : {}),
        ...(opts.environment !== undefined ? { environment: String(opts.environment) } : {}),
      });
      if (input.autoApprove && (input.mode ?? config.dr.mode) !== 'drill') throw new InputInvalid('--auto-approve', 'only drills approve themselves; add --drill');
      return withClient(async (client) => {
        const effective = input.mode ?? config.dr.mode;
        // The runbook's activities run on the backup host's queue, its child workflows on the general one.
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await client.workflow.start(disasterRecovery, {
          taskQueue: config.temporal.taskQueue,
          workflowId: `dr-${effective}-${formatStamp(new Date())}-${Math.random().toString(36).slice(2, 6)}`,
          args: [input],
          ...(await uiStartOptions(client, drLabel(config, input))),
        });
        process.stdout.write(`started ${effective} ${handle.workflowId}\n  follow: lifeboat dr status ${handle.workflowId} --watch\n  UI:     ${config.dr.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${handle.workflowId}\n`);
        if (opts.wait === false) return 0;
        const rto = config.dr.rtoMinutes * 60;
        let approvalShown = false;
        // awaitResult reports retried activities and gives up (exit 3) when no worker picks the run up.
        const result = awaitResult(handle);
        result.catch(() => undefined);
        for (;;) {
          const done = await Promise.race([result.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
          // A query to a run no worker has picked up yet would wait for one: ask only once it has started.
          const started = ((await handle.describe().catch(() => undefined))?.historyLength ?? 0) > 2;
          const status = started ? await handle.query(statusQuery).catch(() => undefined) : undefined;
          if (status) {
            process.stderr.write(renderDrStatus(handle.workflowId, status, rto));
            const dns = status.steps.find((s) => s.name === 'dns');
            if (dns?.state === 'running' && !approvalShown && !(effective === 'drill' && input.autoApprove)) {
              approvalShown = true;
              process.stderr.write(`waiting for approval: lifeboat dr approve ${handle.workflowId} --step dns --by NAME\n`);
            }
          }
          if (done) break;
        }
        const report = await result;
        process.stdout.write(renderDrReport(report));
        return report.outcome === 'recovered' ? 0 : 1;
      });
    },
  },
  {
    name: 'dr status',
    summary: 'the step table of a disaster-recovery run (the newest when no ID): state, took vs estimate, RTO budget left',
    args: [{ name: 'id', description: 'workflow id', optional: true }],
    options: [
      { flags: '--watch', description: 'refresh every 5 s until the run ends' },
      { flags: '--json', description: 'print the status as JSON' },
    ],
    async run([id], opts) {
      const { config } = loadCliContext();
      return withClient(async (client) => {
        const workflowId = id ?? (await newestRun(client));
        const handle = handleOf(client, workflowId);
        for (;;) {
          const status = await handle.query(statusQuery);
          if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          else process.stdout.write(renderDrStatus(workflowId, status, config.dr.rtoMinutes * 60));
          if (!opts.watch || status.state !== 'running') return status.state === 'failed' ? 1 : 0;
          await new Promise((r) => setTimeout(r, 5000));
        }
      });
    },
  },
  {
    name: 'dr approve',
    summary: 'approve the gate a disaster-recovery run waits at (the DNS switch)',
    args: [{ name: 'id', description: 'workflow id' }],
    options: [
      { flags: '--step <step>', description: 'the step approved (dns)', default: 'dns' },
      { flags: '--by <name>', description: 'who approves (default: $USER)' },
      { flags: '--comment <text>', description: 'recorded with the approval' },
    ],
    async run([id], opts) {
      const step = String(opts.step);
      if (!DR_STEPS.some((s) => s.name === step)) throw new InputInvalid('--step', `"${step}" is not a step of the runbook (${DR_STEPS.map((s) => s.name).join(', ')})`);
      const approvedBy = personOf(opts.by);
      return withClient(async (client) => {
        const answer = await handleOf(client, id!).executeUpdate(approveUpdate, { args: [{ step, approvedBy, ...(opts.comment !== undefined ? { comment: String(opts.comment) } : {}) }] });
        process.stdout.write(`${answer}\n`);
      });
    },
  },
  {
    name: 'dr abort',
    summary: 'stop a disaster-recovery run at the next step boundary (a drill then cleans up; a failover keeps what it built)',
    args: [{ name: 'id', description: 'workflow id' }],
    options: [
      { flags: '--reason <text>', description: 'why (required)' },
      { flags: '--by <name>', description: 'who aborts (default: $USER)' },
    ],
    async run([id], opts) {
      const reason = String(opts.reason ?? '').trim();
      if (!reason) throw new InputInvalid('--reason', 'say why the run is aborted');
      return withClient(async (client) => {
        const answer = await handleOf(client, id!).executeUpdate(abortUpdate, { args: [{ reason, by: String(opts.by ?? process.env.SUDO_USER ?? process.env.USER ?? 'cli') }] });
        process.stdout.write(`${answer}\n`);
      });
    },
  },
  {
    name: 'dr report',
    summary: "a disaster-recovery run's report: every step's time against its estimate, RTO, RPO, what was restored, approvals",
    args: [{ name: 'id', description: 'workflow id' }],
    options: [{ flags: '--json', description: 'print the report as JSON' }],
    async run([id], opts) {
      const { config } = loadCliContext();
      const file = join(config.backupRoot, DR_REPORTS_DIR, `${id!.replace(/[^A-Za-z0-9._-]+/g, '-')}.json`);
      let report: DrReport | undefined;
      try {
        report = await withClient((client) => handleOf(client, id!).query(reportQuery));
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError) && !existsSync(file)) throw error;
      }
      if (!report && existsSync(file)) report = JSON.parse(readFileSync(file, 'utf8')) as DrReport;
      if (!report) throw new BackupNotFound(`no report for ${id} yet (the run has not reached its end, and ${file} does not exist)`, `follow it with lifeboat dr status ${id}`);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderDrReport(report));
    },
  },
  {
    name: 'dr list',
    summary: 'disaster-recovery runs (drills and failovers), newest first',
    options: [{ flags: '--json', description: 'print the list as JSON' }],
    async run(_args, opts) {
      return withClient(async (client) => {
        const runs: { id: string; status: string; started: string; closed?: string }[] = [];
        for await (const w of client.workflow.list({ query: "WorkflowType = 'disasterRecovery'" })) {
          runs.push({ id: w.workflowId, status: w.status.name, started: w.startTime.toISOString(), ...(w.closeTime ? { closed: w.closeTime.toISOString() } : {}) });
          if (runs.length >= 50) break;
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
        else process.stdout.write(table([['ID', 'STATUS', 'STARTED (UTC)', 'CLOSED (UTC)'], ...runs.map((r) => [r.id, r.status, r.started.slice(0, 19).replace('T', ' '), (r.closed ?? '').slice(0, 19).replace('T', ' ')])]));
      });
    },
  },
];
