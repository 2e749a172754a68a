/**
 * A MinIO server Lifeboat starts on this machine: the embedded stack's "source" and "backup", and
 * the new MinIO of a DR `local` environment. Each runs detached (it outlives the process that
 * started it) with its data in <dir>/minio-<role>/data, which also marks it on its command line.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client as MinioClient } from 'minio';
import { startDaemon, waitUntil } from './processes';

export interface MinioServerOptions {
  binary: string;
  dir: string;
  /** Names its data and log: <dir>/minio-<role>/data, <dir>/logs/minio-<role>.log. */
  role: string;
  host: string;
  port: number;
  consolePort: number;
  rootUser: string;
  rootPassword: string;
}

export function minioPaths(dir: string, role: string): { data: string; log: string } {
  return { data: join(dir, `minio-${role}`, 'data'), log: join(dir, 'logs', `minio-${role}.log`) };
}

/** Command-line markers that identify this stack's MinIO of `role` in /proc. */
export function minioMarkers(binary: string, dir: string, role: string): string[] {
  return [binary, minioPaths(dir, role).data];
}

export function startMinio(options: MinioServerOptions): number {
  const paths = minioPaths(options.dir, options.role);
  mkdirSync(paths.data, { recursive: true });
  return startDaemon({
    command: options.binary,
    args: ['server', paths.data, '--address', `${options.host}:${options.port}`, '--console-address', `${options.host}:${options.consolePort}`, '--quiet'],
    env: {
      PATH: process.env.PATH,
      HOME: options.dir,
      MINIO_ROOT_USER: options.rootUser,
      MINIO_ROOT_PASSWORD: options.rootPassword,
      MINIO_BROWSER: 'on',
      MINIO_UPDATE: 'off',
    },
    logFile: paths.log,
  });
}

export async function waitForMinio(options: MinioServerOptions, stillRunning: () => boolean): Promise<void> {
  const url = `http://${options.host}:${options.port}/minio/health/ready`;
  await waitUntil(async () => (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok, {
    what: `minio (${options.role})`,
    timeoutMs: 60_000,
    logFile: minioPaths(options.dir, options.role).log,
    stillRunning,
  });
}

export function minioClient(options: Pick<MinioServerOptions, 'host' | 'port' | 'rootUser' | 'rootPassword'>): MinioClient {
  return new MinioClient({ endPoint: options.host, port: options.port, useSSL: false, accessKey: options.rootUser, secretKey: options.rootPassword });
}
