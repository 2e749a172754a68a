/**
 * Replay: every workflow type has a real history in test/replay/histories/ (captured on the test
 * stack by test/replay/capture-histories.ts), and each replays against today's workflow code with
 * no server. A workflow change that issues different commands for an existing history (another
 * activity, order, timer, child) fails here, as it would fail running workflows after a deploy;
 * such changes need `patched()` (or a new workflow type). A deliberately reordered workflow proves
 * the check bites.
 *
 * Files are `<workflowType>.json`, plus `<workflowType>.<variant>.json` for older shapes worth
 * keeping (e.g. restoreDatabase.progress-signals.json: a run from before restore progress moved
 * from signals to heartbeat details, with its `restoreProgress` signals, which still replays).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, DefaultLogger, makeTelemetryFilterString, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { historyFromJSON } from './history-json';

const HISTORIES = join(__dirname, 'histories');
const WORKFLOWS = join(__dirname, '..', '..', 'workflows');
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

/** The workflow types workflows/index.ts registers (read from its exports, not by importing workflow code). */
function registeredTypes(): string[] {
  const index = readFileSync(join(WORKFLOWS, 'index.ts'), 'utf8');
  return [...index.matchAll(/^export \{ (\w+) \} from/gm)].map((m) => m[1]!).sort();
}

const histories = readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, type: file.replace(/(\.[\w-]+)?\.json$/, ''), json: JSON.parse(readFileSync(join(HISTORIES, file), 'utf8')) as { events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[] } }));

describe('replay of saved histories (no server)', () => {
  let bundle: WorkflowBundleWithSourceMap;

  beforeAll(async () => {
    // Workflow logs of the replayed runs (and core's report of the deliberate nondeterminism) would flood the output.
    try {
      Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } } });
    } catch {
      // Already installed in this process.
    }
    bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: quiet });
  }, 120_000);

  it('has one history per registered workflow type, each of that type', () => {
    expect([...new Set(histories.map((h) => h.type))]).toEqual(registeredTypes());
    for (const h of histories) expect(h.json.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name).toBe(h.type);
  });

  it.each(registeredTypes())('%s replays against the current workflow code', async (type) => {
    const saved = histories.filter((h) => h.type === type);
    expect(saved.length, `no history for ${type}: run test/replay/capture-histories.ts`).toBeGreaterThan(0);
    for (const h of saved) await Worker.runReplayHistory({ workflowBundle: bundle, replayName: `replay-${type}` }, historyFromJSON(h.json), h.file);
  }, 60_000);

  it('a workflow that schedules the same activities in another order fails replay (DeterminismViolationError)', async () => {
    const reordered = await bundleWorkflowCode({ workflowsPath: join(__dirname, 'reordered'), logger: quiet });
    const saved = histories.find((h) => h.type === 'health')!;
    await expect(Worker.runReplayHistory({ workflowBundle: reordered, replayName: 'replay-reordered' }, historyFromJSON(saved.json), 'replay-reordered')).rejects.toThrow(DeterminismViolationError);
  }, 120_000);
});
