/**
 * A throwaway BIND 9 for a test file: its own directory and free port, the same server code as the
 * embedded stack (client/stack/bind-server.ts), and a `stop()` that leaves no process, port or file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindPaths, startBind, waitForBind, type BindRecord, type BindServerOptions } from '../../client/stack/bind-server';
import { isOurProcess, stopProcess } from '../../client/stack/processes';
import { findSbin } from '../../client/stack/tools';
import { Rfc2136Provider, type Rfc2136Settings } from '../../lib/dns/rfc2136';
import { freePort } from '../free-port';

export interface TestBind {
  dir: string;
  host: string;
  port: number;
  zone: string;
  /** The key the zone allows to update it. */
  keyFile: string;
  /** Key files named knows but the zone does not allow (from `otherKeys`). */
  otherKeyFile(name: string): string;
  pid: number;
  markers: string[];
  /** Milliseconds from spawn to the first successful signed no-op update. */
  startMs: number;
  /** A provider for this server; `overrides` change chosen settings (a wrong key, another zone). */
  provider(overrides?: Partial<Rfc2136Settings>): Rfc2136Provider;
  /** `dig +short <name> <type>` against this server, lines sorted. */
  dig(name: string, type?: string): string[];
  /** The zone's SOA serial (goes up by one per applied update). */
  serial(): number;
  stop(): Promise<void>;
}

export async function startTestBind(options: { zone?: string; records?: BindRecord[]; otherKeys?: string[] } = {}): Promise<TestBind> {
  const named = findSbin('named');
  const tsigKeygen = findSbin('tsig-keygen');
  if (!named || !tsigKeygen) throw new Error('BIND 9 is not installed: apt-get install -y bind9 bind9-dnsutils (or run `npx lifeboat tools ensure`)');
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bind-'));
  const host = '127.0.0.1';
  const port = await freePort();
  const zone = options.zone ?? 'lifeboat.test';
  const server: BindServerOptions = { named, tsigKeygen, dir, host, port, zone, records: options.records, otherKeys: options.otherKeys };
  const markers = [named, bindPaths(dir).conf];
  const started = Date.now();
  const pid = startBind(server);
  try {
    await waitForBind(server, () => isOurProcess(pid, markers));
  } catch (error) {
    await stopProcess(pid);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const startMs = Date.now() - started;
  const keyFile = bindPaths(dir).keyFile;
  const dig = (name: string, type = 'A'): string[] => {
    const result = spawnSync('dig', [`@${host}`, '-p', String(port), '+short', '+norecurse', name, type], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`dig failed: ${result.stderr}${result.stdout}`);
    return result.stdout.split('\n').filter(Boolean).sort();
  };
  return {
    dir, host, port, zone, keyFile, pid, markers, startMs,
    otherKeyFile: (name) => join(bindPaths(dir).root, `${name}.key`),
    provider: (overrides = {}) => new Rfc2136Provider({ server: { host, port }, zone, keyFile, ttl: 60, timeoutSeconds: 5, ...overrides }),
    dig,
    serial: () => Number(dig(zone, 'SOA')[0]!.split(' ')[2]),
    async stop() {
      await stopProcess(pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
