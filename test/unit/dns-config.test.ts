import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load';
import { CommandDnsProvider } from '../../lib/dns/command';
import { dnsProviderFromConfig, dnsRecordFor } from '../../lib/dns/from-config';
import { Rfc2136Provider } from '../../lib/dns/rfc2136';

const minimal = { DB_HOST: 'localhost', GPG_RECIPIENT: 'backup@corporate-intel.local', PGPASSWORD: 'secret-pw', MINIO_SOURCE_SECRET_KEY: 'minio-secret' };
const rfc2136 = { DR_DNS_PROVIDER: 'rfc2136', DR_DNS_SERVER: 'ns1.example.com', DR_DNS_ZONE: 'Example.com.', DR_DNS_RECORD: 'DB.example.com', DR_DNS_TSIG_KEY_FILE: '/etc/lifeboat/dr.key' };

const problemsOf = (raw: Record<string, string>) => parseConfig({ ...minimal, ...raw }).problems.map((p) => `${p.env}: ${p.message}`);

describe('DR DNS settings', () => {
  it('default to no provider: step 8 by hand, nothing required', () => {
    const { config, problems } = parseConfig(minimal);
    expect(problems).toEqual([]);
    expect(config!.dns).toMatchObject({ provider: 'none', ttl: 60, timeoutSeconds: 10, zone: undefined, record: undefined, drillRecord: undefined });
    expect(dnsProviderFromConfig(config!.dns)).toBeUndefined();
    expect(dnsRecordFor('failover', config!.dns)).toBeUndefined();
  });

  it('normalise names, default the drill name to drill.<zone> and the port to 53', () => {
    const { config, problems } = parseConfig({ ...minimal, ...rfc2136 });
    expect(problems).toEqual([]);
    expect(config!.dns).toEqual({
      provider: 'rfc2136', server: { host: 'ns1.example.com', port: 53 }, zone: 'example.com', record: 'db.example.com', drillRecord: 'drill.example.com',
      ttl: 60, tsigKeyFile: '/etc/lifeboat/dr.key', command: undefined, timeoutSeconds: 10,
    });
    const dns = dnsProviderFromConfig(config!.dns)!;
    expect(dns).toBeInstanceOf(Rfc2136Provider);
    expect(dns.target).toBe('ns1.example.com:53 zone example.com');
    expect(dnsRecordFor('failover', config!.dns)).toBe('db.example.com');
    expect(dnsRecordFor('drill', config!.dns)).toBe('drill.example.com');
  });

  it('build the command provider', () => {
    const { config } = parseConfig({ ...minimal, DR_DNS_PROVIDER: 'command', DR_DNS_ZONE: 'example.com', DR_DNS_RECORD: 'db.example.com', DR_DNS_COMMAND: '/usr/local/bin/dns-switch', DR_DRILL_DNS_RECORD: 'dr-test.example.com', DR_DNS_TTL: '300' });
    const dns = dnsProviderFromConfig(config!.dns)!;
    expect(dns).toBeInstanceOf(CommandDnsProvider);
    expect(dns.kind).toBe('command');
    expect(config!.dns).toMatchObject({ drillRecord: 'dr-test.example.com', ttl: 300 });
  });

  it.each([
    [{ DR_DNS_PROVIDER: 'route53' }, 'DR_DNS_PROVIDER: must be one of none, rfc2136, command (got "route53")'],
    [{ DR_DNS_PROVIDER: 'rfc2136' }, 'DR_DNS_ZONE: is required when DR_DNS_PROVIDER=rfc2136'],
    [{ ...rfc2136, DR_DNS_RECORD: '' }, 'DR_DNS_RECORD: is required when DR_DNS_PROVIDER=rfc2136'],
    [{ ...rfc2136, DR_DNS_SERVER: '' }, 'DR_DNS_SERVER: is required when DR_DNS_PROVIDER=rfc2136'],
    [{ ...rfc2136, DR_DNS_TSIG_KEY_FILE: '' }, 'DR_DNS_TSIG_KEY_FILE: is required when DR_DNS_PROVIDER=rfc2136'],
    [{ ...rfc2136, DR_DNS_TSIG_KEY_FILE: 'dr.key' }, 'DR_DNS_TSIG_KEY_FILE: must be an absolute path (got "dr.key")'],
    [{ DR_DNS_PROVIDER: 'command', DR_DNS_ZONE: 'example.com', DR_DNS_RECORD: 'db.example.com' }, 'DR_DNS_COMMAND: is required when DR_DNS_PROVIDER=command'],
    [{ ...rfc2136, DR_DNS_SERVER: 'ns1.example.com:99999' }, 'DR_DNS_SERVER: port 99999 is not between 1 and 65535'],
    [{ ...rfc2136, DR_DNS_ZONE: 'exa mple.com' }, 'DR_DNS_ZONE: "exa mple.com" is not a DNS name'],
    [{ ...rfc2136, DR_DNS_RECORD: 'db.example.org' }, 'DR_DNS_RECORD: db.example.org is not a name below DR_DNS_ZONE (example.com)'],
    [{ ...rfc2136, DR_DNS_RECORD: 'example.com' }, 'DR_DNS_RECORD: example.com is not a name below DR_DNS_ZONE (example.com)'],
    [{ ...rfc2136, DR_DRILL_DNS_RECORD: 'drill.example.org' }, 'DR_DRILL_DNS_RECORD: drill.example.org is not a name below DR_DNS_ZONE (example.com)'],
    [{ ...rfc2136, DR_DRILL_DNS_RECORD: 'db.example.com.' }, 'DR_DRILL_DNS_RECORD: must differ from DR_DNS_RECORD (db.example.com): a drill never switches the production name'],
    [{ ...rfc2136, DR_DNS_TTL: '0' }, 'DR_DNS_TTL: must be at least 1 (got "0")'],
  ])('report %j as %j', (raw, problem) => {
    expect(problemsOf(raw)).toContain(problem);
  });

  it('report every missing rfc2136 setting at once', () => {
    expect(problemsOf({ DR_DNS_PROVIDER: 'rfc2136' })).toEqual(expect.arrayContaining([
      'DR_DNS_ZONE: is required when DR_DNS_PROVIDER=rfc2136',
      'DR_DNS_RECORD: is required when DR_DNS_PROVIDER=rfc2136',
      'DR_DNS_SERVER: is required when DR_DNS_PROVIDER=rfc2136',
      'DR_DNS_TSIG_KEY_FILE: is required when DR_DNS_PROVIDER=rfc2136',
    ]));
  });
});
