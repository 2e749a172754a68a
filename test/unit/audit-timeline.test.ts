/**
 * lib/audit/timeline.ts on the committed real histories (test/replay/histories/), plus the parts no
 * committed run has (approvals, retries, encrypted payloads) added to a copy of a real history in
 * the exact JSON shape the server writes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTimeline, formatTimeline } from '../../lib/audit/timeline';
import { decodeHistoryJson, hasEncryptedPayloads } from '../../lib/codec/history';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/codec/payload-codec';

const DIR = join(__dirname, '..', 'replay', 'histories');
type Json = { events: Record<string, unknown>[] };
const load = (file: string): Json => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Json;
const b64 = (text: string): string => Buffer.from(text).toString('base64');
const jsonPayload = (value: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });

/** A copy of `history` with an accepted + completed Update inserted before the closing event. */
function withUpdate(history: Json, name: string, arg: unknown, identity: string, at: string): Json {
  const events = history.events.slice();
  const close = events.length - 1;
  const id = (n: number): string => String(Number(events[close]!.eventId) + n);
  const accepted = {
    eventId: id(0), eventTime: at, eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
    workflowExecutionUpdateAcceptedEventAttributes: { protocolInstanceId: 'u1', acceptedRequestMessageId: 'u1/request', acceptedRequestSequencingEventId: '1', acceptedRequest: { meta: { updateId: 'u1', identity }, input: { header: {}, name, args: { payloads: [jsonPayload(arg)] } } } },
  };
  const completed = {
    eventId: id(1), eventTime: at.replace(/\.\d+Z$/, '.900Z'), eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED',
    workflowExecutionUpdateCompletedEventAttributes: { meta: { updateId: 'u1' }, acceptedEventId: id(0), outcome: { success: { payloads: [jsonPayload('approved')] } } },
  };
  events.splice(close, 0, accepted, completed);
  return { events };
}

