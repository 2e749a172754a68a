/**
 * Pure tests of artifact naming (lib/catalog/names.ts) and the LSN / WAL segment arithmetic of
 * lib/postgres/basebackup.ts: the names must stay seed-compatible and match PostgreSQL's own.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  baseBackupKey, encodingOf, encodingSuffix, formatStamp, globalsKey, logicalBackupKey, metadataKey, parseStamp, WAL_FILE_PATTERN, walRemoteKey, type Encoding,
} from '../../lib/catalog/names';
import { formatLsn, parseBaseBackupReport, parseLsn, walSegmentName } from '../../lib/postgres/basebackup';

const ENCODINGS: [Encoding, string][] = [
  [{ compression: 'zstd', encrypted: true }, '.zst.gpg'],
  [{ compression: 'zstd', encrypted: false }, '.zst'],
  [{ compression: 'gzip', encrypted: true }, '.gz.gpg'],
  [{ compression: 'gzip', encrypted: false }, '.gz'],
];

describe('backup stamps', () => {
  const savedTz = process.env.TZ;
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('formats and parses in UTC whatever the local time zone', () => {
    // 02:00 UTC is still the previous day in Los Angeles and already 15:00 in Auckland.
    for (const tz of ['America/Los_Angeles', 'Pacific/Auckland', 'UTC']) {
      process.env.TZ = tz;
      const date = new Date(Date.UTC(2025, 9, 17, 2, 0, 0));
      expect(formatStamp(date)).toBe('20251017-020000');
      expect(parseStamp('20251017-020000')?.toISOString()).toBe('2025-10-17T02:00:00.000Z');
    }
  });

  it('round-trips any second between 1970 and 9999 (milliseconds are dropped)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59) }), (ms) => {
        const date = new Date(ms);
        const stamp = formatStamp(date);
        expect(stamp).toMatch(/^\d{8}-\d{6}$/);
        expect(parseStamp(stamp)?.getTime()).toBe(Math.floor(ms / 1000) * 1000);
      }),
    );
  });

  it.each(['', '20251017', '20251017-0200', '2025-10-17T02:00:00Z', '20251317-020000', '20251017-020000 ', 'x20251017-020000', '20251017-026000'])(
    'rejects %j',
    (stamp) => {
      expect(parseStamp(stamp)).toBeUndefined();
    },
  );

  // new Date() would roll Feb 30 over to Mar 2 and 24:00 to the next day; parseStamp refuses them.
  it.each(['20250230-000000', '20250101-240000'])('rejects the impossible calendar time %j', (stamp) => {
    expect(parseStamp(stamp)).toBeUndefined();
  });
});

describe('artifact keys', () => {
  it.each(ENCODINGS)('names every artifact with the real encoding %j -> %s', (encoding, suffix) => {
    expect(encodingSuffix(encoding)).toBe(suffix);
    const keys = {
      plain: logicalBackupKey('corporate_intel', 'daily', '20251017-020000', 'plain', encoding),
      custom: logicalBackupKey('corporate_intel', 'weekly', '20251017-020000', 'custom', encoding),
      globals: globalsKey('monthly', '20251017-020000', encoding),
      base: baseBackupKey('20251017-030000', encoding),
      wal: walRemoteKey('000000010000000000000001', encoding),
    };
    expect(keys).toEqual({
      plain: `daily/corporate_intel_daily_20251017-020000.sql${suffix}`,
      custom: `weekly/corporate_intel_weekly_20251017-020000.dump${suffix}`,
      globals: `monthly/globals_20251017-020000.sql${suffix}`,
      base: `base/20251017-030000/base.tar${suffix}`,
      wal: `wal-archive/000000010000000000000001${suffix}`,
    });
    for (const key of Object.values(keys)) expect(encodingOf(key)).toEqual(encoding);
    expect(metadataKey(keys.plain)).toBe(`${keys.plain}.metadata.json`);
  });

  it.each(['daily/corporate_intel_daily_20251017-020000.sql', 'wal-archive/000000010000000000000001', 'x.gpg', 'x.zst.gpg.metadata.json', 'x.tar.bz2'])(
    'refuses to guess the encoding of %s',
    (key) => {
      expect(() => encodingOf(key)).toThrow(/unknown encoding/);
    },
  );
});

describe('WAL_FILE_PATTERN', () => {
  it.each([
    '000000010000000000000001',
    '0000000A00000002000000FF',
    '00000002.history',
    '000000010000000000000009.00000028.backup',
    '000000010000000000000004.partial',
  ])('accepts what PostgreSQL archives: %s', (name) => {
    expect(WAL_FILE_PATTERN.test(name)).toBe(true);
  });

  it.each([
    '',
    '../etc/passwd',
    '00000001000000000000000',
    '0000000100000000000000011',
    '00000001000000000000000g',
    '00000001000000000000000a',
    '000000010000000000000001.zst.gpg',
    '000000010000000000000001.metadata.json',
    '.000000010000000000000001.1a2b3c4d.partial',
    '000000010000000000000001.backup',
    '000000010000000000000001.0028.backup',
    '0000002.history',
    'wal-archive/000000010000000000000001',
    '000000010000000000000001\n',
    'RECOVERYXLOG',
  ])('rejects %j', (name) => {
    expect(WAL_FILE_PATTERN.test(name)).toBe(false);
  });
});

describe('LSN arithmetic', () => {
  it.each([
    ['0/0', 0n],
    ['0/4000028', 0x4000028n],
    ['1/FF000000', 0x1ff000000n],
    ['16/B374D848', 0x16b374d848n],
    ['FFFFFFFF/FFFFFFFF', 0xffffffffffffffffn],
  ])('parses and formats %s like PostgreSQL (%X/%X)', (text, value) => {
    expect(parseLsn(text)).toBe(value);
    expect(formatLsn(value)).toBe(text);
  });

  it('accepts lower-case hex but formats upper-case', () => {
    expect(formatLsn(parseLsn('16/b374d848'))).toBe('16/B374D848');
  });

  it.each(['', '0', '0/', '/4000028', 'x/1', '0/40 00', '-1/0'])('rejects %j', (text) => {
    expect(() => parseLsn(text)).toThrow(/not an LSN/);
  });

  // A third `/` field or a half wider than 32 bits is not an LSN.
  it.each(['0/4000028/1', '100000000/0', '0/100000000'])('rejects the malformed LSN %j', (text) => {
    expect(() => parseLsn(text)).toThrow(/not an LSN/);
  });

  it.each([
    [1, '0/4000028', 16 * 1024 * 1024, '000000010000000000000004'],
    [1, '1/FF000000', 16 * 1024 * 1024, '0000000100000001000000FF'],
    [1, '0/FFFFFFFF', 16 * 1024 * 1024, '0000000100000000000000FF'],
    [1, '1/0', 16 * 1024 * 1024, '000000010000000100000000'],
    [2, '0/B000100', 16 * 1024 * 1024, '00000002000000000000000B'],
    [0x1a, '3/2000000', 64 * 1024 * 1024, '0000001A0000000300000000'],
    [1, '3/5FFFFFF', 64 * 1024 * 1024, '000000010000000300000001'],
    [1, '0/4000028', 1024 * 1024, '000000010000000000000040'],
  ])('timeline %d, LSN %s, %d-byte segments -> %s', (timeline, lsn, segmentSize, name) => {
    expect(walSegmentName(timeline, parseLsn(lsn), segmentSize)).toBe(name);
    expect(WAL_FILE_PATTERN.test(name)).toBe(true);
  });
});

describe('parseBaseBackupReport', () => {
  it('reads the start/end points from real pg_basebackup 15 --verbose output', () => {
    // Captured from `pg_basebackup -D - -Ft -X fetch --checkpoint=fast --verbose` against PostgreSQL 15.
    const stderr = readFileSync(join(__dirname, '..', 'fixtures', 'pg-basebackup-15-verbose.stderr'), 'utf8');
    const report = parseBaseBackupReport(stderr);
    expect(report).toEqual({ startLsn: '0/B000028', stopLsn: '0/B000100', timeline: 1 });
    expect(walSegmentName(report.timeline, parseLsn(report.startLsn), 16 * 1024 * 1024)).toBe('00000001000000000000000B');
  });

  it('reads a report on a later timeline with a high LSN', () => {
    const stderr = 'pg_basebackup: write-ahead log start point: 0/4000028 on timeline 1\npg_basebackup: write-ahead log end point: 0/4000100\n';
    expect(parseBaseBackupReport(stderr)).toEqual({ startLsn: '0/4000028', stopLsn: '0/4000100', timeline: 1 });
    const later = 'pg_basebackup: write-ahead log start point: 1A/FF000060 on timeline 12\npg_basebackup: write-ahead log end point: 1B/138\n';
    expect(parseBaseBackupReport(later)).toEqual({ startLsn: '1A/FF000060', stopLsn: '1B/138', timeline: 12 });
  });

  it('fails loudly, quoting the output, when the points are missing', () => {
    expect(() => parseBaseBackupReport('pg_basebackup: error: connection to server failed')).toThrow(/did not report its WAL start and end points[\s\S]*connection to server failed/);
    expect(() => parseBaseBackupReport('pg_basebackup: write-ahead log start point: 0/4000028 on timeline 1\n')).toThrow(/did not report/);
  });
});
