/**
 * When did transactions end in the archived WAL? PostgreSQL ends a recovery to a time at the first
 * commit or abort record after the target, and fails when the WAL ends before one; archive times
 * (the files' mtimes, lib/wal/exposure.ts) only bound a segment's contents from above, so they cannot
 * promise that such a record exists. This reads the records themselves with the server's own
 * `pg_waldump -r Transaction`, segment by segment from the one that reaches the target, and stops
 * at the first transaction end after it (usually in the first segment read).
 *
 * Local segments are read in place (the archive holds them raw); a segment only off-site is fetched
 * and decoded into a private temporary directory for the time pg_waldump reads it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ArchivedWalFile, CommitScan, PitrPlan, TransactionEnd } from './plan';
import { nextSegmentName, type WalSource } from './segments';

/** At most this many segments are read; beyond, the scan is undecided (and only warns). */
export const MAX_SCANNED_SEGMENTS = 64;

const TRANSACTION_END = /desc: (?:COMMIT|ABORT)(?:_PREPARED)? (?:\d+: )?(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))? UTC/;

/** The end time of a transaction in one line of `TZ=UTC pg_waldump -r Transaction` output, if it is one. Pure. */
export function parseTransactionEnd(line: string): Omit<TransactionEnd, 'segment'> | undefined {
  const m = TRANSACTION_END.exec(line);
  if (!m) return undefined;
  const fraction = (m[3] ?? '').padEnd(6, '0');
  const ms = Date.parse(`${m[1]}T${m[2]}Z`);
  if (Number.isNaN(ms)) return undefined;
  return { at: `${m[1]}T${m[2]}.${fraction}Z`, micros: ms * 1000 + Number(fraction) };
}

/**
 * The segments to read: the consecutive archived segments on the plan's timeline from the one that
 * reaches the target on (a local copy preferred), at most MAX_SCANNED_SEGMENTS + 1 (the extra one
 * tells the scan it was cut). Pure.
 */
export function segmentsToScan(plan: PitrPlan, wal: readonly ArchivedWalFile[]): { name: string; source: WalSource }[] {
  if (plan.continuity.verdict !== 'complete') return [];
  const byName = new Map<string, WalSource>();
  for (const f of wal) if (!byName.has(f.name) || f.source === 'local') byName.set(f.name, f.source);
  const out: { name: string; source: WalSource }[] = [];
  for (let name = plan.continuity.reachedBy.segment; out.length <= MAX_SCANNED_SEGMENTS; name = nextSegmentName(name, plan.segmentSize)) {
    const source = byName.get(name);
    if (!source) break;
    out.push({ name, source });
  }
  return out;
}

export interface ScanOptions {
  /** Path of pg_waldump (of the base backup's major version). */
  waldump: string;
  targetMicros: number;
  segments: { name: string; source: WalSource }[];
  /** The local WAL archive (raw segments). */
  archiveDir: string;
  /** The decoded content of a segment only off-site; undefined when it cannot be had (the scan is then undecided). */
  fetchRemote?: (name: string) => Promise<Buffer | undefined>;
  signal?: AbortSignal;
}

/** Transaction ends in one segment file, in WAL order, stopping at the first after `afterMicros`. */
function readTransactionEnds(waldump: string, path: string, afterMicros: number, signal?: AbortSignal): Promise<{ ends: Omit<TransactionEnd, 'segment'>[]; error?: string }> {
  return new Promise((resolve) => {
    // TZ=UTC: pg_waldump prints commit times in its own local zone.
    const child = spawn(waldump, ['-r', 'Transaction', path], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, TZ: 'UTC', LANG: 'C' }, signal });
    const ends: Omit<TransactionEnd, 'segment'>[] = [];
    let stderr = '';
    let stopped = false;
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (stopped) return;
      const end = parseTransactionEnd(line);
      if (!end) return;
      ends.push(end);
      if (end.micros > afterMicros) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.once('error', (error) => resolve({ ends, error: error.message }));
    child.once('close', (code) => {
      // pg_waldump exits 1 at the end of a segment whose last record continues in the next one: the
      // records before are still right. Only a run that printed nothing and failed is an error.
      const failed = !stopped && code !== 0 && ends.length === 0 && !/invalid record length|contrecord|there is no contrecord|could not find a valid record|end of WAL|invalid magic number 0000/i.test(stderr);
      resolve({ ends, ...(failed ? { error: stderr.trim().split('\n').slice(-1)[0] || `exit ${code}` } : {}) });
    });
  });
}

/**
 * Read the segments in order until a transaction ended after the target. Never throws for what it
 * reads: a failure makes the result `undecided`, and the plan then only warns.
 */
export async function scanTransactionEnds(options: ScanOptions): Promise<CommitScan> {
  const scanned: string[] = [];
  let newestAtOrBefore: TransactionEnd | undefined;
  let temp: string | undefined;
  try {
    for (const [i, segment] of options.segments.entries()) {
      if (i >= MAX_SCANNED_SEGMENTS) return { scanned, newestAtOrBefore, undecided: `more than ${MAX_SCANNED_SEGMENTS} segments after the target hold no transaction end` };
      let path = join(options.archiveDir, segment.name);
      if (segment.source === 'remote') {
        const raw = await options.fetchRemote?.(segment.name).catch(() => undefined);
        if (!raw) return { scanned, newestAtOrBefore, undecided: `${segment.name} is only off-site and could not be read here` };
        temp ??= mkdtempSync(join(tmpdir(), 'lifeboat-walscan-'));
        path = join(temp, segment.name);
        writeFileSync(path, raw, { mode: 0o600 });
      }
      const { ends, error } = await readTransactionEnds(options.waldump, path, options.targetMicros, options.signal);
      if (segment.source === 'remote') rmSync(path, { force: true });
      scanned.push(segment.name);
      if (error) return { scanned, newestAtOrBefore, undecided: `pg_waldump could not read ${segment.name}: ${error}` };
      for (const end of ends) {
        if (end.micros > options.targetMicros) return { scanned, newestAtOrBefore, afterTarget: { ...end, segment: segment.name } };
        if (!newestAtOrBefore || end.micros >= newestAtOrBefore.micros) newestAtOrBefore = { ...end, segment: segment.name };
      }
    }
    return { scanned, newestAtOrBefore };
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }
}
