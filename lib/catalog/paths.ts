/** Folders of the storage layout (./layout.ts) as paths on this host's disk. */
import { join } from 'node:path';
import { LOGS_DIR, WAL_ARCHIVE } from './layout';

/** `$BACKUP_ROOT/wal-archive`: where archive_command writes and where every reader looks. */
export function walArchiveDir(backupRoot: string): string {
  return join(backupRoot, WAL_ARCHIVE);
}

/** `$BACKUP_ROOT/logs`. */
export function logsDir(backupRoot: string): string {
  return join(backupRoot, LOGS_DIR);
}
