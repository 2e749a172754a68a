/**
 * Worker processes: one NativeConnection, a worker on the general task queue (workflows and
 * activities) and one on this host's pinned queue (activities that need this host's disk).
 * The Runtime (logger, metrics) must be installed before this is called (workers/runtime.ts).
 * This is the composition root: the activities' dependencies (stores, key ring, PostgreSQL tools,
 * notifier, DR providers) are built here once (lib/deps.ts) and handed to createActivities.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type Activities } from '../activities';
import type { Config } from '../lib/config/load';
import { temporalConnectionOptions } from '../lib/config/temporal';
import { lifeboatDataConverter } from '../lib/codec/data-converter';
import { buildDeps, type Deps } from '../lib/deps';
import type { Logger } from '../lib/logger';
import { workerIdentity } from '../lib/temporal-client';

export const WORKFLOWS_PATH = join(__dirname, '..', 'workflows');
/** Pre-built by scripts/bundle-workflows.js after tsc (dist/workflow-bundle.js). */
export const WORKFLOW_BUNDLE_PATH = join(__dirname, '..', 'workflow-bundle.js');
/** The same with the failure converter of payload encryption built in (scripts/bundle-workflows.js). */
export const WORKFLOW_CODEC_BUNDLE_PATH = join(__dirname, '..', 'workflow-bundle-codec.js');

export interface LifeboatWorkerOptions {
  config: Config;
  logger: Logger;
  /** Reuse a connection (tests); otherwise one is opened to config.temporal.address. */
  connection?: NativeConnection;
  /** Override the queues (tests use unique ones). */
  taskQueue?: string;
  hostTaskQueue?: string;
  /** A pre-built workflow bundle (tests build it once); otherwise workflows/ is bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Replace some dependencies (stores, key ring, providers, ...) of every activity. */
  deps?: Partial<Omit<Deps, 'config' | 'logger'>>;
  /** Replace some activities (workflow tests that swap chosen parts). */
  activityOverrides?: Partial<Activities>;
}

export interface LifeboatWorkers {
  workers: Worker[];
  connection: NativeConnection;
  taskQueue: string;
  hostTaskQueue: string;
  /** Resolves when every worker has stopped (after shutdown() or a signal). */
  run(): Promise<void>;
  shutdown(): void;
}

export async function connectWorker(config: Config): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config));
}

export async function createWorkers(options: LifeboatWorkerOptions): Promise<LifeboatWorkers> {
  const { config, logger } = options;
  const ownConnection = !options.connection;
  const connection = options.connection ?? (await connectWorker(config));
  const taskQueue = options.taskQueue ?? config.temporal.taskQueue;
  const hostTaskQueue = options.hostTaskQueue ?? config.temporal.hostTaskQueue;
  const deps = buildDeps(config, logger, options.deps);
  const activities = { ...createActivities(deps), ...options.activityOverrides };
  // Heartbeat details are checkpoints (e.g. uploaded parts): send them at least every 3 s rather
  // than the SDK's default of 80% of the heartbeat timeout, so a retry resumes from recent progress.
  // Payload encryption (LIFEBOAT_PAYLOAD_KEY): the codec, and failure messages encoded. The failure
  // converter lives inside the workflow bundle: the pre-built codec bundle, else workflows/ bundled
  // at start with the converter, unless a test hands in its own bundle.
  const dataConverter = lifeboatDataConverter(config);
  const prebuilt = dataConverter ? WORKFLOW_CODEC_BUNDLE_PATH : WORKFLOW_BUNDLE_PATH;
  const common = {
    connection,
    ...(dataConverter ? { dataConverter } : {}),
    namespace: config.temporal.namespace,
    identity: workerIdentity(),
    activities,
    shutdownGraceTime: '10 seconds' as const,
    maxConcurrentActivityTaskExecutions: 8,
    maxHeartbeatThrottleInterval: '3 seconds' as const,
  };
  const general = await Worker.create({
    ...common,
    taskQueue,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : existsSync(prebuilt)
        ? { workflowBundle: { codePath: prebuilt } }
        : { workflowsPath: WORKFLOWS_PATH }),
  });
  const pinned = await Worker.create({ ...common, taskQueue: hostTaskQueue });
  const workers = [general, pinned];
  logger.info({ taskQueue, hostTaskQueue, namespace: config.temporal.namespace, payloadEncryption: dataConverter !== undefined }, 'workers ready');
  return {
    workers,
    connection,
    taskQueue,
    hostTaskQueue,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await deps.temporal.close();
        if (ownConnection) await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
