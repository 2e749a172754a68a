/**
 * The DNS switch of the DR runbook (step 8) against a real BIND 9 on loopback: RFC 2136 updates
 * signed with TSIG through nsupdate, every result confirmed with dig; refusals (wrong secret,
 * unknown key, key not allowed, unknown zone, server down) with messages that name the setting; and
 * the `command` provider with a small script.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portOpen } from '../../client/stack/processes';
import { CommandDnsProvider } from '../../lib/dns/command';
import type { DnsRecordSet } from '../../lib/dns/provider';
import { AuthenticationFailed, ConfigInvalid, InputInvalid, ServiceUnavailable, ToolFailed } from '../../lib/errors';
import { freePort } from '../free-port';
import { startTestBind, type TestBind } from './bind-helpers';

let bind: TestBind;
const figures: string[] = [];

beforeAll(async () => {
  bind = await startTestBind({
    records: [
      { name: 'db', type: 'A', value: '127.0.0.1' },
      { name: 'dual', type: 'A', value: '10.9.0.1' },
      { name: 'dual', type: 'A', value: '10.9.0.2' },
      { name: 'dual', type: 'AAAA', value: 'fd00::9' },
      { name: 'notes', type: 'TXT', value: 'keep me' },
    ],
    otherKeys: ['lifeboat-readonly'],
  });
  figures.push(`bind start (spawn -> signed no-op update accepted): ${bind.startMs} ms`);
});

afterAll(async () => {
  const { dir, port, markers } = bind;
  await bind.stop();
  // Nothing left behind: no process, no port, no directory.
  expect(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
    try {
      const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      return markers.every((m) => cmdline.includes(m));
    } catch {
      return false;
    }
  })).toBe(false);
  expect(await portOpen('127.0.0.1', port)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  process.stdout.write(`[dns figures]\n${figures.map((f) => `  ${f}`).join('\n')}\n`);
});

describe('rfc2136 provider against BIND 9', () => {
  it('passes its check: key readable, zone served authoritatively, signed no-op update accepted', async () => {
    const serial = bind.serial();
    await bind.provider().check();
    expect(bind.serial()).toBe(serial);
  });

  it('switches a record (dig confirms), re-switching is a no-op, and rolls back to the recorded old value', async () => {
    const dns = bind.provider();
    const old = await dns.current('db.lifeboat.test');
    expect(old).toEqual({ name: 'db.lifeboat.test', ttl: 60, records: [{ type: 'A', value: '127.0.0.1' }] });

    const started = Date.now();
    const switched = await dns.switch('DB.lifeboat.test.', '10.0.0.5', { ttl: 30 });
    figures.push(`switch (read, update, read back): ${Date.now() - started} ms`);
    expect(switched).toMatchObject({ record: 'db.lifeboat.test', previous: old, current: { ttl: 30, records: [{ type: 'A', value: '10.0.0.5' }] }, changed: true });
    expect(bind.dig('db.lifeboat.test')).toEqual(['10.0.0.5']);

    const serial = bind.serial();
    const again = await dns.switch('db.lifeboat.test', '10.0.0.5', { ttl: 30 });
    expect(again).toMatchObject({ changed: false, previous: switched.current, current: switched.current });
    expect(bind.serial()).toBe(serial); // nothing was sent

    const rolledBack = await dns.restore('db.lifeboat.test', old);
    expect(rolledBack).toMatchObject({ changed: true, current: old });
    expect(bind.dig('db.lifeboat.test')).toEqual(['127.0.0.1']);
    expect((await dns.restore('db.lifeboat.test', old)).changed).toBe(false);
  });

  it('chooses the type from the value: AAAA for IPv6, CNAME for a host name, replacing what was there', async () => {
    const dns = bind.provider();
    const old = await dns.current('db.lifeboat.test');

    await dns.switch('db.lifeboat.test', 'FD00:0:0::5');
    expect(bind.dig('db.lifeboat.test', 'AAAA')).toEqual(['fd00::5']);
    expect(bind.dig('db.lifeboat.test', 'A')).toEqual([]);

    const toName = await dns.switch('db.lifeboat.test', 'standby.lifeboat.test');
    expect(toName.current?.records).toEqual([{ type: 'CNAME', value: 'standby.lifeboat.test' }]);
    expect(bind.dig('db.lifeboat.test', 'CNAME')).toEqual(['standby.lifeboat.test.']);

    await dns.restore('db.lifeboat.test', old);
    expect(bind.dig('db.lifeboat.test')).toEqual(['127.0.0.1']);
    expect(bind.dig('db.lifeboat.test', 'CNAME')).toEqual([]);
  });

  it('rolls back a name that held several records (A + A + AAAA) exactly', async () => {
    const dns = bind.provider();
    const old = (await dns.current('dual.lifeboat.test'))!;
    expect(old.records).toEqual([{ type: 'A', value: '10.9.0.1' }, { type: 'A', value: '10.9.0.2' }, { type: 'AAAA', value: 'fd00::9' }]);
    await dns.switch('dual.lifeboat.test', '10.0.0.7');
    expect(bind.dig('dual.lifeboat.test', 'AAAA')).toEqual([]);
    await dns.restore('dual.lifeboat.test', old);
    expect(bind.dig('dual.lifeboat.test')).toEqual(['10.9.0.1', '10.9.0.2']);
    expect(bind.dig('dual.lifeboat.test', 'AAAA')).toEqual(['fd00::9']);
  });

  it('creates a drill record, removes it (NXDOMAIN after), and removing again succeeds without a change', async () => {
    const dns = bind.provider();
    expect(await dns.current('drill.lifeboat.test')).toBeUndefined();
    const created = await dns.switch('drill.lifeboat.test', '127.0.0.9');
    expect(created).toMatchObject({ previous: undefined, changed: true });
    expect(bind.dig('drill.lifeboat.test')).toEqual(['127.0.0.9']);

    const removed = await dns.remove('drill.lifeboat.test');
    expect(removed).toMatchObject({ previous: created.current, current: undefined, changed: true });
    expect(bind.dig('drill.lifeboat.test')).toEqual([]);
    expect(await dns.current('drill.lifeboat.test')).toBeUndefined();
    expect((await dns.remove('drill.lifeboat.test')).changed).toBe(false);
    // A restore to "nothing" (a drill's rollback of a name that did not exist) is a removal.
    await dns.switch('drill.lifeboat.test', '127.0.0.9');
    expect((await dns.restore('drill.lifeboat.test', undefined)).current).toBeUndefined();
  });

  it('never touches other data at the name, and refuses a CNAME the server would drop beside it', async () => {
    const dns = bind.provider();
    await dns.switch('notes.lifeboat.test', '10.0.0.8');
    expect(bind.dig('notes.lifeboat.test', 'TXT')).toEqual(['"keep me"']);
    await dns.remove('notes.lifeboat.test');
    expect(bind.dig('notes.lifeboat.test', 'TXT')).toEqual(['"keep me"']);
    // BIND accepts the update and silently ignores a CNAME where other data exists: the read-back catches it.
    const error = await dns.switch('notes.lifeboat.test', 'standby.lifeboat.test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolFailed);
    expect((error as ToolFailed).message).toMatch(/accepted the update of notes\.lifeboat\.test but answers nothing instead of CNAME standby\.lifeboat\.test/);
    expect((error as ToolFailed).hint).toMatch(/a CNAME cannot be added where other records/);
  });

  it('refuses names outside the zone, the zone apex and values that are no address or host name, before sending', async () => {
    const dns = bind.provider();
    const serial = bind.serial();
    await expect(dns.switch('db.example.com', '10.0.0.1')).rejects.toThrow(InputInvalid);
    await expect(dns.switch('db.example.com', '10.0.0.1')).rejects.toThrow(/record: db\.example\.com is not a name below zone lifeboat\.test \(DR_DNS_ZONE\)/);
    await expect(dns.switch('lifeboat.test', '10.0.0.1')).rejects.toThrow(/not a name below zone/);
    await expect(dns.switch('db.lifeboat.test', '10.0.0.300')).rejects.toThrow(/value: "10\.0\.0\.300" is neither an IP address nor a host name/);
    await expect(dns.switch('db.lifeboat.test\nupdate delete lifeboat.test. NS', '10.0.0.1')).rejects.toThrow(InputInvalid);
    await expect(dns.switch('db.lifeboat.test', '10.0.0.1\nsend')).rejects.toThrow(InputInvalid);
    expect(bind.serial()).toBe(serial);
  });

  it('reports a wrong secret, an unknown key and a key the zone does not allow, naming DR_DNS_TSIG_KEY_FILE', async () => {
    // Same key name, another secret: BADSIG.
    const wrong = join(bind.dir, 'wrong-secret.key');
    const real = readFileSync(bind.keyFile, 'utf8');
    const secret = /secret "([^"]+)"/.exec(real)![1]!;
    writeFileSync(wrong, real.replace(secret, Buffer.alloc(32, 7).toString('base64')), { mode: 0o600 });
    const badSig = await bind.provider({ keyFile: wrong }).switch('db.lifeboat.test', '10.0.0.66').catch((e: unknown) => e);
    expect(badSig).toBeInstanceOf(AuthenticationFailed);
    expect((badSig as Error).message).toMatch(/rejected the signature of TSIG key "lifeboat-dr" from DR_DNS_TSIG_KEY_FILE .*\(NOTAUTH\/BADSIG\)/);

    // A key name the server does not know: BADKEY.
    const unknown = join(bind.dir, 'unknown.key');
    writeFileSync(unknown, real.replace('"lifeboat-dr"', '"nobody-knows-me"'), { mode: 0o600 });
    const badKey = await bind.provider({ keyFile: unknown }).check().catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(AuthenticationFailed);
    expect((badKey as Error).message).toMatch(/does not know TSIG key "nobody-knows-me" from DR_DNS_TSIG_KEY_FILE .*\(NOTAUTH\/BADKEY\)/);

    // A key the server knows but the zone's allow-update does not list: REFUSED.
    const refused = await bind.provider({ keyFile: bind.otherKeyFile('lifeboat-readonly') }).switch('db.lifeboat.test', '10.0.0.66').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AuthenticationFailed);
    expect((refused as Error).message).toMatch(/refused the update of db\.lifeboat\.test in zone lifeboat\.test signed with TSIG key "lifeboat-readonly" .*\(REFUSED\)/);
    expect((refused as AuthenticationFailed).hint).toMatch(/allow-update \{ key "lifeboat-readonly"; \}/);

    for (const error of [badSig, badKey, refused]) {
      expect((error as Error).message).not.toContain(secret);
      expect((error as AuthenticationFailed).permanent).toBe(true);
    }
    expect(bind.dig('db.lifeboat.test')).toEqual(['127.0.0.1']);
  });

  it('reports a missing or malformed key file as a configuration problem of DR_DNS_TSIG_KEY_FILE', async () => {
    const missing = await bind.provider({ keyFile: join(bind.dir, 'nope.key') }).switch('db.lifeboat.test', '10.0.0.66').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigInvalid);
    expect((missing as Error).message).toMatch(/DR_DNS_TSIG_KEY_FILE: key file .*nope\.key does not exist/);
    const garbage = join(bind.dir, 'garbage.key');
    writeFileSync(garbage, 'not a key\n');
    await expect(bind.provider({ keyFile: garbage }).check()).rejects.toThrow(/DR_DNS_TSIG_KEY_FILE: key file .* holds no `key "name"/);
  });

  it('reports a zone the server does not serve, naming DR_DNS_ZONE', async () => {
    const other = bind.provider({ zone: 'other.test' });
    const onRead = await other.current('db.other.test').catch((e: unknown) => e);
    expect(onRead).toBeInstanceOf(ConfigInvalid);
    expect((onRead as Error).message).toMatch(/DR_DNS_ZONE: dns server 127\.0\.0\.1:\d+ is not authoritative for zone other\.test \(REFUSED\)/);
    await expect(other.check()).rejects.toThrow(/DR_DNS_ZONE: dns server .* is not authoritative for zone other\.test/);
  });

  it('reports a server that does not answer as retryable, naming DR_DNS_SERVER', async () => {
    const port = await freePort();
    const error = await bind.provider({ server: { host: '127.0.0.1', port }, timeoutSeconds: 2 }).current('db.lifeboat.test').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailable);
    expect((error as Error).message).toMatch(new RegExp(`dns server 127\\.0\\.0\\.1:${port} \\(DR_DNS_SERVER\\) did not answer`));
    expect((error as ServiceUnavailable).permanent).toBe(false);
  });
});

describe('command provider', () => {
  let script: string;
  let state: string;
  let dns: CommandDnsProvider;

  beforeAll(() => {
    // An operator's script, keeping its "zone" in a JSON file; `fail` in the file makes it fail as told.
    state = join(bind.dir, 'command-zone.json');
    writeFileSync(state, JSON.stringify({ 'db.lifeboat.test': { ttl: 60, records: [{ type: 'A', value: '127.0.0.1' }] } }));
    script = join(bind.dir, 'dns-command.js');
    writeFileSync(
      script,
      `#!${process.execPath}
const fs = require('node:fs');
const file = ${JSON.stringify(state)};
const zone = JSON.parse(fs.readFileSync(file, 'utf8'));
const [action, record, ttl, ...pairs] = process.argv.slice(2);
if (zone.fail === 'tempfail') { process.stderr.write('provider API rate-limited\\n'); process.exit(75); }
if (zone.fail === 'garbage') { process.stdout.write('ok'); process.exit(0); }
if (zone.fail === 'lie') { process.stdout.write('null'); process.exit(0); }
if (process.env.LIFEBOAT_DNS_ACTION !== action || process.env.LIFEBOAT_DNS_ZONE !== 'lifeboat.test') process.exit(9);
if (action === 'check') { process.stdout.write('{"ok":true}'); process.exit(0); }
if (action === 'set') {
  const records = [];
  for (let i = 0; i < pairs.length; i += 2) records.push({ type: pairs[i], value: pairs[i + 1] });
  if (JSON.stringify(records) !== process.env.LIFEBOAT_DNS_RECORDS || process.env.LIFEBOAT_DNS_TTL !== ttl) process.exit(8);
  zone[record] = { ttl: Number(ttl), records };
}
if (action === 'delete') delete zone[record];
fs.writeFileSync(file, JSON.stringify(zone));
process.stdout.write(JSON.stringify(zone[record] ?? null));
`,
    );
    chmodSync(script, 0o755);
    dns = new CommandDnsProvider({ command: script, zone: 'lifeboat.test', ttl: 60, timeoutSeconds: 10 });
  });

  const zoneFile = (): Record<string, DnsRecordSet | string> => JSON.parse(readFileSync(state, 'utf8')) as Record<string, DnsRecordSet | string>;

  it('checks, reads, switches idempotently, rolls back and removes through the script', async () => {
    await dns.check();
    const old = await dns.current('db.lifeboat.test');
    expect(old).toEqual({ name: 'db.lifeboat.test', ttl: 60, records: [{ type: 'A', value: '127.0.0.1' }] });
    const switched = await dns.switch('db.lifeboat.test', '10.0.0.5');
    expect(switched).toMatchObject({ previous: old, changed: true, current: { records: [{ type: 'A', value: '10.0.0.5' }] } });
    expect(zoneFile()['db.lifeboat.test']).toEqual({ ttl: 60, records: [{ type: 'A', value: '10.0.0.5' }] });
    expect((await dns.switch('db.lifeboat.test', '10.0.0.5')).changed).toBe(false);
    await dns.restore('db.lifeboat.test', old);
    expect(zoneFile()['db.lifeboat.test']).toEqual({ ttl: 60, records: [{ type: 'A', value: '127.0.0.1' }] });
    await dns.switch('drill.lifeboat.test', 'fd00::1');
    expect(zoneFile()['drill.lifeboat.test']).toEqual({ ttl: 60, records: [{ type: 'AAAA', value: 'fd00::1' }] });
    expect((await dns.remove('drill.lifeboat.test')).current).toBeUndefined();
    expect(zoneFile()['drill.lifeboat.test']).toBeUndefined();
    await expect(dns.switch('db.example.com', '10.0.0.1')).rejects.toThrow(/not in zone lifeboat\.test/);
  });

  it('maps exit 75 to retryable, other failures and bad output to permanent errors', async () => {
    const set = (fail: string): void => writeFileSync(state, JSON.stringify({ ...zoneFile(), fail }));
    set('tempfail');
    const temp = await dns.current('db.lifeboat.test').catch((e: unknown) => e);
    expect(temp).toBeInstanceOf(ServiceUnavailable);
    expect((temp as Error).message).toMatch(/asked to retry later \(exit 75\): provider API rate-limited/);
    set('garbage');
    await expect(dns.current('db.lifeboat.test')).rejects.toThrow(/printed no JSON on stdout \(got "ok"\)/);
    set('lie');
    const lie = await dns.switch('db.lifeboat.test', '10.0.0.5').catch((e: unknown) => e);
    // `get` says nothing is there, `set` says nothing is there afterwards: not what was asked.
    expect((lie as ToolFailed).message).toMatch(/set db\.lifeboat\.test reports nothing afterwards instead of A 10\.0\.0\.5/);
    set('');
    const missing = new CommandDnsProvider({ command: join(bind.dir, 'no-such-script'), zone: 'lifeboat.test', ttl: 60, timeoutSeconds: 5 });
    await expect(missing.check()).rejects.toThrow(/DR_DNS_COMMAND: .*no-such-script does not exist/);
  });
});
