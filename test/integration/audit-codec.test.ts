/**
 * Payload encryption on the real stack: workers and client with LIFEBOAT_PAYLOAD_KEY (the workflow
 * bundle built with the encoding failure converter). A restore (fake activities, real workflow
 * code) still works; a failing one still reports its message to the client; the server's raw
 * history (fetched without the codec) holds neither the input value, the results, nor the
 * failure message; `audit show` decodes it with the same keys; the codec server decodes it for
 * the UI (bearer token, CORS) and refuses without the token.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, Client, WorkflowFailedError } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { timelineOfRun } from '../../client/commands/audit';
import { FAILURE_CONVERTER_PATH, lifeboatDataConverter, payloadKeysOf } from '../../lib/codec/data-converter';
import { AesGcmPayloadCodec } from '../../lib/codec/payload-codec';
import { createCodecServer } from '../../lib/codec/server';
import type { Config } from '../../lib/config/load';
import { stackSettings } from '../../client/stack/settings';
import { CHROMIUM } from '../../client/stack/tools';
import { createWorkers, WORKFLOWS_PATH, type LifeboatWorkers } from '../../workers/worker';
import { historyText, testConfig, testLogger, uniqueQueues } from './helpers';

const MARKER = `codec-probe-${randomBytes(6).toString('hex')}`;
const BACKUP = `daily/${MARKER}_daily_20251017-010000.sql.gz.gpg`;
const FAILURE = `${MARKER} could not be fetched`;
/** What the page scripts touch (the test is compiled without the DOM library). */
interface Browser {
  localStorage: { setItem(key: string, value: string): void };
  document: { body: { innerText: string } };
}
const key = (id: string): string => `${id}:${randomBytes(32).toString('base64')}`;

