/**
 * The compiled archive_command's own Go tests (tools/wal-archive/main_test.go: segment and text
 * checks, archive, identical re-archive, conflict, bad input, BACKUP_ROOT lookup, racing archivers),
 * run with the Go toolchain that builds it. The same contract runs against the built binary and the
 * Node verb side by side in wal.test.ts. Skipped, with the reason, where Go is not installed.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const go = spawnSync('go', ['version'], { encoding: 'utf8' });
const hasGo = go.status === 0;
if (!hasGo) console.warn('wal-archive-go: skipped, go is not installed');

describe.skipIf(!hasGo)('tools/wal-archive: go test', () => {
  it('passes go vet and go test', { timeout: 300_000 }, () => {
    const dir = join(__dirname, '..', '..', 'tools', 'wal-archive');
    const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: process.env.GOFLAGS ?? '-buildvcs=false' };
    const vet = spawnSync('go', ['vet', './...'], { cwd: dir, env, encoding: 'utf8' });
    expect(vet.status, `${vet.stdout}${vet.stderr}`).toBe(0);
    const test = spawnSync('go', ['test', '-count=1', './...'], { cwd: dir, env, encoding: 'utf8' });
    expect(test.status, `${test.stdout}${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/^ok\s+lifeboat\/wal-archive/m);
  });
});
