/**
 * The Temporal connection options, made in one place for the worker's NativeConnection and the
 * CLI's Connection. Our TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_API_KEY settings carry
 * @temporalio/envconfig's names and meanings; envconfig turns them into connection options (an API
 * key turns TLS on). It is handed the validated settings only, not the process environment or a
 * `temporal.toml` profile, so the connection is exactly what `lifeboat config check` shows.
 */
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import type { Config } from './load';

export type TemporalConnectionOptions = ClientConnectConfig['connectionOptions'];

export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const { address, namespace, apiKey } = config.temporal;
  return loadClientConnectConfig({
    disableFile: true,
    overrideEnvVars: { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, ...(apiKey ? { TEMPORAL_API_KEY: apiKey } : {}) },
  }).connectionOptions;
}
