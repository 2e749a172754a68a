/**
 * shipWal: send archived WAL to S3 (compressed, encrypted, checksummed) and report the backlog; keep
 * the `rpo-exposure` alert current, so a stuck shipping, an off-site store that is down or a dead
 * archiver is reported within a shipping interval, not at the next hourly monitoring run.
 */
import { condition, log, patched, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ShipWalResult } from '../activities/wal';
import { raiseAlert } from './alerting';
import { invalidInput } from './failures';
import { LOCAL, QUICK, UPLOAD } from './options';

export interface ShipWalInput {
  /** Ship at most this many files in this run (default: all pending). */
  limit?: number;
}

const planning = proxyActivities<Activities>(QUICK);

/** Runs from before the exposure was checked here shipped and returned, nothing else. */
const EXPOSURE_ALERT_PATCH = 'ship-wal-rpo-exposure-alert';
/** First exposure check while an upload is still running (later ones every ship interval). */
const FIRST_CHECK_SECONDS = 10;

export async function shipWal(input: ShipWalInput = {}): Promise<ShipWalResult> {
  if (input.limit !== undefined && (!Number.isInteger(input.limit) || input.limit < 1)) {
    throw invalidInput(`limit: must be a positive integer (got ${JSON.stringify(input.limit)})`);
  }
  // 1. Where the archive is and whether there is an off-site store at all.
  const target = await planning.describeBackupTarget();
  if (!target.remote) throw invalidInput('REMOTE_STORAGE is off: there is nowhere to ship WAL to');
  const queue = target.backupHostTaskQueue;
  const upload = proxyActivities<Activities>(UPLOAD(queue));
  setCurrentDetails(`**ship** archived WAL from \`${queue}\` to the off-site store${input.limit ? ` (at most ${input.limit} files)` : ''}`);
  if (!patched(EXPOSURE_ALERT_PATCH)) return upload.shipWal({ limit: input.limit });

  // 2. Ship. Temporal retries the upload for hours when the off-site store is down, and the exposure
  //    grows meanwhile: check it while the upload runs, then once more when it has finished or failed.
  const host = proxyActivities<Activities>(LOCAL(queue));
  let recheckSeconds = FIRST_CHECK_SECONDS;
  const checkExposure = async (): Promise<void> => {
    try {
      const check = await host.checkRpoExposure();
      for (const alert of check.alerts) await raiseAlert(queue, alert);
      recheckSeconds = check.recheckSeconds;
    } catch (error) {
      // Like a failed delivery, a failed check never fails the shipping; the next run checks again.
      log.warn('rpo exposure check failed', { error: error instanceof Error ? error.message : String(error) });
    }
  };
  let settled = false;
  const shipping = upload.shipWal({ limit: input.limit });
  void shipping.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  try {
    while (!(await condition(() => settled, recheckSeconds * 1000))) await checkExposure();
    const shipped = await shipping;
    setCurrentDetails(`**done**: ${shipped.shipped.length} file(s) shipped, ${shipped.backlog.pendingCount} pending`);
    return shipped;
  } finally {
    // 3. The exposure after this run: raised, or resolved once shipping caught up.
    await checkExposure();
  }
}
