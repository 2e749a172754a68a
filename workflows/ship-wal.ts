/** shipWal: send archived WAL to S3 (compressed, encrypted, checksummed) and report the backlog. */
import { proxyActivities } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import { QUICK, UPLOAD } from './options';

export interface ShipWalInput {
  /** Ship at most this many files in this run (default: all pending). */
  limit?: number;
}

const planning = proxyActivities<Activities>(QUICK);

export async function shipWal(input: ShipWalInput = {}) {
  if (input.limit !== undefined && (!Number.isInteger(input.limit) || input.limit < 1)) {
    throw invalidInput(`limit: must be a positive integer (got ${JSON.stringify(input.limit)})`);
  }
  const target = await planning.describeBackupTarget();
  if (!target.remote) throw invalidInput('REMOTE_STORAGE is off: there is nowhere to ship WAL to');
  return proxyActivities<Activities>(UPLOAD(target.backupHostTaskQueue)).shipWal({ limit: input.limit });
}
