/**
 * Closing the current WAL segment and waiting for the server's archiver to archive it: what makes
 * the newest commits reachable by point-in-time recovery before `shipWal` copies the archive
 * off-site (the main job's drill, bench/dr.js). Needs a role allowed to run pg_switch_wal()
 * (a superuser, as DB_USER is on the embedded stack).
 */
import type { Config } from '../config/load';
import { ServiceUnavailable } from '../errors';
import { withPg } from './connection';

export interface WalSwitch {
  /** The segment that holds everything committed before the switch. */
  segment: string;
  /** pg_stat_archiver.last_archived_wal once it reached `segment`. */
  archived: string;
  seconds: number;
}

/**
 * pg_switch_wal(), then poll pg_stat_archiver until the segment is archived. When nothing was
 * written since the last switch the server does not switch, and the segment named is the previous
 * one (already archived), so a second call returns at once. Fails (retryably) after `timeoutMs`.
 */
export async function switchWalAndWaitArchived(db: Config['db'], options: { timeoutMs?: number; pollMs?: number } = {}): Promise<WalSwitch> {
  const { timeoutMs = 120_000, pollMs = 250 } = options;
  const started = Date.now();
  return withPg(db, async (client) => {
    const segment = (await client.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment')).rows[0]!.segment;
    for (;;) {
      const row = (await client.query<{ last: string | null; failed: string | null }>('SELECT last_archived_wal AS last, last_failed_wal AS failed FROM pg_stat_archiver')).rows[0]!;
      // A `.partial` or `.backup` file name starts with its segment's 24 characters.
      if (row.last && row.last.slice(0, 24) >= segment) return { segment, archived: row.last, seconds: (Date.now() - started) / 1000 };
      if (Date.now() - started > timeoutMs) {
        throw new ServiceUnavailable(
          `WAL segment ${segment} was not archived within ${Math.round(timeoutMs / 1000)} s (last archived ${row.last ?? 'none'}${row.failed ? `, last failed ${row.failed}` : ''})`,
          'check archive_command and the server log; `lifeboat wal status` shows the archive',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }, 'postgres');
}
