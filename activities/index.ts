/**
 * The activity table, built by a factory over injected dependencies (config, logger, ...), so tests
 * hand in real or fake parts. Workflows see only `import type { Activities }`.
 */
import type { Config } from '../lib/config/load';
import type { Logger } from '../lib/logger';
import { createBackupActivities } from './backup';
import { withFailureMapping } from './failure';
import { createHealthActivities } from './health';
import { createMinioActivities } from './minio';
import { createPitrActivities } from './pitr';
import { createMonitorActivities } from './monitor';
import { createNotifyActivities } from './notify';
import { createRestoreActivities } from './restore';
import { createRetentionActivities } from './retention';
import { createVerifyActivities } from './verify';
import { createWalActivities } from './wal';

export interface ActivityDeps {
  config: Config;
  logger: Logger;
}

export function createActivities(deps: ActivityDeps) {
  return withFailureMapping(
    {
      ...createHealthActivities(deps),
      ...createBackupActivities(deps),
      ...createWalActivities(deps),
      ...createPitrActivities(deps),
      ...createRestoreActivities(deps),
      ...createVerifyActivities(deps),
      ...createMinioActivities(deps),
      ...createNotifyActivities(deps),
      ...createRetentionActivities(deps),
      ...createMonitorActivities(deps),
    },
    deps.config.secretValues,
    deps.config.backupRoot,
  );
}

export type Activities = ReturnType<typeof createActivities>;
