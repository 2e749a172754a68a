import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor } from '../../client/exit-codes';
import {
  ArtifactIncomplete, AuthenticationFailed, BackupNotFound, ChecksumMismatch, ConfigInvalid, ConflictingArtifact, DiskFull, ERROR_CLASSES, InputInvalid,
  KeyUnavailable, OperationRefused, PrerequisiteMissing, ServiceUnavailable, StackFailed, ToolFailed,
} from '../../lib/errors';
import { invalidInput, permanentFailure } from '../../workflows/failures';

/** The documented exit codes (README "Exit codes"); scripts rely on them, so this table is fixed. */
const EXPECTED: [string, number][] = [
  ['ConfigInvalid', 2], ['InputInvalid', 2], ['ServiceUnavailable', 3], ['AuthenticationFailed', 3], ['PrerequisiteMissing', 4], ['StackFailed', 4],
  ['OperationRefused', 5], ['ChecksumMismatch', 6], ['ArtifactIncomplete', 6], ['BackupNotFound', 6], ['KeyUnavailable', 6], ['ConflictingArtifact', 6],
  ['DiskFull', 1], ['ToolFailed', 1],
];

const failed = (cause: Error): WorkflowFailedError => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);

describe('exit codes', () => {
  it('each error class carries its documented exit code', () => {
    expect(ERROR_CLASSES.map((c) => [c.name, c.exitCode]).sort()).toEqual([...EXPECTED].sort());
  });

  it('maps thrown errors by their class', () => {
    const errors = [
      new ConfigInvalid([]), new InputInvalid('x', 'bad'), new ServiceUnavailable('down'), new AuthenticationFailed('no'), new PrerequisiteMissing('gone'), new StackFailed('died'),
      new OperationRefused('no'), new ChecksumMismatch('bad'), new ArtifactIncomplete('short'), new BackupNotFound('none'), new KeyUnavailable('key'), new ConflictingArtifact('other'),
      new DiskFull('full'), new ToolFailed('exit 1', true),
    ];
    expect(errors.map((e) => [e.name, exitCodeFor(e)]).sort()).toEqual([...EXPECTED].sort());
  });

  it('maps workflow failures by their type, found anywhere in the cause chain', () => {
    for (const [type, code] of EXPECTED.filter(([, c]) => c !== EXIT.failed)) {
      expect(exitCodeFor(failed(ApplicationFailure.nonRetryable('m', type))), type).toBe(code);
      const viaActivity = new ActivityFailure('activity failed', 'a', '1', RetryState.NON_RETRYABLE_FAILURE, undefined, ApplicationFailure.nonRetryable('m', type));
      expect(exitCodeFor(failed(viaActivity)), type).toBe(code);
    }
    expect(exitCodeFor(failed(ApplicationFailure.retryable('m', 'DiskFull')))).toBe(1);
    expect(exitCodeFor(failed(ApplicationFailure.nonRetryable('m', 'SomethingElse')))).toBe(1);
    expect(exitCodeFor(failed(ApplicationFailure.nonRetryable('m', 'constructor')))).toBe(1);
    expect(exitCodeFor(new Error('plain'))).toBe(1);
    expect(exitCodeFor(Object.assign(new Error('x'), { code: 'commander.unknownOption' }))).toBe(2);
  });

  it('workflow failures are typed by the class names', () => {
    const failure = invalidInput('tier: must be daily, weekly or monthly');
    expect(failure).toMatchObject({ type: 'InputInvalid', nonRetryable: true, message: 'tier: must be daily, weekly or monthly' });
    expect(permanentFailure(ChecksumMismatch, 'm')).toMatchObject({ type: 'ChecksumMismatch', nonRetryable: true });
    expect(exitCodeFor(failed(failure))).toBe(2);
  });
});
