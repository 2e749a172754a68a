/**
 * A workflow history (the JSON of `temporal workflow show -o json`, as exported by `audit export` or
 * fetched live) -> a timeline an auditor reads without knowing Temporal: who started the run and
 * with what input, each activity with its attempts, failures and duration, each child run, every
 * signal and update with the identity that sent it and its arguments (approvals: who, when, for
 * what), cancel and terminate requests with who asked, and the outcome.
 *
 * Pure and synchronous. Payloads must already be plain (`json/plain`, `binary/null`, ...): when the
 * payload codec is on, decode the history first (lib/codec/history.ts); a payload still encrypted is
 * shown as `<encrypted with key ...>` rather than failing, so a missing key never hides the rest.
 *
 * Attempts: Temporal writes an activity's STARTED event only for its last attempt, with that
 * attempt's number and the failure of the attempt before it; earlier failures are not in the history.
 */

/** A payload as it appears in history JSON (base64 metadata values and data). */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

interface JsonFailure {
  message?: string;
  source?: string;
  stackTrace?: string;
  encodedAttributes?: JsonPayload;
  cause?: JsonFailure;
  applicationFailureInfo?: { type?: string; nonRetryable?: boolean; details?: { payloads?: JsonPayload[] } };
  timeoutFailureInfo?: { timeoutType?: string };
  canceledFailureInfo?: unknown;
  terminatedFailureInfo?: unknown;
  activityFailureInfo?: { activityType?: { name?: string } };
  childWorkflowExecutionFailureInfo?: unknown;
}

/** One history event, loosely typed: only the fields the timeline reads. */
interface JsonEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

export type TimelineStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed out' | 'continued as new';

export interface TimelineActivity {
  activityId: string;
  activityType: string;
  scheduledAt: string;
  startedAt?: string;
  closedAt?: string;
  /** The attempt that closed it (1 = no retry). */
  attempts: number;
  status: 'scheduled' | 'running' | 'completed' | 'failed' | 'timed out' | 'cancelled';
  /** Scheduled to closed: every attempt and the backoff between them. */
  durationMs?: number;
  /** The closing attempt alone. */
  lastAttemptMs?: number;
  /** The worker that ran the closing attempt. */
  worker?: string;
  input?: unknown;
  result?: unknown;
  /** Why it failed (status failed / timed out). */
  failure?: string;
  /** Why the attempt before the last one failed (retried activities). */
  previousAttemptFailure?: string;
}

export interface TimelineChild {
  workflowType: string;
  workflowId: string;
  runId?: string;
  initiatedAt: string;
  closedAt?: string;
  status: TimelineStatus | 'start failed';
  failure?: string;
}

/** A signal or an Update sent to the run. */
export interface TimelineMessage {
  kind: 'signal' | 'update';
  name: string;
  at: string;
  /** The client identity Temporal recorded (`lifeboat-cli:<user>@<host>` for the CLI). */
  identity?: string;
  args: unknown[];
  /** Updates: when the workflow finished handling it, and its answer. */
  completedAt?: string;
  result?: unknown;
  failure?: string;
  /** Updates named approve*: the approval. */
  approval?: TimelineApproval;
}

export interface TimelineApproval {
  /** The approver named in the arguments (`approvedBy`), else the identity. */
  approver: string;
  identity?: string;
  at: string;
  /** What was approved: a step, or the name the approval had to confirm. */
  subject?: string;
}

export interface TimelineEntry {
  at: string;
  /** Milliseconds since the run started. */
  offsetMs: number;
  kind: 'started' | 'activity' | 'child' | 'signal' | 'update' | 'approval' | 'timer' | 'cancel requested' | 'terminated' | 'closed' | 'marker' | 'search attributes';
  text: string;
}

export interface Timeline {
  workflowType: string;
  workflowId: string;
  runId: string;
  taskQueue?: string;
  startedAt: string;
  closedAt?: string;
  durationMs?: number;
  status: TimelineStatus;
  startedBy: {
    identity?: string;
    /** The schedule that started it (TemporalScheduledById), when one did. */
    schedule?: string;
    /** The parent run, for child workflows. */
    parent?: { workflowId: string; runId?: string };
    /** Attempt > 1: a workflow retry; continuedFrom: the run this one continues. */
    attempt?: number;
    continuedFrom?: string;
  };
  input: unknown[];
  activities: TimelineActivity[];
  children: TimelineChild[];
  messages: TimelineMessage[];
  approvals: TimelineApproval[];
  cancelRequest?: { at: string; identity?: string; cause?: string };
  terminated?: { at: string; identity?: string; reason?: string };
  result?: unknown;
  failure?: string;
  /** Everything above in order, as lines. */
  entries: TimelineEntry[];
  events: number;
}

