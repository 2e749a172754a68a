/**
 * The activity table, built by a factory over injected dependencies (lib/deps.ts: config, logger,
 * stores, key ring, ...), so tests hand in real or fake parts. Workflows see only
 * `import type { Activities }`.
 */
import type { Deps } from '../lib/deps';
import { createAuditActivities } from './audit';
import { createBackupActivities } from './backup';
import { createConfigFileActivities } from './config-files';
import { createDrActivities } from './dr';
import { withFailureMapping } from './failure';
import { createHealthActivities } from './health';
import { createMinioActivities } from './minio';
import { createPitrActivities } from './pitr';
import { createRepairActivities } from './repair';
import { createMonitorActivities } from './monitor';
import { createNotifyActivities } from './notify';
import { createRestoreActivities } from './restore';
import { createRestoreGlobalsActivities } from './restore-globals';
import { createRetentionActivities } from './retention';
import { createStatusActivities } from './status';
import { createVerifyActivities } from './verify';
import { createWalActivities } from './wal';

export type ActivityDeps = Deps;

export function createActivities(deps: Deps) {
  return withFailureMapping(
    {
      ...createHealthActivities(deps),
      ...createBackupActivities(deps),
      ...createWalActivities(deps),
      ...createPitrActivities(deps),
      ...createRestoreActivities(deps),
      ...createRestoreGlobalsActivities(deps),
      ...createVerifyActivities(deps),
      ...createRepairActivities(deps),
      ...createMinioActivities(deps),
      ...createNotifyActivities(deps),
      ...createRetentionActivities(deps),
      ...createMonitorActivities(deps),
      ...createConfigFileActivities(deps),
      ...createDrActivities(deps),
      ...createAuditActivities(deps),
      ...createStatusActivities(deps),
    },
    deps.config.secretValues,
    deps.config.backupRoot,
  );
}

export type Activities = ReturnType<typeof createActivities>;
