/**
 * The main job's drill summary (`npm start`): one line per step of the report with its time against
 * the seed's estimate, then the RTO, which ends where recovery ends (the drill's cleanup is after it).
 */
import { describe, expect, it } from 'vitest';
import { describeDrill, MAIN_JOB_STEPS } from '../../client/main-job';
import type { DrReport } from '../../lib/dr/report';

const declaredAt = '2026-12-03T10:00:00.000Z';
const at = (s: number): string => new Date(Date.parse(declaredAt) + s * 1000).toISOString();

function report(overrides: Partial<DrReport> = {}): DrReport {
  const steps = [
    { name: 'declare', action: 'Assess damage and declare incident', estimateSeconds: 300, seconds: 0.2, state: 'done', detail: 'drill declared by npm start', startedAt: at(0), endedAt: at(0.2) },
    { name: 'postgres', action: 'Restore PostgreSQL database', estimateSeconds: 900, seconds: 29.7, state: 'done', startedAt: at(0.2), endedAt: at(29.9) },
    { name: 'communicate', action: 'Communicate resolution', estimateSeconds: 300, seconds: 0.1, state: 'done', startedAt: at(29.9), endedAt: at(40) },
    { name: 'cleanup', action: 'Clean up the drill', seconds: 2.5, state: 'done', detail: 'environment dr-x', startedAt: at(40), endedAt: at(42.5) },
  ];
  return { id: 'dr-drill-main-x', outcome: 'recovered', declaredAt, totalSeconds: 42.5, recoverySeconds: 40, rtoObjectiveSeconds: 3600, rtoMet: true, steps, ...overrides } as unknown as DrReport;
}

describe('describeDrill', () => {
  it('prints every step with its estimate, then the RTO to the end of recovery against the objective', () => {
    const lines = describeDrill(report()).split('\n');
    expect(lines[0]).toBe('drill recovered');
    expect(lines[1]).toBe('declare      done    0.2 s of 5.0 min: drill declared by npm start');
    expect(lines[2]).toBe('postgres     done   29.7 s of 15.0 min');
    expect(lines[4]).toBe('cleanup      done    2.5 s: environment dr-x');
    expect(lines.at(-1)).toBe('RTO 40.0 s against 60 min (met)');
  });

  it('says NOT met when recovery took longer than the objective', () => {
    expect(describeDrill(report({ rtoObjectiveSeconds: 30 })).split('\n').at(-1)).toBe('RTO 40.0 s against 1 min (NOT met)');
  });

  it('the main job ends with the drill, after what it recovers from', () => {
    const names = MAIN_JOB_STEPS.map((s) => s.name);
    expect(names.at(-1)).toBe('dr drill');
    for (const before of ['base backup', 'minio mirror', 'config backup', 'wal switch + ship']) expect(names.indexOf(before)).toBeLessThan(names.indexOf('dr drill'));
    expect(names.indexOf('wal switch + ship')).toBeGreaterThan(names.indexOf('base backup'));
  });
});