describe('payload encryption (real Temporal)', () => {
  let config: Config;
  let env: TestWorkflowEnvironment;
  let workers: LifeboatWorkers;
  let running: Promise<void>;
  let client: Client;
  let okId: string;
  let failedId: string;
  const failFetch = { on: false };

  beforeAll(async () => {
    config = testConfig({ ...uniqueQueues(), LIFEBOAT_PAYLOAD_KEY: key('k2'), LIFEBOAT_PAYLOAD_KEYS: key('k1'), REMOTE_STORAGE: 'false' });
    const logger = testLogger();
    env = await TestWorkflowEnvironment.createFromExistingServer({ address: config.temporal.address, namespace: config.temporal.namespace });
    const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
    const started = Date.now();
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quiet });
    process.stdout.write(`bundle with the failure converter: ${Date.now() - started} ms\n`);
    const host = config.temporal.hostTaskQueue;
    const activityOverrides: Partial<Activities> = {
      describeBackupTarget: (async () => ({ database: 'corporate_intel', backupHostTaskQueue: host, remote: false, encrypted: true, compression: 'gzip', dumpFormat: 'plain' })) as unknown as Activities['describeBackupTarget'],
      findBackup: (async (input: { backup: string }) => ({ key: input.backup, kind: 'logical', tier: 'daily', database: 'corporate_intel', finishedAt: '2025-10-17T01:00:00Z', bytes: 1000, local: true, remote: false })) as unknown as Activities['findBackup'],
      fetchBackup: (async () => {
        if (failFetch.on) throw ApplicationFailure.nonRetryable(FAILURE, 'BackupNotFound');
        return { path: `/backups/${MARKER}.sql.gz.gpg`, source: 'local' };
      }) as unknown as Activities['fetchBackup'],
      restoreBackup: (async (input: { database: string }) => ({ database: input.database, seconds: 2, bytes: 1000 })) as unknown as Activities['restoreBackup'],
      checkRestoredDatabase: (async () => ({ ok: true, problems: [], tables: 4, rows: 100 })) as unknown as Activities['checkRestoredDatabase'],
      dropStagedDatabase: (async () => ({ dropped: true })) as unknown as Activities['dropStagedDatabase'],
    };
    workers = await createWorkers({ config, logger, connection: env.nativeConnection, workflowBundle, activityOverrides });
    running = workers.run();
    client = new Client({ connection: env.connection, namespace: config.temporal.namespace, identity: 'lifeboat-cli:codec@test', dataConverter: lifeboatDataConverter(config) });
  }, 300_000);
  afterAll(async () => {
    workers?.shutdown();
    await running;
    await env?.teardown();
  });

  /** The history as the server stores it: fetched with the raw service, no data converter. */
  const rawHistory = async (workflowId: string) =>
    (await client.workflowService.getWorkflowExecutionHistory({ namespace: config.temporal.namespace, execution: { workflowId } })).history;

  it('a restore with encrypted payloads works and returns its result in clear to the client', async () => {
    okId = `codec-ok-${Date.now()}`;
    const result = await client.workflow.execute('restoreDatabase', { taskQueue: workers.taskQueue, workflowId: okId, args: [{ backup: BACKUP }] });
    expect(result).toMatchObject({ backup: BACKUP });
  });

  it('a failing restore reports its failure message to the client (decoded)', async () => {
    failedId = `codec-failed-${Date.now()}`;
    failFetch.on = true;
    try {
      const error = await client.workflow.execute('restoreDatabase', { taskQueue: workers.taskQueue, workflowId: failedId, args: [{ backup: BACKUP }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const text = JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as Error & { cause?: Error }).cause?.message) + String(((error as Error & { cause?: Error & { cause?: Error } }).cause?.cause)?.message);
      expect(text).toContain(MARKER);
    } finally {
      failFetch.on = false;
    }
  });

  it('the server\'s histories hold neither the input, the results nor the failure message', async () => {
    for (const id of [okId, failedId]) {
      const raw = await rawHistory(id);
      const text = historyText(raw);
      expect(raw?.events?.length).toBeGreaterThan(10);
      expect(text).toContain(Buffer.from('binary/encrypted').toString('base64'));
      expect(text).not.toContain(Buffer.from('json/plain').toString('base64'));
      expect(text).not.toContain(MARKER);
      expect(text).not.toContain('corporate_intel');
    }
    // The failure message itself is replaced (encodeCommonAttributes).
    expect(historyText(await rawHistory(failedId))).toContain('Encoded failure');
  });

  it('audit show decodes with the keys: input, approval-free timeline, the failure message', async () => {
    const ok = await timelineOfRun(client, config, okId);
    expect(ok.input[0]).toEqual({ backup: BACKUP });
    expect(ok.startedBy.identity).toBe('lifeboat-cli:codec@test');
    const failed = await timelineOfRun(client, config, failedId);
    expect(failed.status).toBe('failed');
    expect(failed.activities.find((a) => a.activityType === 'fetchBackup')?.failure).toBe(`BackupNotFound: ${FAILURE}`);
    // Without the keys: readable structure, encrypted values.
    const blind = await timelineOfRun(client, { ...config, payloadEncryption: { key: undefined, oldKeys: [], codecServerToken: undefined } }, okId);
    expect(String(blind.input[0])).toMatch(/^<encrypted with key k2/);
    expect(blind.activities.map((a) => a.activityType)).toEqual(ok.activities.map((a) => a.activityType));
  });

  it('the codec server decodes for the UI with the bearer token (header or path), answers CORS, refuses without it', async () => {
    const token = randomBytes(12).toString('hex');
    const server = createCodecServer({ codec: new AesGcmPayloadCodec(payloadKeysOf(config)!), token, origins: ['http://localhost:8233'] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const started = (await rawHistory(okId))!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const body = JSON.stringify({ payloads: [{ metadata: Object.fromEntries(Object.entries(started.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(started.data!).toString('base64') }] });
      const post = (path: string, headers: Record<string, string>) => fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body });
      expect((await post('/decode', {})).status).toBe(401);
      expect((await post('/decode', { Authorization: 'Bearer wrong' })).status).toBe(401);
      for (const [path, headers] of [['/decode', { Authorization: `Bearer ${token}` }], [`/t/${token}/decode`, {}]] as const) {
        const res = await post(path, headers);
        expect(res.status).toBe(200);
        const [p] = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
        expect(Buffer.from(p!.metadata.encoding!, 'base64').toString()).toBe('json/plain');
        expect(JSON.parse(Buffer.from(p!.data, 'base64').toString())).toEqual({ backup: BACKUP });
      }
      const preflight = await fetch(`${base}/t/${token}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:8233', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
      const foreign = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      // Encode then decode round-trips (the UI starting a workflow with an encoded input).
      const plain = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from(JSON.stringify({ mode: 'drill' })).toString('base64') }] };
      const encoded = (await (await fetch(`${base}/encode`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(plain) })).json()) as typeof plain;
      expect(Buffer.from(encoded.payloads[0]!.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
      const back = (await (await fetch(`${base}/decode`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(encoded) })).json()) as typeof plain;
      expect(back).toEqual(plain);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('the Temporal UI (headless chromium) shows the decoded input through the codec server, and only ciphertext without it', async () => {
    // `npm test` installs it (`tools ensure --browser`): missing, the test fails rather than skips.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`lifeboat tools ensure --browser\``).toBe(true);
    const { chromium } = await import('playwright-core');
    const ui = `http://127.0.0.1:${stackSettings(process.env, 'test').ports.temporalUi}`;
    const token = randomBytes(12).toString('hex');
    const server = createCodecServer({ codec: new AesGcmPayloadCodec(payloadKeysOf(config)!), token, origins: [ui] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/t/${token}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = async (codec: string | null): Promise<string> => {
        const context = await browser.newContext();
        // The UI keeps its codec endpoint in localStorage ("endpoint", JSON), as its Data Encoder dialog saves it.
        if (codec) await context.addInitScript((value) => (globalThis as unknown as Browser).localStorage.setItem('endpoint', JSON.stringify(value)), codec);
        const tab = await context.newPage();
        await tab.goto(`${ui}/namespaces/${config.temporal.namespace}/workflows/${okId}`, { waitUntil: 'networkidle' });
        // With the codec: until the decoded value shows; without: until the run's page is there, plus time to decode.
        await tab.waitForFunction((text) => (globalThis as unknown as Browser).document.body.innerText.includes(text), codec ? MARKER : okId, { timeout: 20_000 }).catch(() => undefined);
        if (!codec) await tab.waitForTimeout(2000);
        const text = await tab.evaluate(() => (globalThis as unknown as Browser).document.body.innerText);
        await context.close();
        return text;
      };
      const started = Date.now();
      const decoded = await page(endpoint);
      process.stdout.write(`UI with the codec server: ${Date.now() - started} ms\n`);
      expect(decoded).toContain(BACKUP);
      const blind = await page(null);
      expect(blind).toContain(okId);
      expect(blind).not.toContain(MARKER);
    } finally {
      await browser.close();
      await new Promise((r) => server.close(r));
    }
  }, 120_000);
});
