/**
 * Installs the Temporal Runtime once per process, before any connection is made: the SDK's own
 * logs (TS side and forwarded Rust core logs) go to our pino logger, and the SDK's metrics are
 * optionally exposed for Prometheus scraping.
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../lib/logger';

let installed = false;

const PINO_TO_SDK: Record<string, LogLevel> = {
  trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR',
};

export interface RuntimeSettings {
  logger: Logger;
  /** Serve SDK metrics on 127.0.0.1:<port>/metrics when set. */
  metricsPort?: number;
}

export function installRuntime({ logger, metricsPort }: RuntimeSettings): void {
  if (installed) return;
  const level = PINO_TO_SDK[logger.level] ?? 'INFO';
  const sdkLogger = logger.child({ component: 'temporal-sdk' });
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      const meta = { ...entry.meta, sdkTimestampNanos: String(entry.timestampNanos) };
      switch (entry.level) {
        case 'TRACE': sdkLogger.trace(meta, entry.message); break;
        case 'DEBUG': sdkLogger.debug(meta, entry.message); break;
        case 'INFO': sdkLogger.info(meta, entry.message); break;
        case 'WARN': sdkLogger.warn(meta, entry.message); break;
        default: sdkLogger.error(meta, entry.message);
      }
    }),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: level === 'TRACE' ? 'TRACE' : 'WARN' }), forward: {} },
      ...(metricsPort ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}` } } } : {}),
    },
  });
  installed = true;
}
