/**
 * Reading the disaster-recovery reports on this host ($BACKUP_ROOT/dr-reports/*.json, written by the
 * runbook's publishDrReport) for monitoring and `backups list`. A missing folder is "no drill yet";
 * a file that is not a readable report is skipped, never thrown: monitoring must still run.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DR_REPORTS_DIR } from '../catalog/layout';
import { summarizeDrills, type DrillSummary } from './drills';

export async function readDrillSummary(backupRoot: string): Promise<DrillSummary> {
  const dir = join(backupRoot, DR_REPORTS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const reports = await Promise.all(
    names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) =>
      readFile(join(dir, n), 'utf8').then((text) => JSON.parse(text) as unknown, () => undefined).catch(() => undefined),
    ),
  );
  return summarizeDrills(reports);
}
