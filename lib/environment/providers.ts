/**
 * Building environment providers from the configuration: the configured one (DR_ENVIRONMENT) for
 * the composition root (lib/deps.ts), and one by kind for a DR run whose `environment` input picks
 * another. Building checks the kind's settings and starts nothing.
 */
import type { Config } from '../config/load';
import { InputInvalid } from '../errors';
import type { Logger } from '../logger';
import { CommandEnvironmentProvider } from './command';
import { ExistingEnvironmentProvider } from './existing';
import { parseEnvironmentKind } from './kinds';
import { LocalEnvironmentProvider } from './local';
import type { EnvironmentProvider } from './provider';

/** The provider DR_ENVIRONMENT names. */
export function environmentProvider(config: Config, logger: Logger): EnvironmentProvider {
  return environmentProviderFor(config.environment.kind, config, logger, 'DR_ENVIRONMENT');
}

/**
 * The provider of `kind` (a DR run's `environment` input). InputInvalid naming `field` for an
 * unknown kind, or for a kind whose settings this worker does not have (and which they are).
 */
export function environmentProviderFor(kind: unknown, config: Config, logger: Logger, field = 'environment'): EnvironmentProvider {
  const env = config.environment;
  switch (parseEnvironmentKind(kind, field)) {
    case 'local':
      return new LocalEnvironmentProvider({
        root: env.root,
        db: { user: config.db.user, password: config.db.password, binDir: config.db.binDir },
        minio: { accessKey: config.minio.source.accessKey, secretKey: config.minio.source.secretKey, binary: env.minioBinary },
        workerHost: config.temporal.host,
        logger,
      });
    case 'command': {
      const { provisionCommand, teardownCommand } = env;
      if (!provisionCommand || !teardownCommand) {
        const missing = [provisionCommand ? undefined : 'DR_ENVIRONMENT_PROVISION_COMMAND', teardownCommand ? undefined : 'DR_ENVIRONMENT_TEARDOWN_COMMAND'].filter(Boolean).join(' and ');
        throw new InputInvalid(field, `"command" needs ${missing}, which this worker's configuration does not set`, 'set them in the worker\'s configuration, or choose local or existing');
      }
      return new CommandEnvironmentProvider({ provisionCommand, teardownCommand, describeCommand: env.describeCommand, timeoutMs: env.commandTimeoutSeconds * 1000, logger });
    }
    case 'existing':
      if (!env.target.postgres && !env.target.minio) {
        throw new InputInvalid(field, '"existing" needs DR_TARGET_DB_HOST or DR_TARGET_MINIO_ENDPOINT, which this worker\'s configuration does not set', 'set them in the worker\'s configuration, or choose local or command');
      }
      return new ExistingEnvironmentProvider(env.target);
  }
}
