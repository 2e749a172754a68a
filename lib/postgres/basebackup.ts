/**
 * Physical base backups: `pg_basebackup -D - -Ft -X fetch` streams one tar (data directory plus the
 * WAL needed to make it consistent) through writeArtifact. The start/stop LSN and timeline come from
 * pg_basebackup's own report; with the archived WAL after stopLsn they are what PITR replays from.
 */
import type { Config } from '../config/load';
import type { EncryptionKey } from '../crypto/openpgp';
import { ToolExit, type SpawnOptions } from '../pipeline/child';
import { tarEnding, writeArtifact, type ArtifactFacts, type ContentExpectation } from '../pipeline/artifact';
import { withPg } from './connection';
import { readServerFacts, type ServerFacts } from './dump';
import { classifyToolExit, pgToolEnv, pgToolPath } from './tools';

export interface BaseBackupResult extends ArtifactFacts {
  server: ServerFacts;
  label: string;
  startLsn: string;
  stopLsn: string;
  timeline: number;
  startWal: string;
  stopWal: string;
}

/** Parse an LSN like `0/4000028` into a bigint. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(value: bigint): string {
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Name of the WAL segment holding `lsn` on `timeline` (XLogFileName). */
export function walSegmentName(timeline: number, lsn: bigint, segmentSize: number): string {
  const segno = lsn / BigInt(segmentSize);
  const perId = 0x100000000n / BigInt(segmentSize);
  const hex = (n: bigint | number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
}

/** Read start/stop points from `pg_basebackup -v` output. */
export function parseBaseBackupReport(stderr: string): { startLsn: string; stopLsn: string; timeline: number } {
  const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/i.exec(stderr);
  const stop = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/i.exec(stderr);
  if (!start || !stop) throw new Error(`pg_basebackup did not report its WAL start and end points:\n${stderr.slice(-500)}`);
  return { startLsn: start[1]!, timeline: Number(start[2]), stopLsn: stop[1]! };
}

export interface BaseBackupOptions {
  db: Config['db'];
  target: string;
  label: string;
  compression: { algorithm: 'zstd' | 'gzip'; level: number };
  encryptionKey?: EncryptionKey;
  onProgress?: (rawBytes: number, writtenBytes: number) => void;
  onSpawn?: SpawnOptions['onSpawn'];
  signal?: AbortSignal;
}

/** `pg_basebackup -Ft -D -` writes one tar: its first header's ustar magic at byte 257. */
export const BASE_BACKUP_EXPECTATION: ContentExpectation = {
  what: 'a pg_basebackup tar stream',
  minBytes: 1024,
  magic: { offset: 257, bytes: Buffer.from('ustar') },
  ending: { what: 'a complete tar archive', test: tarEnding },
};

export async function takeBaseBackup(options: BaseBackupOptions): Promise<BaseBackupResult> {
  const { db } = options;
  const server = await withPg(db, (client) => readServerFacts(client, db));
  const args = ['-D', '-', '-Ft', '-X', 'fetch', '--checkpoint=fast', `--label=${options.label}`, '--verbose', '--no-password'];
  const producer = { command: pgToolPath(db, 'pg_basebackup', Math.floor(server.versionNum / 10000)), args, env: pgToolEnv(db, db.name, 'pg_basebackup') };
  let artifact: ArtifactFacts;
  let producerStderr = '';
  try {
    artifact = await writeArtifact({
      source: { tool: producer }, target: options.target, compression: options.compression, encryptionKey: options.encryptionKey, expect: BASE_BACKUP_EXPECTATION,
      onProgress: options.onProgress, onSpawn: options.onSpawn, signal: options.signal,
      onProducerStderr: (stderr) => (producerStderr = stderr),
    });
  } catch (error) {
    if (error instanceof ToolExit) throw classifyToolExit(error, db);
    throw error;
  }
  const report = parseBaseBackupReport(producerStderr);
  return {
    ...artifact,
    server,
    label: options.label,
    ...report,
    startWal: walSegmentName(report.timeline, parseLsn(report.startLsn), server.walSegmentSize),
    stopWal: walSegmentName(report.timeline, parseLsn(report.stopLsn), server.walSegmentSize),
  };
}
