/**
 * The configured DNS provider (DR_DNS_PROVIDER), built once by the composition root (lib/deps.ts),
 * and which name a run switches: the production name in a failover, the drill name in a drill.
 * Building reads no file and contacts no server; `check()` does.
 */
import type { Config } from '../config/load';
import { CommandDnsProvider } from './command';
import type { DnsProvider } from './provider';
import { Rfc2136Provider } from './rfc2136';

/** The provider DR_DNS_PROVIDER names, or undefined for `none` (step 8 is then done by hand). */
export function dnsProviderFromConfig(dns: Config['dns']): DnsProvider | undefined {
  switch (dns.provider) {
    case 'none':
      return undefined;
    case 'rfc2136':
      // parseConfig's rules guarantee server, zone and key file for rfc2136.
      return new Rfc2136Provider({ server: dns.server!, zone: dns.zone!, keyFile: dns.tsigKeyFile!, ttl: dns.ttl, timeoutSeconds: dns.timeoutSeconds });
    case 'command':
      return new CommandDnsProvider({ command: dns.command!, zone: dns.zone!, ttl: dns.ttl, timeoutSeconds: dns.timeoutSeconds });
  }
}

/**
 * The name a run of `mode` switches: DR_DNS_RECORD for a failover, DR_DRILL_DNS_RECORD for a drill
 * (a drill never touches the production name). Undefined when no DNS provider is configured.
 */
export function dnsRecordFor(mode: 'failover' | 'drill', dns: Config['dns']): string | undefined {
  if (dns.provider === 'none') return undefined;
  return mode === 'drill' ? dns.drillRecord : dns.record;
}
