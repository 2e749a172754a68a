/**
 * A real BIND 9 (`named` from Debian's bind9) on loopback, primary for one zone that accepts
 * dynamic updates signed with one TSIG key: the DNS server the DR runbook switches in the embedded
 * stack (`lifeboat stack up`) and in the tests. Everything lives in `<dir>/bind` (named.conf, the key
 * written by `tsig-keygen`, the zone file and its journal, the pid and session-key files); named runs
 * in the foreground (`-g`, log to stderr -> the stack's log file), so stopping its pid and removing
 * the directory leaves nothing behind. No rndc control channel, no recursion, no IPv6 listener.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rfc2136Provider } from '../../lib/dns/rfc2136';
import { startDaemon, run, waitUntil } from './processes';

export const STACK_DNS_ZONE = 'lifeboat.test';
export const STACK_DNS_KEY_NAME = 'lifeboat-dr';

export interface BindRecord {
  /** Relative to the zone (`db`) or fully qualified with a trailing dot. */
  name: string;
  type: 'A' | 'AAAA' | 'CNAME' | 'TXT';
  value: string;
}

export interface BindServerOptions {
  /** The named binary (Debian: /usr/sbin/named). */
  named: string;
  /** tsig-keygen (Debian: /usr/sbin/tsig-keygen, from the bind9 package). */
  tsigKeygen: string;
  /** Parent directory; BIND's files go to `<dir>/bind`. */
  dir: string;
  host: string;
  port: number;
  /** The zone it is primary for (default lifeboat.test). */
  zone?: string;
  /** The TSIG key allowed to update the zone (default lifeboat-dr). */
  keyName?: string;
  /** Records of a new zone file (an existing zone keeps its data, journal included). */
  records?: BindRecord[];
  /** Log file for named's output; default `<dir>/bind/named.log`. */
  logFile?: string;
  /** More keys named knows but the zone does not allow (tests of a refused key); in `<dir>/bind/<name>.key`. */
  otherKeys?: string[];
}

export interface BindPaths {
  root: string;
  conf: string;
  keyFile: string;
  zoneFile: string;
  pidFile: string;
  log: string;
}

export function bindPaths(dir: string, logFile?: string): BindPaths {
  const root = join(dir, 'bind');
  return {
    root,
    conf: join(root, 'named.conf'),
    keyFile: join(root, 'tsig.key'),
    zoneFile: join(root, 'zone.db'),
    pidFile: join(root, 'named.pid'),
    log: logFile ?? join(root, 'named.log'),
  };
}

/** Command-line markers of this directory's named in /proc (the binary and its named.conf). */
export function bindMarkers(named: string, dir: string): string[] {
  return [named, bindPaths(dir).conf];
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/**
 * Write the key (once: an existing key is kept, so clients configured with it keep working), the
 * zone file (once: dynamic updates live in its journal) and named.conf (every time: ports may move).
 */
export function prepareBind(options: BindServerOptions): BindPaths {
  const paths = bindPaths(options.dir, options.logFile);
  const zone = options.zone ?? STACK_DNS_ZONE;
  const keyName = options.keyName ?? STACK_DNS_KEY_NAME;
  mkdirSync(paths.root, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.keyFile)) {
    writeFileSync(paths.keyFile, run(options.tsigKeygen, ['-a', 'hmac-sha256', keyName]), { mode: 0o600 });
  }
  const otherKeyFiles = (options.otherKeys ?? []).map((name) => {
    const file = join(paths.root, `${name}.key`);
    if (!existsSync(file)) writeFileSync(file, run(options.tsigKeygen, ['-a', 'hmac-sha256', name]), { mode: 0o600 });
    return file;
  });
  if (!existsSync(paths.zoneFile)) {
    const records = (options.records ?? []).map((r) => `${r.name}\tIN\t${r.type}\t${r.type === 'TXT' ? quote(r.value) : r.value}`);
    writeFileSync(
      paths.zoneFile,
      [
        `$ORIGIN ${zone}.`,
        '$TTL 60',
        `@\tIN\tSOA\tns.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
        `@\tIN\tNS\tns.${zone}.`,
        `ns\tIN\tA\t${options.host.includes(':') ? '127.0.0.1' : options.host}`,
        ...records,
        '',
      ].join('\n'),
    );
  }
  const listen = options.host.includes(':')
    ? [`listen-on { none; };`, `listen-on-v6 port ${options.port} { ${options.host}; };`]
    : [`listen-on port ${options.port} { ${options.host}; };`, 'listen-on-v6 { none; };'];
  writeFileSync(
    paths.conf,
    [
      `// Written by Lifeboat for a loopback BIND 9 (${zone}); rewritten at each start.`,
      `include ${quote(paths.keyFile)};`,
      ...otherKeyFiles.map((file) => `include ${quote(file)};`),
      'options {',
      `  directory ${quote(paths.root)};`,
      `  pid-file ${quote(paths.pidFile)};`,
      `  session-keyfile ${quote(join(paths.root, 'session.key'))};`,
      `  managed-keys-directory ${quote(paths.root)};`,
      ...listen.map((l) => `  ${l}`),
      '  recursion no;',
      '  dnssec-validation no;',
      '  notify no;',
      '  minimal-responses yes;',
      '};',
      'controls { };',
      `zone ${quote(zone)} {`,
      '  type primary;',
      `  file ${quote(paths.zoneFile)};`,
      `  allow-update { key ${quote(keyName)}; };`,
      '};',
      '',
    ].join('\n'),
  );
  return paths;
}

/** Start named in the foreground as a detached daemon; returns its pid. */
export function startBind(options: BindServerOptions): number {
  const paths = prepareBind(options);
  // -g: foreground, log to stderr (the log file). -n 1: one worker thread is plenty on loopback.
  // Not -u: as root named keeps root, which owns <dir>/bind; as a user it runs as that user.
  return startDaemon({ command: options.named, args: ['-g', '-n', '1', '-c', paths.conf], logFile: paths.log, cwd: paths.root });
}

/** Wait until named answers authoritatively for the zone and accepts an update signed with the key. */
export async function waitForBind(options: BindServerOptions, stillRunning: () => boolean): Promise<void> {
  const paths = bindPaths(options.dir, options.logFile);
  const probe = new Rfc2136Provider({ server: { host: options.host, port: options.port }, zone: options.zone ?? STACK_DNS_ZONE, keyFile: paths.keyFile, ttl: 60, timeoutSeconds: 2 });
  await waitUntil(() => probe.check().then(() => true), { what: 'bind (named)', timeoutMs: 30_000, intervalMs: 100, logFile: paths.log, stillRunning });
}

/** The DR_DNS_* settings that point Lifeboat at this server. */
export function bindSettings(options: Pick<BindServerOptions, 'dir' | 'host' | 'port' | 'zone'>): [string, string][] {
  const zone = options.zone ?? STACK_DNS_ZONE;
  const server = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  return [
    ['DR_DNS_PROVIDER', 'rfc2136'], ['DR_DNS_SERVER', server], ['DR_DNS_ZONE', zone],
    ['DR_DNS_RECORD', `db.${zone}`], ['DR_DRILL_DNS_RECORD', `drill.${zone}`], ['DR_DNS_TSIG_KEY_FILE', bindPaths(options.dir).keyFile],
  ];
}
