import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { runHealthWorkflow } from '../../client/commands/health';
import { historyText, startTestWorker, type TestWorkerHandle } from './helpers';

describe('health workflow on the real stack', () => {
  let handle: TestWorkerHandle;
  beforeAll(async () => {
    handle = await startTestWorker();
  });
  afterAll(async () => {
    await handle?.stop();
  });

  it('reaches PostgreSQL, both MinIO servers and the host-pinned queue', async () => {
    const report = await runHealthWorkflow(handle.env.client, handle.config, handle.workers.taskQueue, handle.workers.hostTaskQueue);
    expect(report.postgres.version).toMatch(/^15\./);
    expect(report.postgres.database).toBe('corporate_intel');
    expect(report.postgres.databaseSizeBytes).toBeGreaterThan(1_000_000);
    expect(report.minioSource.endpoint).toBe(handle.config.minio.source.endpoint);
    if (report.minioSource.endpoint === null || report.minioBackup.endpoint === null) throw new Error('minio not configured');
    expect(report.minioSource.version).not.toBe('unknown');
    expect(report.minioSource.buckets).toEqual(expect.arrayContaining(['company-data', 'embeddings', 'user-uploads']));
    expect(report.minioBackup.buckets).toContain('corporate-intel-backups');
    expect(report.local?.exists).toBe(true);
    expect(report.local?.freeBytes).toBeGreaterThan(0);
  });

  it('fails fast and without retries on a wrong password, and the password is not in the history', async () => {
    const wrong = 'not-the-password-7f3a9c';
    const bad = await startTestWorker({ overrides: { PGPASSWORD: wrong } });
    try {
      const started = Date.now();
      const workflow = await bad.env.client.workflow.start('health', {
        taskQueue: bad.workers.taskQueue,
        workflowId: `health-badpw-${Date.now()}`,
        args: [{ hostTaskQueue: bad.workers.hostTaskQueue }],
      });
      const error = await workflow.result().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause?.cause as { type?: string; message?: string } | undefined;
      expect(cause?.type).toBe('AuthenticationFailed');
      expect(cause?.message).toMatch(/rejected user "postgres"/);
      expect(Date.now() - started).toBeLessThan(15_000);
      // Neither the wrong password we configured nor the real one appears anywhere in the history.
      const history = historyText(await workflow.fetchHistory());
      expect(history).toContain('AuthenticationFailed');
      expect(history).not.toContain(wrong);
      expect(history).not.toContain(handle.config.db.password);
    } finally {
      await bad.stop();
    }
  });
});
