/** The CLI's waiting and output helpers: retry notes from pending activities, Temporal-unreachable mapping, durations. */
import { msNumberToTs } from '@temporalio/common/lib/time';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, describeError, isTemporalUnreachable } from '../../client/exit-codes';
import { backupDurationSeconds, formatDuration } from '../../client/format';
import { describeRetries } from '../../client/progress';
import { ServiceUnavailable } from '../../lib/errors';

const ts = msNumberToTs;

describe('describeRetries', () => {
  const now = Date.parse('2025-10-17T02:00:00Z');
  it('names the activity, the attempt, when it runs next and why it failed (with causes)', () => {
    const lines = describeRetries([
      { activityId: '1', activityType: { name: 'probeMinio' }, attempt: 3, maximumAttempts: 5, nextAttemptScheduleTime: ts(now + 4000), lastFailure: { message: 'object storage at http://x is unreachable', cause: { message: 'ECONNREFUSED' } } },
      { activityId: '2', activityType: { name: 'dumpDatabase' }, attempt: 1, maximumAttempts: 0 },
      { activityId: '3', activityType: { name: 'uploadCopy' }, attempt: 2, maximumAttempts: 0, lastFailure: { message: 'slow down' } },
    ] as never, now);
    expect(lines).toEqual([
      { key: '1#3', line: 'retrying probeMinio (attempt 3/5, next in 4 s): object storage at http://x is unreachable: ECONNREFUSED' },
      { key: '3#2', line: 'retrying uploadCopy (attempt 2): slow down' },
    ]);
  });
});

describe('Temporal unreachable', () => {
  it('exits 3 with a hint naming TEMPORAL_ADDRESS', () => {
    const error = new Error('Failed to connect before the deadline');
    expect(isTemporalUnreachable(error)).toBe(true);
    expect(exitCodeFor(error)).toBe(EXIT.unavailable);
    expect(describeError(error)).toMatch(/^cannot reach the temporal server \(TEMPORAL_ADDRESS\): failed to connect before the deadline\nhint: .*TEMPORAL_ADDRESS/);
    expect(exitCodeFor(Object.assign(new Error('wrapped'), { cause: { code: 14, message: 'unavailable' } }))).toBe(EXIT.unavailable);
  });
  it('leaves other failures alone', () => {
    expect(isTemporalUnreachable(new Error('boom'))).toBe(false);
    expect(isTemporalUnreachable(new ServiceUnavailable('minio down'))).toBe(false);
    expect(exitCodeFor(new Error('boom'))).toBe(EXIT.failed);
  });
});

describe('durations', () => {
  it('come from durationSeconds, else finished - started', () => {
    expect(backupDurationSeconds({ durationSeconds: 12.5 })).toBe(12.5);
    expect(backupDurationSeconds({ startedAt: '2025-01-01T02:00:00Z', finishedAt: '2025-01-01T02:01:30Z' })).toBe(90);
    expect(backupDurationSeconds({})).toBeUndefined();
    expect([formatDuration(4.25), formatDuration(42), formatDuration(185), formatDuration(3720), formatDuration(undefined)]).toEqual(['4.3s', '42s', '3m 05s', '1h 02m', '-']);
  });
});
