/**
 * The Temporal UI explains itself (issue 14), tried as a new user would in a headless Chromium
 * (Debian's chromium + playwright-core) against the test stack's UI:
 * - a real daily backup (real workflow and activities; its off-site upload held open so it is
 *   still running) is found in the workflow list by its search attribute `LifeboatBackupId`, which
 *   the workflow upserted once the dump was named; its page shows the static summary, the static
 *   details (who started it, the CLI command that shows it) and the current details;
 * - `health` is started from the UI's Start Workflow form (one JSON payload) and completes.
 * Screenshots of each page land in test-results/ui/ (gitignored) as the test's artifacts.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { startBackupDatabase } from '../../client/commands/backup';
import { stackSettings } from '../../client/stack/settings';
import { CHROMIUM } from '../../client/stack/tools';
import { BACKUP_MEMO } from '../../client/start-options';
import { startTestWorker, type TestWorkerHandle } from './helpers';

const ARTIFACTS = join(__dirname, '..', '..', 'test-results', 'ui');
/** What the page scripts touch (the test is compiled without the DOM library). */
interface Browser {
  document: { body: { innerText: string } };
}
const bodyText = (): string => (globalThis as unknown as Browser).document.body.innerText;

describe('the Temporal UI explains itself (headless chromium)', () => {
  let worker: TestWorkerHandle;
  /** Releases the held upload, so the backup can finish. */
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  let uploading: () => void = () => {};
  const uploadStarted = new Promise<void>((r) => (uploading = r));

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    worker = await startTestWorker({
      overrides: { REMOTE_STORAGE: 'true' },
      activityOverrides: {
        // The off-site copy waits for the test (heartbeating), so the run is still going while the UI is looked at.
        uploadArtifact: (async () => {
          uploading();
          while (!(await Promise.race([held.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]))) Context.current().heartbeat();
          return { resumedParts: 0 };
        }) as unknown as Activities['uploadArtifact'],
      },
    });
  }, 180_000);
  let backupId: string | undefined;
  afterAll(async () => {
    release();
    // A failed run must not leave a backup running on a queue nobody polls any more.
    if (backupId) await worker.env.client.workflow.getHandle(backupId).terminate('ui test cleanup').catch(() => undefined);
    await worker?.stop();
  });

  it('finds a running backup by LifeboatBackupId, shows its summary and current details, and starts health from the form', async () => {
    // `npm test` installs it (`tools ensure --browser`): missing, the test fails rather than skips.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`lifeboat tools ensure --browser\``).toBe(true);
    const { config, taskQueue } = worker;
    const client = worker.env.client;
    const handle = await startBackupDatabase(client, config, 'daily', { taskQueue });
    backupId = handle.workflowId;
    await uploadStarted;

    // The workflow named its dump: memo and search attribute (upserted), visible to visibility.
    const described = await handle.describe();
    const key = described.memo?.[BACKUP_MEMO] as string;
    expect(key).toMatch(/^daily\/.+_daily_\d{8}-\d{6}\.sql\.(gz|zst)(\.gpg)?$/);
    expect(await described.staticSummary()).toBe(`PostgreSQL daily backup of ${config.db.name}`);
    const query = `LifeboatBackupId="${key}"`;
    for (let i = 0; i < 40; i++) {
      const found: string[] = [];
      for await (const w of client.workflow.list({ query })) found.push(w.workflowId);
      if (found.includes(handle.workflowId)) break;
      await new Promise((r) => setTimeout(r, 500));
    }

    const { chromium } = await import('playwright-core');
    const ui = `http://127.0.0.1:${stackSettings(process.env, 'test').ports.temporalUi}`;
    const ns = config.temporal.namespace;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();

      // 1. The workflow list, filtered by the search attribute as a user types it in the query box.
      await page.goto(`${ui}/namespaces/${ns}/workflows?query=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
      await page.waitForFunction((id) => (globalThis as unknown as Browser).document.body.innerText.includes(id), handle.workflowId, { timeout: 30_000 });
      await page.screenshot({ path: join(ARTIFACTS, '1-list-by-backup-id.png'), fullPage: true });
      const list = await page.evaluate(bodyText);
      expect(list).toContain(handle.workflowId);

      // 2. Its page: summary and details from the start, current details from the running workflow.
      await page.locator(`a[href*="/workflows/${handle.workflowId}/"]`).first().click();
      await page.waitForFunction((id) => (globalThis as unknown as Browser).document.body.innerText.includes(id), handle.workflowId, { timeout: 30_000 });
      // The summary, static details and current details are on the "User Metadata" tab.
      await page.getByText('User Metadata', { exact: true }).first().click();
      await page.waitForFunction(() => (globalThis as unknown as Browser).document.body.innerText.includes('off-site'), undefined, { timeout: 30_000 }).catch(() => undefined);
      await page.waitForTimeout(1000);
      await page.screenshot({ path: join(ARTIFACTS, '2-backup-running.png'), fullPage: true });
      // The UI renders summary and details (markdown) in frames of their own: read every frame.
      const run = (await Promise.all(page.frames().map((f) => f.evaluate(bodyText).catch(() => '')))).join('\n');
      writeFileSync(join(ARTIFACTS, '2-backup-running.txt'), run);
      expect(run).toContain(`PostgreSQL daily backup of ${config.db.name}`);
      expect(run).toContain('lifeboat backups list');
      expect(run).toMatch(/started by/i);
      // Current details: the step running now and the dump it made.
      expect(run).toContain('off-site (step 4 of 4)');
      expect(run).toContain(key);

      release();
      const result = await handle.result();
      backupId = undefined;
      expect(result.key).toBe(key);

      // 3. Start `health` from the Start Workflow form: id, task queue, type, one JSON payload.
      const healthId = `ui-health-${Date.now()}`;
      await page.goto(`${ui}/namespaces/${ns}/workflows/start-workflow`, { waitUntil: 'networkidle' });
      await page.fill('#workflowId', healthId);
      await page.fill('#taskQueue', taskQueue);
      await page.fill('#workflowType', 'health');
      await page.locator('.cm-content').first().click();
      await page.keyboard.insertText(JSON.stringify({ hostTaskQueue: config.temporal.hostTaskQueue }));
      // Leaving the editor formats the JSON (and moves the button): blur first, then start.
      await page.getByText('Start a Workflow', { exact: true }).first().click();
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(ARTIFACTS, '3-start-health-form.png'), fullPage: true });
      await page.getByTestId('start-workflow-button').click();
      // The form starts the run asynchronously, then opens its page.
      for (let i = 0; i < 20 && !(await client.workflow.getHandle(healthId).describe().then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 500));
      const report = (await client.workflow.getHandle(healthId).result()) as { workflowId: string; local?: { host: string } };
      expect(report.workflowId).toBe(healthId);
      expect(report.local?.host).toBeTruthy();
      await page.goto(`${ui}/namespaces/${ns}/workflows/${healthId}`, { waitUntil: 'networkidle' });
      await page.waitForFunction(() => /Completed/i.test((globalThis as unknown as Browser).document.body.innerText), undefined, { timeout: 30_000 });
      await page.screenshot({ path: join(ARTIFACTS, '4-health-completed.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 300_000);
});
