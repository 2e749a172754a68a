/** Per-copy verification records: derived from checks, merged so one copy never erases another's. */
import { describe, expect, it } from 'vitest';
import type { VerificationResult } from '../../lib/verify/artifact';
import { copiesFromChecks, copiesOf, mergeVerification } from '../../lib/verify/record';

const KEY = 'daily/db_daily_20250101-000000.sql.zst.gpg';

describe('copiesFromChecks', () => {
  it('judges each copy by its checksum, and content checks apply to every copy that matched', () => {
    const copies = copiesFromChecks(
      [
        { name: 'local-checksum', ok: false, detail: 'local copy x: 10 bytes, metadata says 20 (truncated or extended)' },
        { name: 'remote-checksum', ok: true, detail: '20 bytes, sha256 matches' },
        { name: 'decrypt-decompress', ok: true, detail: 'ok' },
        { name: 'content', ok: false, detail: 'decodes to nothing' },
      ],
      '2025-01-01T00:00:00.000Z',
    );
    expect(copies.local).toMatchObject({ ok: false, detail: expect.stringContaining('truncated') });
    expect(copies.remote).toMatchObject({ ok: false, detail: 'content: decodes to nothing' });
  });

  it('gives no state to a copy the run did not check', () => {
    expect(copiesFromChecks([{ name: 'local-checksum', ok: true, detail: 'sha256 matches' }, { name: 'test-restore', ok: true, detail: '4 tables' }], 'T')).toEqual({
      local: { ok: true, at: 'T', detail: 'sha256 matches; test-restore' },
    });
  });
});

describe('mergeVerification', () => {
  const failedLocal: VerificationResult = {
    key: KEY,
    ok: false,
    verifiedAt: '2025-01-01T00:00:00.000Z',
    checks: [
      { name: 'local-checksum', ok: false, detail: 'sha256 differs' },
      { name: 'remote-checksum', ok: true, detail: 'sha256 matches' },
      { name: 'decrypt-decompress', ok: true, detail: 'ok' },
    ],
  };

  it('a later success from the remote copy keeps the failed local state (and overall ok false)', () => {
    const first = mergeVerification(undefined, failedLocal);
    const later = mergeVerification(first, {
      key: KEY,
      ok: true,
      verifiedAt: '2025-01-02T00:00:00.000Z',
      checks: [
        { name: 'remote-checksum', ok: true, detail: 'sha256 matches (downloaded for the test restore)' },
        { name: 'test-restore', ok: true, detail: '4 tables' },
      ],
    });
    expect(later.copies?.local).toMatchObject({ ok: false, at: '2025-01-01T00:00:00.000Z' });
    expect(later.copies?.remote).toMatchObject({ ok: true, at: '2025-01-02T00:00:00.000Z' });
    expect(later.ok).toBe(false);
    expect(later.verifiedAt).toBe('2025-01-02T00:00:00.000Z');
  });

  it('reads records written before per-copy states (their checks decide)', () => {
    expect(copiesOf(failedLocal)).toMatchObject({ local: { ok: false }, remote: { ok: true } });
    const legacy = { key: KEY, ok: false, verifiedAt: 'T', checks: [{ name: 'test-restore' as const, ok: false, detail: 'boom' }] };
    expect(copiesOf(legacy)).toEqual({});
    // A result that judged no copy still counts for the overall state.
    expect(mergeVerification(undefined, legacy).ok).toBe(false);
  });

  it('a fixed copy turns the overall state back to ok', () => {
    const fixed = mergeVerification(mergeVerification(undefined, failedLocal), {
      key: KEY,
      ok: true,
      verifiedAt: '2025-01-03T00:00:00.000Z',
      checks: [{ name: 'local-checksum', ok: true, detail: 'sha256 matches' }, { name: 'decrypt-decompress', ok: true, detail: 'ok' }],
    });
    expect(fixed.ok).toBe(true);
    expect(fixed.copies?.remote?.at).toBe('2025-01-01T00:00:00.000Z');
  });
});
