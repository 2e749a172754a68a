/**
 * Gather the facts a point-in-time recovery plan needs and decide it: the base backups and the WAL
 * archive (local, off-site or both, as `source` says) from the catalog, the plan (./plan.ts), and
 * whether a transaction ended after the target in the archived WAL (./wal-commits.ts). Read-only.
 * The planning activity (activities/pitr.ts) and the CLI's early refusal (client/commands/pitr.ts)
 * both call it, so the operator sees the same verdict before anything starts as the workflow reaches.
 */
import { readBaseBackups } from '../catalog/catalog';
import { archivedSegmentSize, listArchivedWal } from '../catalog/wal';
import type { Config } from '../config/load';
import { pgToolPath } from '../postgres/tools';
import type { CopySource } from '../restore/fetch';
import type { Store } from '../storage/store';
import { fetchWalRemote, type PrivateKeySource } from '../wal/remote';
import { applyCommitScan, assertRecoverable, choosePitrPlan, type PitrPlan } from './plan';
import type { PitrTarget } from './target-time';
import { scanTransactionEnds, segmentsToScan } from './wal-commits';

export interface PlanRecoveryOptions {
  config: Pick<Config, 'db'>;
  local: Store | undefined;
  remote: Store | undefined;
  /** The local WAL archive directory. */
  archiveDir: string;
  target: PitrTarget;
  source: CopySource;
  /** A base backup the operator named (catalog key). */
  baseKey?: string;
  /** To decode WAL only off-site while checking the target is reached; without, such WAL leaves the check undecided. */
  privateKeys?: PrivateKeySource;
  /** pg_waldump's path for a major version (default: the PostgreSQL tools lookup). */
  waldumpPath?: (serverMajor?: number) => string;
  signal?: AbortSignal;
}

export interface PlannedRecovery {
  plan: PitrPlan;
  copies: Map<string, ('local' | 'remote')[]>;
  segmentSize: number;
}

/** Plan, and throw the refusal an operator can act on when the plan cannot reach its target. */
export async function planRecovery(options: PlanRecoveryOptions): Promise<PlannedRecovery> {
  const { source } = options;
  const localStore = source === 'remote' ? undefined : options.local;
  const localWal = source === 'remote' ? undefined : options.archiveDir;
  const remote = source === 'local' ? undefined : options.remote;
  const [{ bases, copies }, { files, localNames }] = await Promise.all([readBaseBackups(localStore, remote), listArchivedWal(localWal, remote)]);
  const segmentSize = await archivedSegmentSize(options.archiveDir, localNames);
  let plan = choosePitrPlan({ target: options.target, bases, wal: files, segmentSize, ...(options.baseKey !== undefined ? { baseKey: options.baseKey } : {}) });
  if (!options.target.latest && plan.continuity.verdict === 'complete') {
    const major = plan.base.server ? Math.floor(plan.base.server.versionNum / 10000) : undefined;
    const scan = await (async () => scanTransactionEnds({
      waldump: options.waldumpPath ? options.waldumpPath(major) : pgToolPath(options.config.db, 'pg_waldump', major),
      targetMicros: options.target.epochMicros,
      segments: segmentsToScan(plan, files),
      archiveDir: options.archiveDir,
      ...(remote ? { fetchRemote: (name: string) => fetchWalRemote(name, remote, options.privateKeys) } : {}),
      signal: options.signal,
    }))().catch((error: unknown) => ({ scanned: [], undecided: error instanceof Error ? error.message : String(error) }));
    plan = applyCommitScan(plan, scan, files);
  }
  assertRecoverable(plan);
  return { plan, copies, segmentSize };
}
