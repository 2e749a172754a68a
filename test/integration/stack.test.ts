import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { portOpen } from '../../client/stack/processes';
import { stackSettings } from '../../client/stack/settings';
import { discardStaleTestStack, stackDown, stackStatus, stackUp } from '../../client/stack/stack';
import { loadConfig } from '../../lib/config/load';
import { dnsProviderFromConfig } from '../../lib/dns/from-config';

/**
 * Every live process whose command line mentions `marker`. With `serversOnly`, children of those
 * processes are left out: a postmaster's freshly forked backends briefly carry its command line.
 */
function processesMentioning(marker: string, serversOnly = false): number[] {
  const found = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      const ppid = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      found.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  return [...found.entries()].filter(([, ppid]) => !serversOnly || !found.has(ppid)).map(([pid]) => pid).sort();
}

// A throwaway stack of its own (directory and ports apart from every other stack's, the production
// topology test's included), so the suite's shared stacks are untouched.
const base = process.getuid?.() === 0 ? '/var/lib/lifeboat' : tmpdir();
const dir = mkdtempSync(join(base, 'stack-lifecycle-'));
const settings = stackSettings({
  ...process.env,
  LIFEBOAT_STACK_DIR: dir,
  LIFEBOAT_STACK_TEMPORAL_PORT: '7283',
  LIFEBOAT_STACK_TEMPORAL_UI_PORT: '8283',
  LIFEBOAT_STACK_PG_PORT: '15492',
  LIFEBOAT_STACK_MINIO_SOURCE_PORT: '19050',
  LIFEBOAT_STACK_MINIO_SOURCE_CONSOLE_PORT: '19051',
  LIFEBOAT_STACK_MINIO_BACKUP_PORT: '19150',
  LIFEBOAT_STACK_MINIO_BACKUP_CONSOLE_PORT: '19151',
  LIFEBOAT_STACK_DNS_PORT: '15493',
});

describe('lifeboat stack up/down', () => {
  afterAll(async () => {
    await stackDown(settings);
    rmSync(dir, { recursive: true, force: true });
  });

  it('up starts every server once, a second up starts nothing, down leaves nothing behind', async () => {
    const first = await stackUp(settings, () => undefined);
    expect(first.started.sort()).toEqual(['bind', 'minio-backup', 'minio-source', 'postgres', 'temporal']);
    const status = await stackStatus(settings);
    expect(status.every((s) => s.running && s.answering)).toBe(true);
    const pids = status.map((s) => s.pid);
    const servers = processesMentioning(dir, true);
    expect(servers).toHaveLength(5);

    // BIND answers for the demo zone with the settings written to lifeboat.env, and takes updates.
    const config = loadConfig({ envFile: first.envFile, env: {} });
    expect(config.dns).toMatchObject({ provider: 'rfc2136', server: { host: '127.0.0.1', port: 15493 }, zone: 'lifeboat.test', record: 'db.lifeboat.test', drillRecord: 'drill.lifeboat.test' });
    const dns = dnsProviderFromConfig(config.dns)!;
    await dns.check();
    expect(await dns.current('db.lifeboat.test')).toEqual({ name: 'db.lifeboat.test', ttl: 60, records: [{ type: 'A', value: '127.0.0.1' }] });
    // The configuration files a config backup archives are the stack's own, and they exist.
    expect(config.configBackup.paths).toEqual([first.envFile, join(dir, 'postgres', 'data', 'postgresql.conf'), join(dir, 'postgres', 'data', 'pg_hba.conf')]);
    for (const file of config.configBackup.paths) expect(existsSync(file)).toBe(true);
    expect((await dns.switch('drill.lifeboat.test', '127.0.0.2')).changed).toBe(true);

    const second = await stackUp(settings, () => undefined);
    expect(second.started).toEqual([]);
    expect(second.alreadyRunning.sort()).toEqual(['bind', 'minio-backup', 'minio-source', 'postgres', 'temporal']);
    expect((await stackStatus(settings)).map((s) => s.pid)).toEqual(pids);
    expect(processesMentioning(dir, true)).toEqual(servers);

    // A restart keeps the zone's dynamic data (the journal) and the key.
    const stoppedBind = await stackDown(settings);
    expect(stoppedBind).toContain('bind');
    await stackUp(settings, () => undefined);
    expect((await dns.current('drill.lifeboat.test'))?.records).toEqual([{ type: 'A', value: '127.0.0.2' }]);

    // A test stack that runs is kept as it is.
    expect(await discardStaleTestStack(settings)).toBe(false);
    expect((await stackStatus(settings)).every((s) => s.running)).toBe(true);

    const stopped = await stackDown(settings);
    expect(stopped.sort()).toEqual(['bind', 'minio-backup', 'minio-source', 'postgres', 'temporal']);
    expect(processesMentioning(dir)).toEqual([]);
    for (const port of [7283, 15492, 19050, 19150, 15493]) expect(await portOpen('127.0.0.1', port)).toBe(false);
    expect(await stackDown(settings)).toEqual([]);
  });

  it('refuses to start on a port held by a process it did not start', async () => {
    const { createServer } = await import('node:net');
    const squatter = createServer();
    await new Promise<void>((resolve, reject) => {
      squatter.once('error', reject);
      squatter.listen(19150, '127.0.0.1', () => resolve());
    });
    try {
      await expect(stackUp(settings, () => undefined)).rejects.toThrow(/port 19150 needed by minio-backup is in use/);
      // The failed `up` stopped the three servers it had started, and left the squatter alone.
      expect(processesMentioning(dir)).toEqual([]);
      expect(await portOpen('127.0.0.1', 19150)).toBe(true);
    } finally {
      squatter.close();
    }
  });

  it('a test stack left stopped (a killed run, a reboot) is discarded, so the next up starts from nothing', async () => {
    // The previous cases left the directory with its state file and data, and nothing running.
    expect(existsSync(join(dir, 'stack.json'))).toBe(true);
    const lines: string[] = [];
    expect(await discardStaleTestStack(settings, (l) => lines.push(l))).toBe(true);
    expect(lines.join('\n')).toMatch(/not running: temporal, postgres, minio-source, minio-backup, bind/);
    expect(existsSync(dir)).toBe(false);
    expect(await discardStaleTestStack(settings)).toBe(false);
  });
});