describe('audit timeline (lib/audit/timeline.ts)', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

  it.each(files)('%s: type, identity, input, every activity closed, entries in order, the result', (file) => {
    const t = buildTimeline(load(file));
    expect(t.workflowType).toBe(file.replace(/(\.[\w-]+)?\.json$/, ''));
    expect(t.status).toBe('completed');
    expect(t.startedBy.identity).toMatch(/@/);
    expect(t.input.length).toBeGreaterThan(0);
    expect(t.activities.length).toBeGreaterThan(0);
    for (const a of t.activities) {
      expect(a.status).toBe('completed');
      expect(a.attempts).toBe(1);
      expect(a.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(t.entries.map((e) => e.at)).toEqual([...t.entries.map((e) => e.at)].sort());
    expect(t.entries[0]!.kind).toBe('started');
    expect(t.entries.at(-1)!.kind).toBe('closed');
    expect(t.result).toBeDefined();
    expect(t.durationMs).toBe(new Date(t.closedAt!).getTime() - new Date(t.startedAt).getTime());
  });

  it('disasterRecovery: the drill\'s 12 activities and 3 child restores, no approval (the drill approved itself)', () => {
    const t = buildTimeline(load('disasterRecovery.json'));
    expect(t.activities).toHaveLength(12);
    expect(t.children.map((c) => [c.workflowType, c.status])).toEqual([['restorePointInTime', 'completed'], ['restoreBucket', 'completed'], ['restoreConfigFiles', 'completed']]);
    expect(t.approvals).toEqual([]);
    expect(t.input[0]).toMatchObject({ mode: 'drill', autoApprove: true });
    expect(formatTimeline(t)).toMatch(/child restorePointInTime .* completed in \d+\.\d s/);
  });

  it('restoreDatabase.progress-signals: each signal with the identity that sent it and its arguments', () => {
    const t = buildTimeline(load('restoreDatabase.progress-signals.json'));
    expect(t.messages).toHaveLength(3);
    expect(t.messages.map((m) => [m.kind, m.name, (m.args[0] as { stage: string }).stage])).toEqual([['signal', 'restoreProgress', 'checking'], ['signal', 'restoreProgress', 'loading'], ['signal', 'restoreProgress', 'loaded']]);
    expect(t.messages[0]!.identity).toBe('32158@vm');
  });

  it('restoreDatabase.approved (a real run): the approval by name, the CLI identity, its time, between the check and the replacement', () => {
    const t = buildTimeline(load('restoreDatabase.approved.json'));
    expect(t.approvals).toHaveLength(1);
    expect(t.approvals[0]).toMatchObject({ approver: 'Alice Example', identity: 'lifeboat-cli:alice@ops1', subject: 'corporate_intel' });
    const order = t.entries.map((e) => (e.kind === 'approval' ? 'approval' : e.text.split(' ').slice(0, 2).join(' ')));
    expect(order.indexOf('approval')).toBeGreaterThan(order.indexOf('activity checkRestoredDatabase'));
    expect(order.indexOf('approval')).toBeLessThan(order.indexOf('activity replaceDatabase'));
    expect(t.messages[0]).toMatchObject({ kind: 'update', name: 'approveReplace', result: expect.stringMatching(/^approved: /) });
    for (const a of t.activities) expect(a.worker).toMatch(/^lifeboat-worker@/);
  });

  it('an approval Update: who (approvedBy, else the identity), when, for what', () => {
    const at = '2026-12-03T10:41:37.123456Z';
    const restore = buildTimeline(withUpdate(load('restoreDatabase.json'), 'approveReplace', { confirm: 'corporate_intel' }, 'lifeboat-cli:alice@ops1', at));
    expect(restore.approvals).toEqual([{ approver: 'lifeboat-cli:alice@ops1', identity: 'lifeboat-cli:alice@ops1', at, subject: 'corporate_intel' }]);
    expect(restore.messages[0]).toMatchObject({ kind: 'update', name: 'approveReplace', result: 'approved', completedAt: '2026-12-03T10:41:37.900Z' });
    const text = formatTimeline(restore);
    expect(text).toContain('approval   lifeboat-cli:alice@ops1 at 2026-12-03 10:41:37.123Z for corporate_intel');

    const dr = buildTimeline(withUpdate(load('disasterRecovery.json'), 'approve', { step: 'dns', approvedBy: 'Alice Ops' }, 'lifeboat-cli:alice@ops1', at));
    expect(dr.approvals).toEqual([{ approver: 'Alice Ops', identity: 'lifeboat-cli:alice@ops1', at, subject: 'step dns' }]);
    expect(formatTimeline(dr)).toMatch(/approval \(approve\) by Alice Ops via lifeboat-cli:alice@ops1 for step dns/);
  });

  it('a retried and a failed activity: attempts, the previous attempt\'s failure, the final failure', () => {
    const h = load('health.json');
    const started = h.events.find((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_STARTED')!;
    Object.assign(started.activityTaskStartedEventAttributes as object, { attempt: 3, lastFailure: { message: 'connect ECONNREFUSED 127.0.0.1:5432', applicationFailureInfo: { type: 'Error' } } });
    const startedId = started.eventId;
    const completedAt = h.events.findIndex((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED' && (e.activityTaskCompletedEventAttributes as { startedEventId: string }).startedEventId === startedId);
    const completed = h.events[completedAt]!;
    const { scheduledEventId, startedEventId } = completed.activityTaskCompletedEventAttributes as { scheduledEventId: string; startedEventId: string };
    h.events[completedAt] = {
      eventId: completed.eventId, eventTime: completed.eventTime, eventType: 'EVENT_TYPE_ACTIVITY_TASK_FAILED',
      activityTaskFailedEventAttributes: { scheduledEventId, startedEventId, retryState: 'RETRY_STATE_NON_RETRYABLE_FAILURE', failure: { message: 'password authentication failed', applicationFailureInfo: { type: 'ConfigInvalid', nonRetryable: true } } },
    };
    const t = buildTimeline(h);
    expect(t.activities.filter((a) => a.status !== 'completed')).toHaveLength(1);
    expect(t.activities.find((a) => a.status === 'failed')).toMatchObject({ attempts: 3, status: 'failed', failure: 'ConfigInvalid: password authentication failed', previousAttemptFailure: 'Error: connect ECONNREFUSED 127.0.0.1:5432' });
    expect(formatTimeline(t)).toContain('failed after 3 attempts');
  });

  it('encrypted payloads: shown as encrypted without the key; with the key the same timeline as in clear', async () => {
    const keys = parsePayloadKeys(`k1:${Buffer.alloc(32, 7).toString('base64')}`)!;
    const codec = new AesGcmPayloadCodec(keys);
    const clear = load('backupDatabase.json');
    const encrypted = JSON.parse(JSON.stringify(clear, (key, value: unknown) => value)) as Json;
    // Encrypt every payload of the copy, as a worker with the codec would have.
    const encryptAll = async (v: unknown): Promise<unknown> => {
      if (Array.isArray(v)) return Promise.all(v.map(encryptAll));
      if (typeof v !== 'object' || v === null) return v;
      const o = v as { metadata?: Record<string, string>; data?: string };
      if (o.metadata?.encoding) {
        const [p] = await codec.encode([{ metadata: Object.fromEntries(Object.entries(o.metadata).map(([k, x]) => [k, Buffer.from(x, 'base64')])), data: Buffer.from(o.data ?? '', 'base64') }]);
        return { metadata: Object.fromEntries(Object.entries(p!.metadata!).map(([k, x]) => [k, Buffer.from(x).toString('base64')])), data: Buffer.from(p!.data!).toString('base64') };
      }
      return Object.fromEntries(await Promise.all(Object.entries(o).map(async ([k, x]) => [k, await encryptAll(x)] as const)));
    };
    const sealed = (await encryptAll(encrypted)) as Json;
    expect(hasEncryptedPayloads(sealed)).toBe(true);
    expect(JSON.stringify(sealed)).not.toContain(b64('json/plain'));
    expect(buildTimeline(sealed).input[0]).toBe('<encrypted with key k1: decode with LIFEBOAT_PAYLOAD_KEYS>');
    expect(buildTimeline(await decodeHistoryJson(sealed, codec))).toEqual(buildTimeline(clear));
  });

  it('refuses what is not a history', () => {
    expect(() => buildTimeline({ events: [] })).toThrow(/not a workflow history/);
  });
});
