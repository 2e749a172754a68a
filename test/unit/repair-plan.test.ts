/** planRepair and repairableCopy (lib/verify/repair.ts), as tables; and the run log's text and retention. */
import { describe, expect, it } from 'vitest';
import { formatRunLog, runLogMaxAgeDays } from '../../activities/backup';
import { RUN_LOG_PATTERN, runLogKey } from '../../lib/catalog/names';
import type { CheckResult } from '../../lib/verify/artifact';
import { planRepair, repairableCopy, type CopyCheck } from '../../lib/verify/repair';

const good: CopyCheck = { ok: true, detail: '10 bytes, sha256 matches' };
const bad: CopyCheck = { ok: false, detail: 'sha256 abc... does not match' };
const copies = (local: CopyCheck, remote?: CopyCheck) => ({ key: 'daily/x.sql.gz.gpg', sha256: 'f'.repeat(64), bytes: 10, local, ...(remote ? { remote } : {}) });

describe('planRepair', () => {
  it.each([
    ['both good', copies(good, good), { action: 'none' }],
    ['local bad', copies(bad, good), { action: 'replace', copy: 'local', from: 'remote' }],
    ['remote bad', copies(good, bad), { action: 'replace', copy: 'remote', from: 'local' }],
    ['both bad', copies(bad, bad), { action: 'refuse' }],
    ['no remote store, local good', copies(good), { action: 'none' }],
    ['no remote store, local bad', copies(bad), { action: 'refuse' }],
  ])('%s', (_name, input, expected) => {
    expect(planRepair(input)).toMatchObject(expected);
  });

  it('a refusal names both copies\' states', () => {
    expect(planRepair(copies(bad, { ok: false, detail: 'no remote copy' })).reason).toBe(
      'cannot repair daily/x.sql.gz.gpg: no good copy to repair from (local: BAD (sha256 abc... does not match); remote: BAD (no remote copy))',
    );
    expect(planRepair(copies(bad)).reason).toContain('remote: none (REMOTE_STORAGE is off)');
  });
});

describe('repairableCopy', () => {
  const c = (name: CheckResult['name'], ok: boolean): CheckResult => ({ name, ok, detail: '' });
  it.each([
    ['local bad, remote good, decoded', [c('local-checksum', false), c('remote-checksum', true), c('decrypt-decompress', true)], 'local'],
    ['remote bad', [c('local-checksum', true), c('remote-checksum', false), c('decrypt-decompress', true)], 'remote'],
    ['both bad', [c('local-checksum', false), c('remote-checksum', false), c('decrypt-decompress', false)], undefined],
    ['both good, content bad', [c('local-checksum', true), c('remote-checksum', true), c('content', false)], undefined],
    ['one bad, and the test restore failed', [c('local-checksum', false), c('remote-checksum', true), c('decrypt-decompress', true), c('test-restore', false)], undefined],
    ['no remote check (no off-site store)', [c('local-checksum', false), c('decrypt-decompress', false)], undefined],
  ])('%s', (_name, checks, expected) => {
    expect(repairableCopy(checks as CheckResult[])).toBe(expected);
  });
});

describe('run log', () => {
  it('is named as the seed names it and reads like the shell scripts\' logs', () => {
    expect(runLogKey('20251017-020000')).toBe('logs/backup-20251017-020000.log');
    expect(RUN_LOG_PATTERN.exec('backup-20251017-020000.log')?.[1]).toBe('20251017-020000');
    expect(
      formatRunLog({ stamp: '20251017-020000', what: 'backupDatabase daily', workflowId: 'w', runId: 'r', startedAt: '2025-10-17T02:00:00.000Z', finishedAt: '2025-10-17T02:00:07.125Z', ok: true, lines: ['dump daily/x'] }),
    ).toBe('[2025-10-17 02:00:00] START backupDatabase daily (workflow w, run r)\n[2025-10-17 02:00:07]   dump daily/x\n[2025-10-17 02:00:07] OK backupDatabase daily in 7.1 s\n');
  });

  it('is kept as long as the longest-lived tier', () => {
    expect(runLogMaxAgeDays({ daily: 7, weekly: 4, monthly: 12 })).toBe(372);
    expect(runLogMaxAgeDays({ daily: 400, weekly: 4, monthly: 1 })).toBe(400);
  });
});
