/**
 * `lifeboat audit export [--since DATE] [--wait]`, `audit verify [--local|--remote]`,
 * `audit replay [FILE|DIR ...] [--workflow-id ID] [--since DATE]` and
 * `audit show <FILE | --workflow-id ID> [--json]`: the audit trail (lib/audit/).
 * Export is a workflow (the backup host's worker writes the files); verify reads the stores
 * directly and needs no key; replay and show decrypt with the backup key (and the payload keys when
 * payload encryption is on); replay needs no server, show fetches a live run's history.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { msToTs, tsToDate } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { isHistoryKey } from '../../lib/audit/manifest';
import { historyToJSON } from '../../lib/audit/history-json';
import { buildAuditReport, formatAuditReport, type AuditReport, type ReportRun, type ReportSchedule } from '../../lib/audit/report';
import { buildTimeline, formatTimeline, type Timeline } from '../../lib/audit/timeline';
import { declaredSchedules } from '../../lib/schedules/declared';
import { verifyAuditTrail } from '../../lib/audit/verify';
import { payloadKeysOf } from '../../lib/codec/data-converter';
import { decodeHistoryJson, hasEncryptedPayloads } from '../../lib/codec/history';
import { AesGcmPayloadCodec } from '../../lib/codec/payload-codec';
import { AUDIT_PREFIX } from '../../lib/catalog/layout';
import type { Config } from '../../lib/config/load';
import { buildKeyRing, buildStores } from '../../lib/deps';
import { EXIT, InputInvalid } from '../../lib/errors';
import { getBuffer, listAll } from '../../lib/storage/store';
import { decodeAuditFile, installQuietRuntime, replayHistories, type ReplayOutcome } from '../../workers/replay';
import { exportAuditTrail, type ExportAuditTrailResult } from '../../workflows/export-audit-trail';
import type { CommandSpec } from '../command-table';
import { codecServerCommands } from './codec-server';
import { loadCliContext, withClient } from '../context';
import { formatBytes } from '../format';
import { awaitResult, requireWorkers } from '../progress';
import { uiStartOptions, type UiLabel } from '../start-options';
import { temporalHint } from './temporal';

/** A --since value: a date or date-time, checked before any connection. */
export function parseSince(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new InputInvalid('--since', `"${String(value)}" is not a date`, 'e.g. --since 2026-01-31 or --since 2026-01-31T12:00:00Z');
  return date;
}

/** The UI label of an audit export started by hand (the schedule's is in client/schedules.ts). Pure. */
export function auditExportLabel(config: Pick<Config, 'remote' | 'encryption'>, since?: Date): UiLabel {
  return {
    kind: 'audit-export',
    summary: 'Audit trail export: histories of the runs closed since the last export',
    what: `The history of every run closed since the last export${since ? ` (the first export starts at ${since.toISOString()})` : ''}, compressed${config.encryption.enabled ? ' and encrypted' : ''} under \`$BACKUP_ROOT/audit/\`${config.remote.enabled ? ', copied off-site (under Object Lock where the bucket has it)' : ''}, listed in the next manifest of the chain.`,
    show: 'lifeboat audit verify',
  };
}

