/**
 * Where a disaster recovery restores to (runbook step 2, "spin up new infrastructure"): a new
 * PostgreSQL and a new MinIO that exist only from that run on. Providers: `local` (a new cluster and
 * MinIO on this machine, lib/environment/local.ts), `command` (operator scripts,
 * lib/environment/command.ts) and `existing` (endpoints from the configuration,
 * lib/environment/existing.ts); `environmentProvider` (lib/environment/providers.ts) builds the
 * configured one.
 *
 * Credentials: the new PostgreSQL accepts the worker's own DB_USER / PGPASSWORD and the new MinIO
 * the MINIO_SOURCE_ACCESS_KEY / _SECRET_KEY (lib/deps.ts `stores.minioAt`), so what a provider
 * returns is names, addresses and directories only: plain JSON that can travel in workflow
 * histories, never a secret.
 *
 * Errors (lib/errors.ts): InputInvalid for a bad name or a kind whose settings are missing, naming
 * the field or setting (permanent); PrerequisiteMissing when a binary is not installed (permanent);
 * StackFailed when a local server does not start (permanent; the log tail is in the message);
 * ToolFailed from scripts (retryable on a non-zero exit, permanent for output that is not valid
 * endpoints); ServiceUnavailable while another process changes the same environment (retryable).
 */
import type { EnvironmentKind } from './kinds';

/** What a provider hands back: names, addresses and directories, never secrets. */
export interface ProvisionedEnvironment {
  /** The name workflows use for it. */
  name: string;
  /** The provider that made it. */
  kind: EnvironmentKind;
  /** The new PostgreSQL, reached with the worker's DB_USER / PGPASSWORD. */
  postgres?: { host: string; port: number };
  /** The new MinIO (http(s) URL without credentials), reached with the MINIO_SOURCE keys. */
  minio?: { endpoint: string };
  /**
   * Directory of the environment on `host`'s disk, where a restore that brings its own data
   * directory (point-in-time recovery) creates it, so teardown removes it with the rest (local).
   */
  dataDir?: string;
  /** Directory on `host`'s disk where runbook step 6 restores the configuration files (mode 0700). */
  configDir?: string;
  /**
   * LIFEBOAT_HOST of the machine whose disk holds dataDir / configDir: activities that write there
   * run on that host's pinned task queue (local).
   */
  host?: string;
}

/** describe(): what is known about an environment, and whether its servers run (when the provider can tell). */
export interface EnvironmentDescription extends ProvisionedEnvironment {
  running?: { postgres?: boolean; minio?: boolean };
}

export interface ProvisionOptions {
  /**
   * `server` (default): a running, empty PostgreSQL cluster on postgres.port. `port`: only reserve
   * postgres.port and dataDir, for a restore that brings its own data directory (a point-in-time
   * recovery starts its recovered cluster on that port below dataDir, and teardown removes it with
   * the rest). `none`: no PostgreSQL in this environment (postgres absent unless an earlier call
   * asked for one). A later `server` call starts an empty cluster only when nothing below dataDir
   * serves postgres.port. Providers other than `local` ignore it.
   */
  postgres?: 'server' | 'port' | 'none';
  /** Aborts a running script (command); local provisioning takes seconds and finishes. */
  signal?: AbortSignal;
}

export interface EnvironmentProvider {
  /** Provider kind, for messages and the result's `kind`. */
  readonly kind: EnvironmentKind;
  /**
   * Bring up the named environment, or find it and bring back what died. Idempotent: the same name
   * returns the same endpoints while the environment exists, and safe to call again after a crash
   * at any point of an earlier call.
   */
  provision(name: string, options?: ProvisionOptions): Promise<ProvisionedEnvironment>;
  /** The named environment as it stands (after a worker crash, for status), or undefined when there is none. Changes nothing. */
  describe(name: string): Promise<EnvironmentDescription | undefined>;
  /**
   * Names of the environments this provider created and has not torn down (leak checks). Absent
   * when the provider cannot know (command: the operator's scripts own that inventory).
   */
  list?(): Promise<string[]>;
  /**
   * Remove it: stop its servers and delete its data. Removing one that is gone succeeds; so does
   * removing one whose creation was interrupted. `existing` removes nothing.
   */
  teardown(name: string, options?: { signal?: AbortSignal }): Promise<void>;
}
