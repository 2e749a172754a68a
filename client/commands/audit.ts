/**
 * `lifeboat audit export [--since DATE] [--wait]`, `audit verify [--local|--remote]` and
 * `audit replay [FILE|DIR ...] [--workflow-id ID] [--since DATE]`: the audit trail (lib/audit/).
 * Export is a workflow (the backup host's worker writes the files); verify reads the stores
 * directly and needs no key; replay decrypts with the backup key and needs no server.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { isHistoryKey } from '../../lib/audit/manifest';
import { verifyAuditTrail } from '../../lib/audit/verify';
import { AUDIT_PREFIX } from '../../lib/catalog/layout';
import type { Config } from '../../lib/config/load';
import { buildKeyRing, buildStores } from '../../lib/deps';
import { EXIT, InputInvalid } from '../../lib/errors';
import { getBuffer, listAll } from '../../lib/storage/store';
import { decodeAuditFile, installQuietRuntime, replayHistories, type ReplayOutcome } from '../../workers/replay';
import { exportAuditTrail, type ExportAuditTrailResult } from '../../workflows/export-audit-trail';
import type { CommandSpec } from '../command-table';
import { loadCliContext, withClient } from '../context';
import { formatBytes } from '../format';

/** A --since value: a date or date-time, checked before any connection. */
export function parseSince(value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new InputInvalid('--since', `"${String(value)}" is not a date`, 'e.g. --since 2026-01-31 or --since 2026-01-31T12:00:00Z');
  return date;
}

export async function startAuditExport(client: Client, config: Config, options: { since?: Date; taskQueue?: string } = {}) {
  return client.workflow.start(exportAuditTrail, {
    taskQueue: options.taskQueue ?? config.temporal.taskQueue,
    workflowId: `audit-export-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}`,
    args: [options.since ? { since: options.since.toISOString() } : {}],
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

export function formatReplayTable(outcomes: ReplayOutcome[]): string {
  const rows = outcomes.map((o) => [o.workflowType, o.workflowId, o.runId, o.ok ? 'ok' : 'NONDETERMINISTIC']);
  const head = ['workflow', 'id', 'run', 'result'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const failures = outcomes.filter((o) => !o.ok).map((o) => `\n${o.source}: ${o.error}`);
  return `${[line(head), ...rows.map(line)].join('\n')}${failures.join('')}\n`;
}

export const auditCommands: CommandSpec[] = [
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
        const handle = await startAuditExport(client, config, { since });
        process.stdout.write(`started workflow ${handle.workflowId}\n`);
        if (opts.wait) process.stdout.write(`done: ${describeAuditExport(await handle.result())}\n`);
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
      const histories = await Promise.all(files.map(async (f) => ({ source: f.source, json: await decodeAuditFile(f.source, f.bytes, keys) })));
      installQuietRuntime();
      const outcomes = await replayHistories(histories);
      process.stdout.write(formatReplayTable(outcomes));
      return outcomes.every((o) => o.ok) ? EXIT.ok : EXIT.failed;
    },
  },
];
