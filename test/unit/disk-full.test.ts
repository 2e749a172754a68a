import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toFailure } from '../../activities/failure';
import { diskFullError } from '../../lib/disk-full';
import { DiskFull, ToolFailed } from '../../lib/errors';

const enospc = (extra: Record<string, unknown> = {}): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write', ...extra });

describe('disk-full errors', () => {
  it('name the path and the free space of its file system', () => {
    const file = join(tmpdir(), 'no-such-dir', 'daily', 'x.sql.zst.gpg');
    const error = diskFullError(enospc(), file);
    expect(error).toBeInstanceOf(DiskFull);
    expect(error!.message).toMatch(new RegExp(`^no space left on device writing ${file} \\(write\\): [\\d.]+ (bytes|KiB|MiB|GiB|TiB) free of [\\d.]+ \\w+ on the file system of ${tmpdir()}$`));
    expect(error!.hint).toMatch(/free space/);
    expect(error!.permanent).toBe(false);
  });
  it("prefer the error's own path (open, mkdir)", () => {
    expect(diskFullError(enospc({ syscall: 'open', path: '/tmp/a/b' }), '/elsewhere')!.message).toMatch(/^no space left on device writing \/tmp\/a\/b \(open\)/);
  });
  it('are found in causes, and other errors are left alone', () => {
    expect(diskFullError(new Error('pipeline failed', { cause: enospc({ path: '/tmp/x' }) }))).toBeInstanceOf(DiskFull);
    expect(diskFullError(new Error('ECONNRESET'), '/tmp/x')).toBeUndefined();
    expect(diskFullError(enospc())).toBeUndefined();
  });
  it('become retryable DiskFull failures in activities, naming BACKUP_ROOT when the system names no file', () => {
    const failure = toFailure(enospc(), [], '/tmp') as Error & { type?: string; nonRetryable?: boolean };
    expect(failure.type).toBe('DiskFull');
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toMatch(/^no space left on device \(write; the system did not name the file, most likely under \/tmp\): .* free of /);
    // A permanent domain error keeps its class.
    expect((toFailure(new ToolFailed('tool failed', true), [], '/tmp') as Error & { type?: string }).type).toBe('ToolFailed');
  });
});
