/**
 * Pure helpers for DNS names, values and record sets: normalising what operators write, deciding a
 * value's record type, comparing and describing record sets, and parsing `host[:port]`. Strict on
 * purpose: names and values end up in nsupdate's input, so nothing but letters, digits, `-`, `_`
 * and `.` (names) or address text (values) gets through.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { InputInvalid } from '../errors';
import type { DnsRecordData, DnsRecordSet, DnsRecordType } from './provider';

const LABEL = /^(?!-)[a-z0-9_-]{1,63}$/;

/** True for a syntactically valid host/zone name (lower-cased, no trailing dot). */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => LABEL.test(label));
}

/**
 * `Db.Example.COM.` -> `db.example.com`. InputInvalid naming `field` when it is no valid name.
 */
export function normalizeName(name: string, field = 'record'): string {
  const normal = name.trim().toLowerCase().replace(/\.$/, '');
  if (!isDnsName(normal)) {
    throw new InputInvalid(field, `${JSON.stringify(name)} is not a DNS name`, 'use letters, digits, - and _ in dot-separated labels, e.g. db.example.com');
  }
  return normal;
}

/** True when `name` is `zone` itself or below it (both normalised). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** Canonical text of an IPv6 address (`0:0::1` -> `::1`), as DNS tools print it. */
export function canonicalIPv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * The record a switch to `value` writes: A for IPv4, AAAA for IPv6, CNAME for a host name.
 * InputInvalid naming `field` for anything else.
 */
export function recordFor(value: string, field = 'value'): DnsRecordData {
  const text = value.trim();
  if (isIPv4(text)) return { type: 'A', value: text };
  if (isIPv6(text)) return { type: 'AAAA', value: canonicalIPv6(text) };
  const name = text.toLowerCase().replace(/\.$/, '');
  if (isDnsName(name) && !/^[\d.]+$/.test(name)) return { type: 'CNAME', value: name };
  throw new InputInvalid(field, `${JSON.stringify(value)} is neither an IP address nor a host name`, 'give an IPv4 address (A), an IPv6 address (AAAA) or a host name (CNAME)');
}

/** A record's data normalised as providers report it; InputInvalid when type and value disagree. */
export function normalizeRecord(data: DnsRecordData, field = 'record'): DnsRecordData {
  const record = recordFor(data.value, field);
  if (record.type !== data.type) {
    throw new InputInvalid(field, `${JSON.stringify(data.value)} is not a valid ${data.type} value`, 'A takes IPv4, AAAA IPv6, CNAME a host name');
  }
  return record;
}

const TYPE_ORDER: Record<DnsRecordType, number> = { A: 0, AAAA: 1, CNAME: 2 };

/** Sort and de-duplicate records (the order of a set's canonical form). */
export function sortRecords(records: readonly DnsRecordData[]): DnsRecordData[] {
  const seen = new Set<string>();
  return [...records]
    .sort((a, b) => TYPE_ORDER[a.type] - TYPE_ORDER[b.type] || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .filter((r) => {
      const key = `${r.type} ${r.value}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/**
 * A record set in canonical form; InputInvalid when it mixes a CNAME with other data, holds more
 * than one CNAME, or is empty (an empty name is `undefined`, not an empty set).
 */
export function recordSet(name: string, ttl: number, records: readonly DnsRecordData[], field = 'record'): DnsRecordSet {
  const sorted = sortRecords(records.map((r) => normalizeRecord(r, field)));
  if (sorted.length === 0) throw new InputInvalid(field, `record set of ${name} is empty`, 'an absent record is undefined, not an empty set');
  if (sorted.some((r) => r.type === 'CNAME') && sorted.length > 1) {
    throw new InputInvalid(field, `${name} cannot hold a CNAME together with other records`, 'a name has either one CNAME or A/AAAA records');
  }
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2147483647) throw new InputInvalid(field, `TTL ${ttl} is not a valid TTL`, 'use whole seconds, e.g. 60');
  return { name: normalizeName(name, field), ttl, records: sorted };
}

/** Same records (TTL not compared: a switch to the same address with another TTL is no change). */
export function sameRecords(a: DnsRecordSet | undefined, b: DnsRecordSet | undefined): boolean {
  const left = a?.records ?? [];
  const right = b?.records ?? [];
  return left.length === right.length && left.every((r, i) => r.type === right[i]!.type && r.value === right[i]!.value);
}

/** `A 10.0.0.5, AAAA ::1 (ttl 60)` or `nothing`, for reports and messages. */
export function describeRecordSet(set: DnsRecordSet | undefined): string {
  if (!set) return 'nothing';
  return `${set.records.map((r) => `${r.type} ${r.value}`).join(', ')} (ttl ${set.ttl})`;
}

export interface HostPort {
  host: string;
  port: number;
}

/**
 * `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; port defaults to `defaultPort`.
 * Throws a plain Error with the reason (the caller names the setting).
 */
export function parseHostPort(text: string, defaultPort = 53): HostPort {
  const value = text.trim();
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    [, host, port] = bracketed as unknown as [string, string, string | undefined];
    if (!isIPv6(host)) throw new Error(`"${host}" in brackets is not an IPv6 address`);
  } else if (isIPv6(value)) {
    host = value;
  } else {
    const match = /^([^:]+)(?::(\d+))?$/.exec(value);
    if (!match) throw new Error(`"${text}" is not host or host:port`);
    [, host, port] = match as unknown as [string, string, string | undefined];
    if (!isIPv4(host) && !isDnsName(host.toLowerCase().replace(/\.$/, ''))) throw new Error(`"${host}" is not a host name or IP address`);
  }
  const number = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) throw new Error(`port ${port} is not between 1 and 65535`);
  return { host, port: number };
}
