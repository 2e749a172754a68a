/** The DR report and status as people read them (pure renderers) and the input rules the CLI shares with the workflow. */
import { describe, expect, it } from 'vitest';
import { renderDrStatus } from '../../client/commands/dr';
import { environmentNameFor } from '../../activities/dr';
import { renderDrReport, type DrReport } from '../../lib/dr/report';
import { checkApproval, checkDrInput, DR_STEPS } from '../../workflows/disaster-recovery';
import type { RunbookStatus } from '../../workflows/step-tracker';

const report: DrReport = {
  id: 'dr-drill-1', runId: 'r1', mode: 'drill', outcome: 'recovered', incident: 'INC-9', declaredBy: 'alice', reason: 'weekly',
  declaredAt: '2026-12-03T10:00:00.000Z', endedAt: '2026-12-03T10:07:00.000Z', totalSeconds: 450, recoverySeconds: 420, stepSeconds: 400, rtoObjectiveSeconds: 3600, rtoMet: true, estimateSeconds: 4200,
  rpo: { disasterAt: '2026-12-03T10:00:00.000Z', lastTransactionAt: '2026-12-03T09:58:30.000Z', seconds: 90 },
  steps: DR_STEPS.map((s, i) => ({ name: s.name, action: s.action, estimateSeconds: s.minutes * 60, seconds: i === 3 ? 1000 : 30, state: 'done', startedAt: '2026-12-03T10:00:00.000Z' })),
  environment: { name: 'dr-x', kind: 'local', postgres: { host: '127.0.0.1', port: 5999 } },
  restored: { dns: { record: 'drill.example.com', value: 'A 127.0.0.1', old: [], approvedBy: 'autoApprove (drill)' } },
  approvals: [{ step: 'dns', approvedBy: 'autoApprove (drill)', at: '2026-12-03T10:05:00.000Z' }],
  plan: { warnings: ['no configuration backup off-site: step 6 is skipped'] } as DrReport['plan'],
};

describe('renderDrReport', () => {
  it('reads like the seed\'s table: every step with its estimate, what it took, over-runs marked', () => {
    const md = renderDrReport(report);
    expect(md).toContain('# Disaster recovery drill: recovered');
    expect(md).toContain('| 1 | Assess damage and declare incident | 5.0 min | 30.0 s | done |');
    expect(md).toContain('| 4 | Restore PostgreSQL database | 15.0 min | 16.7 min (over) | done |');
    expect(md).toContain('Recovered in **7.0 min** (declaration to step 10) against an RTO objective of 60.0 min (met); the seed\'s estimate is 70.0 min; the whole run took 7.5 min');
    expect(md).toContain('RPO: last transaction recovered committed at 2026-12-03T09:58:30.000Z, 90.0 s before the disaster');
    expect(md).toContain('- DNS: drill.example.com -> A 127.0.0.1 (was absent)');
    expect(md).toContain('- dns: autoApprove (drill) at 2026-12-03T10:05:00.000Z');
    expect(md).toContain('## Warnings');
  });
});

describe('renderDrStatus', () => {
  it('shows took vs estimate, OVER for a running step past its estimate, and the RTO budget left', () => {
    const status: RunbookStatus = {
      runbook: 'disasterRecovery', state: 'running', current: 'postgres',
      steps: [
        { name: 'declare', state: 'done', estimateSeconds: 300, startedAt: '2026-12-03T10:00:00.000Z', endedAt: '2026-12-03T10:00:02.000Z', seconds: 2 },
        { name: 'postgres', state: 'running', estimateSeconds: 60, startedAt: '2026-12-03T10:00:02.000Z' },
        { name: 'minio', state: 'pending', estimateSeconds: 600 },
      ],
    };
    const text = renderDrStatus('dr-1', status, 3600, Date.parse('2026-12-03T10:02:02.000Z'));
    expect(text).toMatch(/^dr-1: running, at step postgres\n/);
    expect(text).toMatch(/postgres +running +10:00:02 +2\.0 min… OVER +60\.0 s/);
    expect(text).toContain('elapsed 2.0 min of an RTO of 60.0 min; budget left 58.0 min');
  });
});

describe('input rules', () => {
  it('names the field of every refusal', () => {
    expect(() => checkDrInput({ mode: 'x' })).toThrow(/^mode: /);
    expect(() => checkDrInput({ mode: 'failover', autoApprove: true })).toThrow(/^autoApprove: /);
    expect(() => checkDrInput({ disasterTime: 'yesterday' })).toThrow(/^disasterTime: /);
    expect(() => checkDrInput({ declaredBy: '' })).toThrow(/^declaredBy: /);
    expect(checkDrInput(undefined)).toEqual({});
    expect(checkDrInput({ mode: 'drill', autoApprove: true, pitrTarget: 'latest' })).toEqual({ mode: 'drill', autoApprove: true, pitrTarget: 'latest' });
  });

  it('approvals: only for the step waited for, by a named approver', () => {
    expect(() => checkApproval({ step: 'dns', approvedBy: 'a' }, undefined)).toThrow('not waiting for an approval now');
    expect(() => checkApproval({ step: 'verify', approvedBy: 'a' }, 'dns')).toThrow('step: waiting for approval of "dns", not "verify"');
    expect(() => checkApproval({ step: 'dns', approvedBy: ' ' }, 'dns')).toThrow(/^approvedBy: /);
    expect(checkApproval({ step: 'dns', approvedBy: 'alice' }, 'dns')).toEqual({ step: 'dns', approvedBy: 'alice' });
  });

  it('environment names from workflow ids', () => {
    expect(environmentNameFor('dr-drill-20261203-100000-ab12')).toBe('dr-dr-drill-20261203-100000-ab12');
    expect(environmentNameFor('weird id/with:chars')).toBe('dr-weird-id-with-chars');
    expect(environmentNameFor('x'.repeat(300))).toHaveLength(100);
  });
});
