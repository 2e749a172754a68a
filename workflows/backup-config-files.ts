/**
 * backupConfigFiles: the seed's third backup component ("Configuration Files: System and
 * application configuration backups") as a runbook. On the pinned queue of the host that owns the
 * files (the backup host), CONFIG_BACKUP_PATHS is archived into
 * `$BACKUP_ROOT/config/config_<YYYYMMDD-HHMMSS>.tar.zst[.gpg]` with its manifest in the metadata,
 * written last, then copied off-site under `config/`. When nothing changed since the newest backup
 * (same manifest), only a small "unchanged" record is written and copied. Input is one (empty)
 * object so on-call can start it from the Temporal UI; file contents never enter the history.
 */
import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ConfigBackupSummary } from '../activities/config-files';
import { invalidInput, withFreshStamp } from './failures';
import { QUICK, STREAMING, UPLOAD } from './options';

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface BackupConfigFilesInput {}

export interface BackupConfigFilesResult extends ConfigBackupSummary {
  stamp: string;
  /** The off-site copy (of the archive, or of the unchanged record). */
  remote?: { key: string; resumedParts: number };
}

const planning = proxyActivities<Activities>(QUICK);

export async function backupConfigFiles(input: BackupConfigFilesInput = {}): Promise<BackupConfigFilesResult> {
  // 0. Refuse bad input before any side effect (the paths come from the worker's configuration).
  if (input !== undefined && input !== null && (typeof input !== 'object' || Array.isArray(input) || Object.keys(input).length > 0)) {
    throw invalidInput('input: backupConfigFiles takes {} (the paths are CONFIG_BACKUP_PATHS of the worker)');
  }
  const { workflowId, runId } = workflowInfo();

  // 1. Which host owns the files and BACKUP_ROOT.
  const target = await planning.describeConfigBackup();
  const host = proxyActivities<Activities>(STREAMING(target.hostTaskQueue));
  const upload = proxyActivities<Activities>(UPLOAD(target.hostTaskQueue));

  // 2. The files, archived and proven, the metadata (manifest, warnings) last; or "unchanged".
  setCurrentDetails(`**archive** ${target.paths.length} configured path(s)`);
  const { stamp, result: archived } = await withFreshStamp((stamp) => host.archiveConfigFiles({ stamp, workflowId, runId }));

  // 3. The off-site copy: the archive with the backups' own upload (metadata object last), or the record.
  let remote: BackupConfigFilesResult['remote'];
  if (target.remote) {
    setCurrentDetails(`**upload** \`${archived.key}\``);
    if (archived.outcome === 'archived') {
      const uploaded = await upload.uploadArtifact({ key: archived.key });
      remote = { key: uploaded.key, resumedParts: uploaded.resumedParts };
    } else {
      remote = { key: (await upload.uploadConfigUnchanged({ key: archived.key })).key, resumedParts: 0 };
    }
  }
  const warned = archived.warnings.length > 0 ? `, ${archived.warnings.length} warning(s)` : '';
  setCurrentDetails(`**done**: ${archived.outcome === 'unchanged' ? `unchanged since \`${archived.sameAs}\`` : `\`${archived.key}\``}${warned}`);
  return { stamp, ...archived, ...(remote ? { remote } : {}) };
}