const b64 = (s: string | undefined): string => (s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8'));

/** One payload's value: JSON parsed, null, bytes counted, or a placeholder for a payload still encrypted. */
export function payloadValue(p: JsonPayload | undefined): unknown {
  if (!p) return undefined;
  const encoding = b64(p.metadata?.encoding);
  const data = p.data === undefined ? Buffer.alloc(0) : Buffer.from(p.data, 'base64');
  switch (encoding) {
    case 'json/plain':
      try {
        return JSON.parse(data.toString('utf8')) as unknown;
      } catch {
        return data.toString('utf8');
      }
    case 'binary/null':
      return null;
    case 'binary/plain':
      return `<${data.length} bytes>`;
    case 'binary/encrypted': {
      const keyId = b64(p.metadata?.['encryption-key-id']);
      return `<encrypted${keyId ? ` with key ${keyId}` : ''}: decode with LIFEBOAT_PAYLOAD_KEYS>`;
    }
    default:
      return `<${encoding || 'unknown encoding'}: ${data.length} bytes>`;
  }
}

const values = (payloads: { payloads?: JsonPayload[] } | undefined): unknown[] => (payloads?.payloads ?? []).map(payloadValue);

/** A failure (and its causes) as one line; encoded attributes (the codec's failure encoding) are read when decoded. */
export function failureText(f: JsonFailure | undefined): string | undefined {
  if (!f) return undefined;
  let message = f.message ?? '';
  const encoded = payloadValue(f.encodedAttributes);
  if (encoded && typeof encoded === 'object' && typeof (encoded as { message?: unknown }).message === 'string') message = (encoded as { message: string }).message;
  else if (typeof encoded === 'string' && encoded.startsWith('<encrypted')) message = `${message} ${encoded}`;
  const type = f.applicationFailureInfo?.type ?? (f.timeoutFailureInfo ? `timeout ${(f.timeoutFailureInfo.timeoutType ?? '').replace('TIMEOUT_TYPE_', '').toLowerCase()}` : undefined);
  // Activity and child failures wrap the real cause: show the cause.
  if ((f.activityFailureInfo || f.childWorkflowExecutionFailureInfo) && f.cause) return failureText(f.cause);
  const own = `${type ? `${type}: ` : ''}${message}`.trim();
  const cause = f.cause ? failureText(f.cause) : undefined;
  return cause ? `${own} (cause: ${cause})` : own;
}

const ms = (from: string | undefined, to: string | undefined): number | undefined =>
  from && to ? Math.max(0, new Date(to).getTime() - new Date(from).getTime()) : undefined;

const STATUS_OF: Record<string, TimelineStatus> = {
  EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: 'completed',
  EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: 'failed',
  EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: 'cancelled',
  EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: 'terminated',
  EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: 'timed out',
  EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: 'continued as new',
};
const CHILD_STATUS_OF: Record<string, TimelineStatus> = {
  EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: 'completed',
  EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: 'failed',
  EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: 'cancelled',
  EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: 'terminated',
  EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: 'timed out',
};

/** Short JSON for one-line display. */
export function brief(value: unknown, max = 160): string {
  const text = value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The approval an `approve*` Update carries: `approvedBy` when named, else the sender's identity. */
function approvalOf(name: string, args: unknown[], identity: string | undefined, at: string): TimelineApproval | undefined {
  if (!/^approve/i.test(name)) return undefined;
  const arg = (args[0] ?? {}) as { approvedBy?: unknown; step?: unknown; confirm?: unknown };
  const named = typeof arg.approvedBy === 'string' ? arg.approvedBy : undefined;
  const subject = typeof arg.step === 'string' ? `step ${arg.step}` : typeof arg.confirm === 'string' ? arg.confirm : undefined;
  return { approver: named ?? identity ?? 'unknown', ...(identity ? { identity } : {}), at, ...(subject ? { subject } : {}) };
}

/** The timeline of one run's history (`{ events: [...] }` as exported). */
export function buildTimeline(history: unknown): Timeline {
  const events = ((history as { events?: JsonEvent[] })?.events ?? []) as JsonEvent[];
  const first = events[0];
  if (!first || first.eventType !== 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED') throw new Error('not a workflow history: the first event is not WORKFLOW_EXECUTION_STARTED');
  const started = first.workflowExecutionStartedEventAttributes as {
    workflowType?: { name?: string };
    workflowId?: string;
    originalExecutionRunId?: string;
    taskQueue?: { name?: string };
    input?: { payloads?: JsonPayload[] };
    identity?: string;
    attempt?: number;
    parentWorkflowExecution?: { workflowId?: string; runId?: string };
    continuedExecutionRunId?: string;
    searchAttributes?: { indexedFields?: Record<string, JsonPayload> };
  };
  const t0 = first.eventTime;
  const schedule = payloadValue(started.searchAttributes?.indexedFields?.TemporalScheduledById);
  const timeline: Timeline = {
    workflowType: started.workflowType?.name ?? '?',
    workflowId: started.workflowId ?? '?',
    runId: started.originalExecutionRunId ?? '?',
    taskQueue: started.taskQueue?.name,
    startedAt: t0,
    status: 'running',
    startedBy: {
      identity: started.identity || undefined,
      ...(typeof schedule === 'string' ? { schedule } : {}),
      ...(started.parentWorkflowExecution?.workflowId ? { parent: { workflowId: started.parentWorkflowExecution.workflowId, runId: started.parentWorkflowExecution.runId } } : {}),
      ...(started.attempt && started.attempt > 1 ? { attempt: started.attempt } : {}),
      ...(started.continuedExecutionRunId ? { continuedFrom: started.continuedExecutionRunId } : {}),
    },
    input: values(started.input),
    activities: [],
    children: [],
    messages: [],
    approvals: [],
    entries: [],
    events: events.length,
  };
  const entry = (at: string, kind: TimelineEntry['kind'], text: string): void => {
    timeline.entries.push({ at, offsetMs: ms(t0, at) ?? 0, kind, text });
  };
  const by = timeline.startedBy;
  entry(t0, 'started', `started by ${by.identity ?? 'unknown'}${by.schedule ? ` (schedule ${by.schedule})` : ''}${by.parent ? ` as a child of ${by.parent.workflowId}` : ''} with ${brief(timeline.input.length === 1 ? timeline.input[0] : timeline.input)}`);

  const activities = new Map<string, TimelineActivity>();
  const children = new Map<string, TimelineChild>();
  const updates = new Map<string, TimelineMessage>();
  const activityLine = (a: TimelineActivity): string =>
    `activity ${a.activityType} ${a.status}${a.attempts > 1 ? ` after ${a.attempts} attempts` : ''}${a.durationMs !== undefined ? ` in ${(a.durationMs / 1000).toFixed(2)} s` : ''}${a.failure ? `: ${a.failure}` : ''}${a.previousAttemptFailure ? ` (attempt ${a.attempts - 1} failed: ${a.previousAttemptFailure})` : ''}`;

  for (const e of events) {
    const at = e.eventTime;
    switch (e.eventType) {
      case 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED': {
        const a = e.activityTaskScheduledEventAttributes as { activityId: string; activityType?: { name?: string }; input?: { payloads?: JsonPayload[] } };
        const activity: TimelineActivity = { activityId: a.activityId, activityType: a.activityType?.name ?? '?', scheduledAt: at, attempts: 1, status: 'scheduled', input: values(a.input)[0] };
        activities.set(e.eventId, activity);
        timeline.activities.push(activity);
        break;
      }
      case 'EVENT_TYPE_ACTIVITY_TASK_STARTED': {
        const a = e.activityTaskStartedEventAttributes as { scheduledEventId: string; attempt?: number; identity?: string; lastFailure?: JsonFailure };
        const activity = activities.get(a.scheduledEventId);
        if (activity) Object.assign(activity, { startedAt: at, attempts: a.attempt ?? 1, status: 'running', worker: a.identity, ...(a.lastFailure ? { previousAttemptFailure: failureText(a.lastFailure) } : {}) });
        break;
      }
      case 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED':
      case 'EVENT_TYPE_ACTIVITY_TASK_FAILED':
      case 'EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT':
      case 'EVENT_TYPE_ACTIVITY_TASK_CANCELED': {
        const key = Object.keys(e).find((k) => k.startsWith('activityTask') && k.endsWith('EventAttributes'))!;
        const a = e[key] as { scheduledEventId: string; result?: { payloads?: JsonPayload[] }; failure?: JsonFailure; retryState?: string };
        const activity = activities.get(a.scheduledEventId);
        if (!activity) break;
        activity.closedAt = at;
        activity.durationMs = ms(activity.scheduledAt, at);
        activity.lastAttemptMs = ms(activity.startedAt, at);
        activity.status = e.eventType.endsWith('COMPLETED') ? 'completed' : e.eventType.endsWith('FAILED') ? 'failed' : e.eventType.endsWith('TIMED_OUT') ? 'timed out' : 'cancelled';
        if (a.result) activity.result = values(a.result)[0];
        if (a.failure) activity.failure = failureText(a.failure);
        entry(at, 'activity', activityLine(activity));
        break;
      }
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED': {
        const a = e.startChildWorkflowExecutionInitiatedEventAttributes as { workflowId: string; workflowType?: { name?: string } };
        const child: TimelineChild = { workflowType: a.workflowType?.name ?? '?', workflowId: a.workflowId, initiatedAt: at, status: 'running' };
        children.set(e.eventId, child);
        timeline.children.push(child);
        break;
      }
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED': {
        const a = e.startChildWorkflowExecutionFailedEventAttributes as { initiatedEventId: string; cause?: string };
        const child = children.get(a.initiatedEventId);
        if (child) Object.assign(child, { status: 'start failed', closedAt: at, failure: a.cause });
        if (child) entry(at, 'child', `child ${child.workflowType} ${child.workflowId} could not start: ${a.cause ?? ''}`);
        break;
      }
      case 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED': {
        const a = e.childWorkflowExecutionStartedEventAttributes as { initiatedEventId: string; workflowExecution?: { runId?: string } };
        const child = children.get(a.initiatedEventId);
        if (child) child.runId = a.workflowExecution?.runId;
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED': {
        const a = e.workflowExecutionSignaledEventAttributes as { signalName: string; input?: { payloads?: JsonPayload[] }; identity?: string };
        const message: TimelineMessage = { kind: 'signal', name: a.signalName, at, identity: a.identity || undefined, args: values(a.input) };
        timeline.messages.push(message);
        entry(at, 'signal', `signal ${message.name} from ${message.identity ?? 'unknown'}: ${brief(message.args.length === 1 ? message.args[0] : message.args)}`);
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED': {
        const a = e.workflowExecutionUpdateAcceptedEventAttributes as { acceptedRequest?: { meta?: { updateId?: string; identity?: string }; input?: { name?: string; args?: { payloads?: JsonPayload[] } } } };
        const request = a.acceptedRequest ?? {};
        const name = request.input?.name ?? '?';
        const args = values(request.input?.args);
        const identity = request.meta?.identity || undefined;
        const approval = approvalOf(name, args, identity, at);
        const message: TimelineMessage = { kind: 'update', name, at, identity, args, ...(approval ? { approval } : {}) };
        updates.set(e.eventId, message);
        timeline.messages.push(message);
        if (approval) timeline.approvals.push(approval);
        entry(at, approval ? 'approval' : 'update', approval
          ? `approval (${name}) by ${approval.approver}${approval.identity && approval.identity !== approval.approver ? ` via ${approval.identity}` : ''}${approval.subject ? ` for ${approval.subject}` : ''}`
          : `update ${name} from ${identity ?? 'unknown'}: ${brief(args.length === 1 ? args[0] : args)}`);
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED': {
        const a = e.workflowExecutionUpdateCompletedEventAttributes as { acceptedEventId?: string; outcome?: { success?: { payloads?: JsonPayload[] }; failure?: JsonFailure } };
        const message = a.acceptedEventId ? updates.get(a.acceptedEventId) : undefined;
        if (!message) break;
        message.completedAt = at;
        if (a.outcome?.success) message.result = values(a.outcome.success)[0];
        if (a.outcome?.failure) message.failure = failureText(a.outcome.failure);
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED': {
        const a = e.workflowExecutionCancelRequestedEventAttributes as { cause?: string; identity?: string };
        timeline.cancelRequest = { at, identity: a.identity || undefined, cause: a.cause || undefined };
        entry(at, 'cancel requested', `cancellation requested by ${a.identity || 'unknown'}${a.cause ? `: ${a.cause}` : ''}`);
        break;
      }
      case 'EVENT_TYPE_TIMER_FIRED': {
        entry(at, 'timer', 'a timer fired');
        break;
      }
      case 'EVENT_TYPE_MARKER_RECORDED': {
        const a = e.markerRecordedEventAttributes as { markerName?: string };
        if (a.markerName === 'core_patch') entry(at, 'marker', 'code path chosen by patched()');
        else if (a.markerName === 'core_local_activity') entry(at, 'marker', 'local activity completed');
        break;
      }
      default: {
        if (CHILD_STATUS_OF[e.eventType]) {
          const key = Object.keys(e).find((k) => k.startsWith('childWorkflowExecution') && k.endsWith('EventAttributes'))!;
          const a = e[key] as { initiatedEventId: string; failure?: JsonFailure };
          const child = children.get(a.initiatedEventId);
          if (!child) break;
          Object.assign(child, { status: CHILD_STATUS_OF[e.eventType], closedAt: at, ...(a.failure ? { failure: failureText(a.failure) } : {}) });
          const took = ms(child.initiatedAt, at);
          entry(at, 'child', `child ${child.workflowType} ${child.workflowId} ${child.status}${took !== undefined ? ` in ${(took / 1000).toFixed(1)} s` : ''}${child.failure ? `: ${child.failure}` : ''}`);
        } else if (STATUS_OF[e.eventType]) {
          closeRun(timeline, e, at);
          entry(at, 'closed', `${timeline.status}${timeline.failure ? `: ${timeline.failure}` : ''}${timeline.result !== undefined ? ` with ${brief(timeline.result)}` : ''}`);
        }
        break;
      }
    }
  }
  return timeline;
}

