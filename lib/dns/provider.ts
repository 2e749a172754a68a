/**
 * How a disaster recovery points clients at the restored endpoints (runbook step 8): one name's
 * address records switched to a new value, with the old ones kept so the switch can be rolled back.
 * Providers: `rfc2136` (dynamic update with TSIG, lib/dns/rfc2136.ts) and `command` (an operator's
 * script, lib/dns/command.ts); `dnsProviderFromConfig` (lib/dns/from-config.ts) builds the
 * configured one.
 *
 * What a provider owns at a name is its address data: the A and AAAA records, or the one CNAME.
 * Other types at the name (TXT, MX, ...) are never touched. Every value here is plain JSON (names
 * and addresses, never a key), so results can travel in workflow histories.
 */

/** The record types a switch writes. */
export type DnsRecordType = 'A' | 'AAAA' | 'CNAME';

export interface DnsRecordData {
  type: DnsRecordType;
  /** IPv4 / IPv6 in canonical text form, or the CNAME target as a lower-case name without a trailing dot. */
  value: string;
}

/**
 * The address data at one name: A and/or AAAA records, or exactly one CNAME. Sorted (type, value),
 * so two sets compare equal with `sameRecordSet` regardless of the server's order.
 */
export interface DnsRecordSet {
  /** Fully qualified, lower case, without the trailing dot (`db.example.com`). */
  name: string;
  /** Seconds; the smallest TTL when the records differ. */
  ttl: number;
  records: DnsRecordData[];
}

export interface DnsSwitchResult {
  /** The name switched (normalised as in DnsRecordSet). */
  record: string;
  /**
   * What the name held before this call (undefined: nothing). Keep it to roll back with `restore`.
   * A retried switch sees its own earlier result here, so a runbook records `current()` in a step of
   * its own before switching, and rolls back to that.
   */
  previous: DnsRecordSet | undefined;
  /** What the server answers now, read back from it after the change (undefined after a removal). */
  current: DnsRecordSet | undefined;
  /** False when the name already held exactly what was asked, so nothing was sent. */
  changed: boolean;
  /** Wall time of the whole call, update and read-back included. */
  elapsedMs: number;
}

export interface DnsSwitchOptions {
  /** TTL of the new record; default the provider's configured TTL (DR_DNS_TTL). */
  ttl?: number;
}

/**
 * Errors (lib/errors.ts): InputInvalid for a name outside the zone or a value that is no address or
 * host name (permanent); ConfigInvalid / AuthenticationFailed when the server or script refuses the
 * configured zone or key, naming the setting to fix (permanent); ServiceUnavailable when the server
 * does not answer (retryable); ToolFailed for anything else the client or script reports.
 */
export interface DnsProvider {
  /** Provider kind, for messages (`rfc2136`, `command`). */
  readonly kind: string;
  /** Where it writes, for messages and reports (`127.0.0.1:53 zone example.com`); never a secret. */
  readonly target: string;
  /**
   * Prove the provider can work before a runbook relies on it: the key file is readable, the server
   * answers authoritatively for the zone and accepts a signed no-op update (rfc2136); the script
   * runs and answers `get` (command). Changes nothing.
   */
  check(): Promise<void>;
  /** The name's current address data (undefined when it has none). */
  current(record: string): Promise<DnsRecordSet | undefined>;
  /**
   * Point `record` at `value`: an IPv4 address makes an A record, an IPv6 address AAAA, a host name
   * a CNAME; whatever A/AAAA/CNAME the name held is replaced in the same update. Idempotent: when
   * the name already holds exactly that, nothing is sent (`changed: false`). The result is read back
   * from the server; a server that accepted but does not answer the new value is an error.
   */
  switch(record: string, value: string, options?: DnsSwitchOptions): Promise<DnsSwitchResult>;
  /**
   * Roll back: make `record` hold exactly `previous` (a `current()` or `switch().previous` taken
   * earlier), or nothing when `previous` is undefined. Idempotent like `switch`.
   */
  restore(record: string, previous: DnsRecordSet | undefined): Promise<DnsSwitchResult>;
  /**
   * Delete the name's A/AAAA/CNAME records (a drill's cleanup). Removing a name that holds none
   * succeeds with `changed: false`; `previous` says what was removed.
   */
  remove(record: string): Promise<DnsSwitchResult>;
}
