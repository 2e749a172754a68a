/** The step tracker's rendering of the UI's current details (pure; the tracker itself runs in workflow tests). */
import { describe, expect, it } from 'vitest';
import { errorLine, renderDetails, renderTable, type RunbookStatus } from '../../workflows/step-tracker';

describe('renderDetails', () => {
  const status: RunbookStatus = {
    runbook: 'restoreDatabase',
    state: 'running',
    current: 'load',
    steps: [
      { name: 'locate', state: 'done', startedAt: '2025-10-17T01:00:00.000Z', endedAt: '2025-10-17T01:00:00.400Z', seconds: 0.4, detail: 'daily/x.sql.gz.gpg' },
      { name: 'load', state: 'running', startedAt: '2025-10-17T01:00:01.000Z', estimateSeconds: 600 },
      { name: 'approval', state: 'pending', estimateSeconds: 86_400 },
      { name: 'replace', state: 'skipped', estimateSeconds: 5 },
      { name: 'compare', state: 'failed', seconds: 7200, detail: 'table public.events has 9 rows, the backup recorded 10' },
    ],
  };

  it('puts the summary first, then one line per step with mark, time, estimate and detail', () => {
    expect(renderDetails(status, '**loading** 40%').split('\n\n')).toEqual([
      '**loading** 40%',
      '✓ 1. locate — 0.4 s: daily/x.sql.gz.gpg',
      '▶ 2. load — since 01:00:01 UTC (estimate 10 min)',
      '· 3. approval (estimate 24 h)',
      '– 4. replace',
      '✗ 5. compare — 2 h: table public.events has 9 rows, the backup recorded 10',
    ]);
  });

  it('renders a runbook table: action, state, start, took (so far, overrun marked) and estimate', () => {
    const text = renderTable(status, { locate: 'Find the backup', load: 'Load | restore' }, 'summary', Date.parse('2025-10-17T01:20:01.000Z'));
    const lines = text.split('\n');
    expect(lines[0]).toBe('summary');
    expect(lines[2]).toBe('| # | Step | Action | State | Started | Took | Estimate | Detail |');
    expect(lines[4]).toBe('| 1 | locate | Find the backup | ✓ done | 01:00:00 UTC | 0.4 s |  | daily/x.sql.gz.gpg |');
    expect(lines[5]).toBe('| 2 | load | Load \\| restore | ▶ running | 01:00:01 UTC | 20 min so far **over** | 10 min |  |');
    expect(lines[6]).toBe('| 3 | approval |  | · pending |  |  | 24 h |  |');
  });

  it('names an activity failure by its cause', () => {
    expect(errorLine(Object.assign(new Error('Activity task failed'), { cause: new Error('no space left on device') }))).toBe('no space left on device');
    expect(errorLine('plain')).toBe('plain');
  });
});
