/**
 * `lifeboat audit replay`: exported histories (lib/audit/) replayed against the current workflow
 * code, with no server: the pre-built bundle (dist/workflow-bundle.js) when there is one, otherwise
 * workflows/ bundled here. A run whose commands differ from its history (non-determinism) is named
 * with the SDK's message, which gives the first event that diverged.
 */
import { existsSync } from 'node:fs';
import { DefaultLogger, makeTelemetryFilterString, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { PrivateKey } from 'openpgp';
import { historyFromJSON } from '../lib/audit/history-json';
import { encodingOf } from '../lib/catalog/names';
import { decodeBuffer } from '../lib/pipeline/codec';
import { WORKFLOW_BUNDLE_PATH, WORKFLOWS_PATH } from './worker';

export interface ReplayOutcome {
  /** The file (audit key or path) the history came from. */
  source: string;
  workflowType: string;
  workflowId: string;
  runId: string;
  ok: boolean;
  error?: string;
}

/** An audit file's bytes -> the history JSON (decrypted with `privateKeys` when it is `.gpg`). */
export async function decodeAuditFile(name: string, bytes: Buffer, privateKeys: PrivateKey[] | undefined): Promise<unknown> {
  const raw = name.endsWith('.json') ? bytes : await decodeBuffer(bytes, encodingOf(name), privateKeys);
  return JSON.parse(raw.toString('utf8'));
}

type Bundle = Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'>;

export function defaultBundle(): Bundle {
  return existsSync(WORKFLOW_BUNDLE_PATH) ? { workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH } } : { workflowsPath: WORKFLOWS_PATH };
}

/** For the CLI: the replay worker's own start/stop logs are noise; warnings and errors still show. */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } } });
  } catch {
    // A Runtime is already installed in this process.
  }
}

export async function replayHistories(histories: { source: string; json: unknown }[], bundle: Bundle = defaultBundle()): Promise<ReplayOutcome[]> {
  const byId = new Map<string, ReplayOutcome>();
  const inputs = histories.map(({ source, json }) => {
    const history = historyFromJSON(json);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const workflowId = `${source}`;
    // The file name holds the workflow id (`<workflowId>__<runId>.json...`); the history holds the run id.
    const fromName = /([^/]+)__[^/_]+\.json/.exec(source)?.[1] ?? '';
    byId.set(workflowId, { source, workflowType: started?.workflowType?.name ?? '?', workflowId: fromName, runId: started?.originalExecutionRunId ?? '', ok: true });
    return { workflowId, history };
  });
  for await (const result of Worker.runReplayHistories({ ...bundle, replayName: 'lifeboat-audit-replay' }, inputs)) {
    const outcome = byId.get(result.workflowId)!;
    if (result.error) Object.assign(outcome, { ok: false, error: result.error.message });
  }
  return [...byId.values()];
}
