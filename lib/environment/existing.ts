/**
 * The `existing` environment provider: a standby PostgreSQL and/or MinIO that already run, given in
 * the configuration (DR_TARGET_DB_HOST / _DB_PORT, DR_TARGET_MINIO_ENDPOINT, DR_TARGET_CONFIG_DIR).
 * Every name maps to those endpoints; nothing is created, so teardown removes nothing and list()
 * is empty.
 */
import { InputInvalid } from '../errors';
import { checkEnvironmentName } from './kinds';
import type { EnvironmentDescription, EnvironmentProvider, ProvisionedEnvironment } from './provider';

export interface ExistingEnvironmentOptions {
  postgres?: { host: string; port: number };
  minio?: { endpoint: string };
  configDir?: string;
}

export class ExistingEnvironmentProvider implements EnvironmentProvider {
  readonly kind = 'existing' as const;

  constructor(private readonly options: ExistingEnvironmentOptions) {}

  provision(name: string): Promise<ProvisionedEnvironment> {
    return Promise.resolve().then(() => this.environment(name));
  }

  describe(name: string): Promise<EnvironmentDescription | undefined> {
    return Promise.resolve().then(() => this.environment(name));
  }

  list(): Promise<string[]> {
    return Promise.resolve([]);
  }

  teardown(name: string): Promise<void> {
    return Promise.resolve().then(() => void checkEnvironmentName(name));
  }

  private environment(name: string): ProvisionedEnvironment {
    checkEnvironmentName(name);
    const { postgres, minio, configDir } = this.options;
    if (!postgres && !minio) {
      throw new InputInvalid('DR_TARGET_DB_HOST', 'is not set (nor DR_TARGET_MINIO_ENDPOINT): the existing environment has no endpoints', 'set DR_TARGET_DB_HOST and/or DR_TARGET_MINIO_ENDPOINT in the worker\'s configuration');
    }
    return {
      name,
      kind: this.kind,
      ...(postgres ? { postgres: { host: postgres.host, port: postgres.port } } : {}),
      ...(minio ? { minio: { endpoint: minio.endpoint } } : {}),
      ...(configDir ? { configDir } : {}),
    };
  }
}
