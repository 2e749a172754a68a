/**
 * The pure parts of "refusals write nothing": which database a replace-restore cleanup may drop,
 * which temp files prune sweeps (age and name), and the age threshold derived from the activity
 * timeouts.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findStalePartials, isPartialName, sweepStalePartials } from '../../lib/retention/partials';
import { keptDatabaseName, stagedDatabaseName, stagedDatabaseProblem } from '../../lib/restore/staged-name';
import { longestActivityTimeoutMs } from '../../workflows/options';

describe('stagedDatabaseProblem', () => {
  const production = 'corporate_intel';
  const suffix = '20261203_101500_a1b2c3';
  it.each([
    [stagedDatabaseName(production, suffix), undefined],
    [production, /is the production database/],
    [keptDatabaseName(production, suffix), /kept copy of production/],
    ['corporate_intel_restored_20261203_101500_a1b2c3', /not a staged restore/],
    ['other_db_restore_20261203_101500_a1b2c3', /not a staged restore/],
    [`${stagedDatabaseName(production, suffix)}x`, /not a staged restore/],
    ['corporate_intel_restore_', /not a staged restore/],
    ['lifeboat_verify_20261203_101500_a1b2c3', /not a staged restore/],
  ])('%s -> %s', (name, problem) => {
    const got = stagedDatabaseProblem(name, production);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
  });

  it('long production names: staged and kept names stay apart and within 63 characters', () => {
    const long = 'a'.repeat(63);
    expect(stagedDatabaseName(long, suffix).length).toBeLessThanOrEqual(63);
    expect(keptDatabaseName(long, suffix).length).toBeLessThanOrEqual(63);
    expect(stagedDatabaseProblem(stagedDatabaseName(long, suffix), long)).toBeUndefined();
    expect(stagedDatabaseProblem(keptDatabaseName(long, suffix), long)).toMatch(/kept copy/);
  });

  it('a production name whose kept and staged names coincide is refused (never drops a kept copy)', () => {
    const odd = `${'b'.repeat(28)}_pre_tail`;
    expect(stagedDatabaseName(odd, suffix)).toBe(keptDatabaseName(odd, suffix));
    expect(stagedDatabaseProblem(stagedDatabaseName(odd, suffix), odd)).toMatch(/kept copy/);
  });
});

describe('stale .partial temp files', () => {
  const HOUR = 3600_000;
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  function file(path: string, ageMs: number): string {
    const full = join(root!, path);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, 'x'.repeat(10));
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(full, t, t);
    return full;
  }

  it('the threshold is the longest activity timeout in workflows/options.ts (12 h uploads)', () => {
    expect(longestActivityTimeoutMs()).toBe(12 * HOUR);
  });

  it('names: hidden and ending in .partial, as atomic-file writes them', () => {
    expect(isPartialName('.x.sql.zst.gpg.0a1b2c3d.partial')).toBe(true);
    expect(isPartialName('x.partial')).toBe(false);
    expect(isPartialName('.hidden')).toBe(false);
  });

  it('finds old ones at every depth, leaves fresh ones, other files, symlinked folders and PostgreSQL data dirs alone', async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-partials-'));
    const old = [
      file('daily/.db_daily_20250101-000000.sql.zst.gpg.0a1b2c3d.partial', 13 * HOUR),
      file('base/20250101-000000/.base.tar.zst.gpg.11111111.partial', 30 * HOUR),
      file('config/.config_20250101-000000.tar.zst.gpg.22222222.partial', 13 * HOUR),
    ];
    const fresh = file('daily/.db_daily_20250102-000000.sql.zst.gpg.33333333.partial', 1 * HOUR);
    const visible = file('daily/not-hidden.partial', 40 * HOUR);
    const pgData = file('pitr-x/data/.y.44444444.partial', 40 * HOUR);
    writeFileSync(join(root, 'pitr-x/data/PG_VERSION'), '15\n');
    const outside = mkdtempSync(join(tmpdir(), 'lifeboat-partials-outside-'));
    try {
      writeFileSync(join(outside, '.z.55555555.partial'), 'x');
      utimesSync(join(outside, '.z.55555555.partial'), 0, 0);
      symlinkSync(outside, join(root, 'linked'));
      const listed = await findStalePartials([root, join(root, 'daily')], 12 * HOUR);
      expect(listed.map((p) => p.path).sort()).toEqual([...old].sort());
      expect(listed[0]!.path).toBe(old[1]); // oldest first
      expect(listed.every((p) => p.bytes === 10)).toBe(true);

      // Dry run lists and removes nothing; the sweep removes exactly the listed ones.
      expect((await sweepStalePartials([root], 12 * HOUR, true)).length).toBe(3);
      expect(old.every((p) => existsSync(p))).toBe(true);
      const removed = await sweepStalePartials([root], 12 * HOUR, false);
      expect(removed.map((p) => p.path).sort()).toEqual([...old].sort());
      expect(old.some((p) => existsSync(p))).toBe(false);
      for (const kept of [fresh, visible, pgData, join(outside, '.z.55555555.partial')]) expect(existsSync(kept), kept).toBe(true);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a missing root is nothing to sweep', async () => {
    root = mkdtempSync(join(tmpdir(), 'lifeboat-partials-'));
    expect(await findStalePartials([join(root, 'missing')], HOUR)).toEqual([]);
  });
});
