/**
 * Where a disaster recovery restores to: endpoints (a new PostgreSQL cluster, a new MinIO) that exist
 * only at run time. The worker resolves an environment's name to its credentials; workflow inputs and
 * results only ever name it. Interface only: the providers (local, command, existing) come with the
 * DR runbook.
 */

/** What a provider hands back: names and addresses, never secrets. */
export interface ProvisionedEnvironment {
  /** The name workflows use for it. */
  name: string;
  postgres?: { host: string; port: number };
  minio?: { endpoint: string };
}

export interface EnvironmentProvider {
  /** Provider kind, for messages (`local`, `command`, `existing`). */
  readonly kind: string;
  /** Bring up (or find) the named environment. Idempotent: the same name returns the same endpoints. */
  provision(name: string): Promise<ProvisionedEnvironment>;
  /** Remove it; removing one that is gone succeeds. */
  teardown(name: string): Promise<void>;
}
