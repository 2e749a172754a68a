/**
 * Brings up (or reuses) the test suite's own local stack: real Temporal dev server, PostgreSQL 15
 * and two MinIO servers on loopback, on ports apart from the developer's stack. Left running
 * afterwards so the next run starts in a second; `lifeboat stack down --test` stops it. A stack
 * whose servers are not all running (a killed run, a reboot) is discarded first and started afresh.
 */
import type { TestProject } from 'vitest/node';
import { stackSettings } from '../../client/stack/settings';
import { discardStaleTestStack, stackUp } from '../../client/stack/stack';

declare module 'vitest' {
  export interface ProvidedContext {
    stackEnvFile: string;
    stackDir: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const settings = stackSettings(process.env, 'test');
  const started = Date.now();
  const log = (line: string): boolean => process.stdout.write(`[test stack] ${line}\n`);
  await discardStaleTestStack(settings, log);
  const up = await stackUp(settings, log);
  process.stdout.write(`[test stack] ready in ${((Date.now() - started) / 1000).toFixed(1)} s (started: ${up.started.join(', ') || 'none'})\n`);
  project.provide('stackEnvFile', up.envFile);
  project.provide('stackDir', settings.dir);
}