export async function startAuditExport(client: Client, config: Config, options: { since?: Date; taskQueue?: string; startedBy?: string } = {}) {
  return client.workflow.start(exportAuditTrail, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `audit-export-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
    args: [options.since ? { since: options.since.toISOString() } : {}],
    ...(await uiStartOptions(client, { ...auditExportLabel(config, options.since), startedBy: options.startedBy })),
  });
}

export function describeAuditExport(r: ExportAuditTrailResult): string {
  if (!r.manifest) return `no run closed between ${r.window.from} and ${r.window.until}`;
  return `${r.files} history file(s) (${formatBytes(r.bytes)} from ${formatBytes(r.rawBytes)} of JSON${r.reused ? `, ${r.reused} reused from an interrupted export` : ''}), manifest ${r.manifest}${r.locked ? ', off-site under Object Lock' : ''}, in ${r.ms} ms`;
}

/** The exported files to replay: paths given (files or directories), else the local audit store, filtered. */
async function replaySources(config: Config, paths: string[], workflowId: string | undefined, since: Date | undefined): Promise<{ source: string; bytes: Buffer }[]> {
  const wanted = (name: string): boolean => {
    if (!/\.json(\.zst(\.gpg)?)?$/.test(name)) return false;
    const base = name.split('/').at(-1)!;
    if (workflowId !== undefined && !base.startsWith(`${workflowId}__`)) return false;
    const day = /(\d{4}-\d{2}-\d{2})\/[^/]+\/[^/]+$/.exec(name)?.[1];
    return !since || !day || day >= since.toISOString().slice(0, 10);
  };
  if (paths.length > 0) {
    const files: string[] = [];
    const walk = (p: string): void => {
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
      else files.push(p);
    };
    for (const p of paths) walk(p);
    return files.filter((f) => wanted(f) && !/manifest-\d+\.json$|cursor\.json$/.test(f)).sort().map((f) => ({ source: f, bytes: readFileSync(f) }));
  }
  const local = buildStores(config).local;
  const keys = (await listAll(local, AUDIT_PREFIX)).map((o) => o.key).filter((k) => isHistoryKey(k) && wanted(k)).sort();
  return Promise.all(keys.map(async (key) => ({ source: key, bytes: await getBuffer(local, key) })));
}

/**
 * A history with its encrypted payloads decoded when payload keys are configured; without keys the
 * encrypted payloads stay (the timeline shows them as encrypted, replay cannot use them).
 */
export async function decodePayloads(config: Config, json: unknown): Promise<unknown> {
  if (!hasEncryptedPayloads(json)) return json;
  const keys = payloadKeysOf(config);
  return keys ? decodeHistoryJson(json, new AesGcmPayloadCodec(keys)) : json;
}

/** `audit show` of an exported file (a path, or an audit key under BACKUP_ROOT). */
export async function timelineOfFile(config: Config, file: string): Promise<Timeline> {
  const path = existsSync(file) ? file : buildStores(config).local.pathOf(file);
  if (!existsSync(path)) throw new InputInvalid('file', `${file} does not exist (nor under BACKUP_ROOT)`, 'name an exported history, e.g. audit/2026-12-03/restoreDatabase/<id>__<run>.json.zst.gpg');
  const keys = path.endsWith('.gpg') ? await buildKeyRing(config.encryption).privateKeys() : undefined;
  return buildTimeline(await decodePayloads(config, await decodeAuditFile(path, readFileSync(path), keys)));
}

/** `audit show --workflow-id`: the live history (any run the namespace still keeps). */
export async function timelineOfRun(client: Client, config: Config, workflowId: string, runId?: string): Promise<Timeline> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return buildTimeline(await decodePayloads(config, JSON.parse(historyToJSON(history))));
}

/** Workflow types whose results the report reads (the rest count by status). */
const REPORT_RESULTS = new Set(['verifyBackups', 'pruneBackups', 'disasterRecovery']);

/**
 * `audit report`: the period's expected scheduled runs (the server's ListScheduleMatchingTimes over
 * each declared schedule's spec) and its runs from live visibility (so only as far back as the
 * namespace's retention), judged by lib/audit/report.ts.
 */
export async function gatherAuditReport(client: Client, config: Config, from: Date, to: Date, taskQueue = config.temporal.taskQueue, prefix?: string): Promise<AuditReport> {
  const namespace = config.temporal.namespace;
  const schedules: ReportSchedule[] = [];
  for (const d of declaredSchedules(config, prefix)) {
    let expected: string[] | undefined;
    try {
      const times = (await client.workflowService.listScheduleMatchingTimes({ namespace, scheduleId: d.id, startTime: msToTs(from.getTime()), endTime: msToTs(to.getTime()) })) as temporal.api.workflowservice.v1.IListScheduleMatchingTimesResponse;
      expected = (times.startTime ?? []).map((t) => tsToDate(t).toISOString());
    } catch (error) {
      if (!/not found/i.test((error as Error).message)) throw error;
    }
    schedules.push({ name: d.name, id: d.id, workflowType: d.workflowType, expected });
  }
  const runs: ReportRun[] = [];
  const query = `TaskQueue = '${taskQueue.replace(/'/g, "\\'")}' AND StartTime >= '${from.toISOString()}' AND StartTime < '${to.toISOString()}'`;
  for await (const w of client.workflow.list({ query })) {
    const sa = w.searchAttributes as Record<string, unknown[] | undefined>;
    const scheduledFor = sa.TemporalScheduledStartTime?.[0];
    const run: ReportRun = {
      workflowType: w.type,
      workflowId: w.workflowId,
      runId: w.runId,
      status: w.status.name,
      startTime: w.startTime.toISOString(),
      ...(w.closeTime ? { closeTime: w.closeTime.toISOString() } : {}),
      ...(typeof sa.TemporalScheduledById?.[0] === 'string' ? { scheduleId: sa.TemporalScheduledById[0] } : {}),
      ...(scheduledFor ? { scheduledFor: new Date(scheduledFor as string | Date).toISOString() } : {}),
    };
    if (REPORT_RESULTS.has(w.type) && w.status.name === 'COMPLETED') run.result = await client.workflow.getHandle(w.workflowId, w.runId).result().catch(() => undefined);
    runs.push(run);
  }
  return buildAuditReport({ from: from.toISOString(), to: to.toISOString(), schedules, runs });
}