function closeRun(timeline: Timeline, e: JsonEvent, at: string): void {
  timeline.status = STATUS_OF[e.eventType]!;
  timeline.closedAt = at;
  timeline.durationMs = ms(timeline.startedAt, at);
  const key = Object.keys(e).find((k) => k.startsWith('workflowExecution') && k.endsWith('EventAttributes'))!;
  const a = e[key] as { result?: { payloads?: JsonPayload[] }; failure?: JsonFailure; identity?: string; reason?: string; details?: { payloads?: JsonPayload[] }; newExecutionRunId?: string };
  if (a.result) timeline.result = values(a.result)[0];
  if (a.failure) timeline.failure = failureText(a.failure);
  if (e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED') {
    timeline.terminated = { at, identity: a.identity || undefined, reason: a.reason || undefined };
    timeline.failure = `terminated by ${a.identity || 'unknown'}${a.reason ? `: ${a.reason}` : ''}`;
  }
  if (e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW' && a.newExecutionRunId) timeline.result = { continuedAs: a.newExecutionRunId };
}

const clock = (iso: string): string => iso.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1Z');
const seconds = (msValue: number | undefined): string => (msValue === undefined ? '-' : msValue < 60_000 ? `${(msValue / 1000).toFixed(1)} s` : `${Math.floor(msValue / 60_000)} min ${Math.round((msValue % 60_000) / 1000)} s`);

/** The timeline as text for a terminal: a header, the approvals, then every entry in order. */
export function formatTimeline(t: Timeline): string {
  const lines = [
    `${t.workflowType}  ${t.workflowId}  run ${t.runId}`,
    `started    ${clock(t.startedAt)} by ${t.startedBy.identity ?? 'unknown'}${t.startedBy.schedule ? ` (schedule ${t.startedBy.schedule})` : ''}${t.startedBy.parent ? ` (child of ${t.startedBy.parent.workflowId})` : ''}`,
    `input      ${brief(t.input.length === 1 ? t.input[0] : t.input, 400)}`,
    `outcome    ${t.status}${t.closedAt ? ` at ${clock(t.closedAt)} after ${seconds(t.durationMs)}` : ''}`,
  ];
  if (t.failure) lines.push(`failure    ${t.failure}`);
  if (t.result !== undefined) lines.push(`result     ${brief(t.result, 400)}`);
  const failed = t.activities.filter((a) => a.status !== 'completed');
  const retried = t.activities.filter((a) => a.attempts > 1);
  lines.push(`activities ${t.activities.length} (${failed.length} not completed, ${retried.length} retried); children ${t.children.length}; signals/updates ${t.messages.length}; ${t.events} events`);
  for (const a of t.approvals) lines.push(`approval   ${a.approver}${a.identity && a.identity !== a.approver ? ` (${a.identity})` : ''} at ${clock(a.at)}${a.subject ? ` for ${a.subject}` : ''}`);
  lines.push('', 'time (UTC)                 +elapsed   what');
  for (const e of t.entries) lines.push(`${clock(e.at).padEnd(26)} ${`+${seconds(e.offsetMs)}`.padEnd(10)} ${e.text}`);
  return `${lines.join('\n')}\n`;
}