export function formatReplayTable(outcomes: ReplayOutcome[]): string {
  const rows = outcomes.map((o) => [o.workflowType, o.workflowId, o.runId, o.ok ? 'ok' : 'NONDETERMINISTIC']);
  const head = ['workflow', 'id', 'run', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const failures = outcomes.filter((o) => !o.ok).map((o) => `\n${o.source}: ${o.error}`);
  return `${[line(head), ...rows.map(line)].join('\n')}${failures.join('')}\n`;
}

/** The audit verbs, and `codec-server` (payload encryption belongs to the same issue; registered here to keep main.ts untouched). */
export const auditCommands: CommandSpec[] = [
  ...codecServerCommands,
  {
    name: 'audit export',
    summary: 'export the histories of every run closed since the last export (encrypted, chained manifest, off-site copy)',
    options: [
      { flags: '--since <date>', description: 'where the FIRST export starts (later exports continue from the last one)' },
      { flags: '--wait', description: 'wait for the workflow and print its result' },
    ],
    async run(_args, opts) {
      const since = parseSince(opts.since);
      return withClient(async (client, config) => {
        // The export writes on the backup host: both queues need a worker.
        await requireWorkers(client, config.temporal.taskQueue, [config.temporal.backupHostTaskQueue]);
        const handle = await startAuditExport(client, config, { since });
        process.stdout.write(`started workflow ${handle.workflowId} (${temporalHint(config, `workflow show --workflow-id ${handle.workflowId}`)})\n`);
        if (opts.wait) process.stdout.write(`done: ${describeAuditExport(await awaitResult(handle))}\n`);
      });
    },
  },
  {
    name: 'audit verify',
    summary: 'walk the manifest chain from the first export, locally and off-site; name every missing, changed or extra file',
    options: [
      { flags: '--local', description: 'only BACKUP_ROOT' },
      { flags: '--remote', description: 'only S3_BUCKET' },
    ],
    async run(_args, opts) {
      if (opts.local && opts.remote) throw new InputInvalid('--local', 'cannot be combined with --remote', 'leave both out to check both copies');
      const { config } = loadCliContext();
      const stores = buildStores(config);
      const targets = [...(opts.remote ? [] : [stores.local]), ...(opts.local || !config.remote.enabled ? [] : [stores.offsite()])];
      let failed = false;
      for (const store of targets) {
        const check = await verifyAuditTrail(store);
        const verdict = check.problems.length === 0 ? 'ok' : `${check.problems.length} problem(s)`;
        process.stdout.write(`${store.location}: ${check.manifests} manifest(s), ${check.files} history file(s): ${verdict}\n`);
        for (const p of check.problems) process.stdout.write(`  ${p.kind.padEnd(7)} ${p.key}: ${p.detail}\n`);
        failed ||= check.problems.length > 0;
      }
      if (failed) process.stdout.write('hint: restore the named files from the other copy (or the locked versions off-site) and look into who changed them\n');
      return failed ? EXIT.integrity : EXIT.ok;
    },
  },
  {
    name: 'audit replay',
    summary: 'replay exported histories against the current workflow code; exit 1 on any non-determinism',
    args: [{ name: 'paths', description: 'history files or directories (default: the local audit trail)', optional: true, variadic: true }],
    options: [
      { flags: '--workflow-id <id>', description: 'only this workflow id' },
      { flags: '--since <date>', description: 'only runs that closed on or after this date' },
    ],
    async run(args, opts) {
      const since = parseSince(opts.since);
      const { config } = loadCliContext();
      const files = await replaySources(config, args, opts.workflowId as string | undefined, since);
      if (files.length === 0) throw new InputInvalid('paths', 'no exported history matches', 'run lifeboat audit export first, or name files or directories');
      const keys = files.some((f) => f.source.endsWith('.gpg')) ? await buildKeyRing(config.encryption).privateKeys() : undefined;
      const histories = await Promise.all(files.map(async (f) => ({ source: f.source, json: await decodePayloads(config, await decodeAuditFile(f.source, f.bytes, keys)) })));
      installQuietRuntime();
      const outcomes = await replayHistories(histories);
      process.stdout.write(formatReplayTable(outcomes));
      return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failed;
    },
  },
  {
    name: 'audit show',
    summary: 'one run as a timeline: who started it with what, each activity (attempts, failures, durations), signals, updates and approvals, the result',
    args: [{ name: 'file', description: 'an exported history file (or its key under BACKUP_ROOT)', optional: true }],
    options: [
      { flags: '--workflow-id <id>', description: 'a run the namespace still keeps (fetched live) instead of a file' },
      { flags: '--run-id <id>', description: 'with --workflow-id: this run (default the latest)' },
      { flags: '--json', description: 'print the timeline as JSON' },
    ],
    async run(args, opts) {
      const file = args[0];
      const workflowId = opts.workflowId as string | undefined;
      if ((file === undefined) === (workflowId === undefined)) throw new InputInvalid(file ? '--workflow-id' : 'file', file ? 'cannot be combined with a file' : 'name a file or --workflow-id', 'e.g. lifeboat audit show --workflow-id dr-failover-INC-1234, or lifeboat audit show audit/2026-12-03/.../<id>__<run>.json.zst.gpg');
      if (opts.runId !== undefined && workflowId === undefined) throw new InputInvalid('--run-id', 'needs --workflow-id', 'add --workflow-id ID');
      const timeline = file !== undefined
        ? await timelineOfFile(loadCliContext().config, file)
        : await withClient((client, config) => timelineOfRun(client, config, workflowId!, opts.runId as string | undefined));
      process.stdout.write(opts.json ? `${JSON.stringify(timeline, null, 2)}\n` : formatTimeline(timeline));
    },
  },
  {
    name: 'audit report',
    summary: 'did the policy hold? scheduled runs expected vs. present, backups taken/verified/pruned, failed runs, DR runs and drills with their RTO',
    options: [
      { flags: '--from <date>', description: 'start of the period (default: 7 days ago)' },
      { flags: '--to <date>', description: 'end of the period (default: now)' },
      { flags: '--json', description: 'print the report as JSON' },
    ],
    async run(_args, opts) {
      const to = parseSince(opts.to) ?? new Date();
      const from = parseSince(opts.from) ?? new Date(to.getTime() - 7 * 86_400_000);
      if (from >= to) throw new InputInvalid('--from', 'must be before --to', 'e.g. --from 2026-11-01 --to 2026-12-01');
      const report = await withClient((client, config) => gatherAuditReport(client, config, from, to));
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatAuditReport(report));
      return report.policyHeld ? EXIT.ok : EXIT.failed;
    },
  },
];
