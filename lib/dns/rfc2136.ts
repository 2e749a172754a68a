/**
 * The `rfc2136` DNS provider: dynamic updates (RFC 2136) signed with a TSIG key (RFC 8945), sent
 * with BIND's `nsupdate` and read back with `dig` from the same server, the zone's primary.
 *
 * - The key stays in its file (DR_DNS_TSIG_KEY_FILE, passed as `nsupdate -k <file>`): never on a
 *   command line, in a result, a log line or a history.
 * - A switch is one update message: delete the name's A, AAAA and CNAME rrsets, add the new records.
 *   The server applies a message atomically, so clients see the old or the new address, never none.
 * - Every change is read back from the server: BIND silently ignores some updates (a CNAME where
 *   other data exists), and an accepted update that does not answer as asked is an error.
 * - Refusals name the setting to fix (DR_DNS_TSIG_KEY_FILE for key errors, DR_DNS_ZONE when the
 *   server is not authoritative, DR_DNS_SERVER when it does not answer).
 */
import { AuthenticationFailed, ConfigInvalid, InputInvalid, ServiceUnavailable, ToolFailed } from '../errors';
import { parseDigOutput, parseNsupdateFailure } from './bind-tools-output';
import type { DnsProvider, DnsRecordData, DnsRecordSet, DnsSwitchOptions, DnsSwitchResult } from './provider';
import { describeRecordSet, inZone, normalizeName, recordFor, recordSet, sameRecords, type HostPort } from './records';
import { runTool, type ToolRun } from './run-tool';
import { readTsigKeyFile, type TsigKeyInfo } from './tsig-key';

export interface Rfc2136Settings {
  /** The zone's primary server (DR_DNS_SERVER). */
  server: HostPort;
  /** DR_DNS_ZONE, any case, with or without the trailing dot. */
  zone: string;
  /** DR_DNS_TSIG_KEY_FILE: a BIND `key` statement file. */
  keyFile: string;
  /** TTL of records a switch writes (DR_DNS_TTL). */
  ttl: number;
  /** Deadline of one nsupdate or dig run (DR_DNS_TIMEOUT_SECONDS). */
  timeoutSeconds: number;
  /** Client programs; default from PATH. */
  nsupdate?: string;
  dig?: string;
}

const INSTALL_HINT = 'install bind9-dnsutils (apt-get install -y bind9-dnsutils), which provides nsupdate and dig';
const ADDRESS_TYPES = ['A', 'AAAA', 'CNAME'] as const;

export class Rfc2136Provider implements DnsProvider {
  readonly kind = 'rfc2136';
  readonly target: string;
  private readonly zone: string;
  private readonly server: string;

  constructor(private readonly settings: Rfc2136Settings) {
    this.zone = normalizeName(settings.zone, 'DR_DNS_ZONE');
    this.server = settings.server.host.includes(':') ? `[${settings.server.host}]:${settings.server.port}` : `${settings.server.host}:${settings.server.port}`;
    this.target = `${this.server} zone ${this.zone}`;
  }

  async check(): Promise<void> {
    const key = readTsigKeyFile(this.settings.keyFile);
    const soa = await this.dig([this.zone, 'SOA']);
    const response = soa.responses[0]!;
    if (response.status !== 'NOERROR' || !response.flags.includes('aa') || !response.answers.some((a) => a.type === 'SOA' && a.name === this.zone)) {
      throw this.notAuthoritative(response.status);
    }
    // A prerequisite-only update ("the zone apex exists") changes nothing but goes through the
    // server's TSIG check and its allow-update ACL. (update-policy grants are checked per record,
    // so with update-policy only a real switch proves the grant; a refusal then names the record.)
    await this.update([`prereq yxdomain ${this.zone}.`], key, undefined);
  }

  async current(record: string): Promise<DnsRecordSet | undefined> {
    return this.read(this.nameOf(record));
  }

  async switch(record: string, value: string, options: DnsSwitchOptions = {}): Promise<DnsSwitchResult> {
    const name = this.nameOf(record);
    const ttl = options.ttl ?? this.settings.ttl;
    return this.apply(name, recordSet(name, ttl, [recordFor(value)], 'value'));
  }

  async restore(record: string, previous: DnsRecordSet | undefined): Promise<DnsSwitchResult> {
    const name = this.nameOf(record);
    return this.apply(name, previous ? recordSet(name, previous.ttl, previous.records, 'previous') : undefined);
  }

  async remove(record: string): Promise<DnsSwitchResult> {
    return this.apply(this.nameOf(record), undefined);
  }

  // ---- internals --------------------------------------------------------------------------------

  /** A name this provider may write: below the zone (the apex holds SOA/NS and cannot take a CNAME). */
  private nameOf(record: string): string {
    const name = normalizeName(record, 'record');
    if (!inZone(name, this.zone) || name === this.zone) {
      throw new InputInvalid('record', `${name} is not a name below zone ${this.zone} (DR_DNS_ZONE)`, `switch a name inside the zone, e.g. db.${this.zone}, or set DR_DNS_ZONE to the zone that holds ${name}`);
    }
    return name;
  }

  /** Make `name` hold exactly `want` (nothing when undefined), then read it back. */
  private async apply(name: string, want: DnsRecordSet | undefined): Promise<DnsSwitchResult> {
    const started = Date.now();
    const key = readTsigKeyFile(this.settings.keyFile);
    const previous = await this.read(name);
    if (sameRecords(previous, want) && previous?.ttl === want?.ttl) {
      return { record: name, previous, current: previous, changed: false, elapsedMs: Date.now() - started };
    }
    await this.update(
      [
        ...ADDRESS_TYPES.map((type) => `update delete ${name}. ${type}`),
        ...(want?.records ?? []).map((r) => `update add ${name}. ${want!.ttl} ${r.type} ${rdata(r)}`),
      ],
      key,
      name,
    );
    const current = await this.read(name);
    if (!sameRecords(current, want)) {
      throw new ToolFailed(
        `dns server ${this.server} accepted the update of ${name} but answers ${describeRecordSet(current)} instead of ${describeRecordSet(want)}`,
        true,
        want?.records[0]?.type === 'CNAME' ? `a CNAME cannot be added where other records (TXT, MX, ...) exist at ${name}; remove them or switch to an address` : 'check the zone on the server (another writer, or an update-policy that drops part of the update)',
      );
    }
    return { record: name, previous, current, changed: true, elapsedMs: Date.now() - started };
  }

  /** The A/AAAA/CNAME data at `name` as the server answers it (authoritatively). */
  private async read(name: string): Promise<DnsRecordSet | undefined> {
    const output = await this.dig([name, 'A', name, 'AAAA']);
    const records: DnsRecordData[] = [];
    let ttl: number | undefined;
    for (const response of output.responses) {
      // NXDOMAIN still carries the name's CNAME when the CNAME points at a name that does not exist.
      if (!['NOERROR', 'NXDOMAIN'].includes(response.status) || !response.flags.includes('aa')) throw this.notAuthoritative(response.status);
      // A query at a CNAME returns the CNAME and what it points to: keep only the owner's records.
      for (const answer of response.answers) {
        if (answer.name !== name || !(ADDRESS_TYPES as readonly string[]).includes(answer.type)) continue;
        records.push({ type: answer.type as DnsRecordData['type'], value: answer.data.toLowerCase().replace(/\.$/, '') });
        ttl = Math.min(ttl ?? answer.ttl, answer.ttl);
      }
    }
    return records.length === 0 ? undefined : recordSet(name, ttl!, records, 'answer');
  }

  private async dig(questions: string[]): Promise<ReturnType<typeof parseDigOutput>> {
    const { host, port } = this.settings.server;
    const t = this.settings.timeoutSeconds;
    const run = await runTool(
      this.settings.dig ?? 'dig',
      [`@${host}`, '-p', String(port), '+norecurse', '+noall', '+answer', '+comments', `+time=${Math.max(1, Math.ceil(t / 2))}`, '+tries=2', ...questions],
      { timeoutMs: (t + 5) * 1000, installHint: INSTALL_HINT },
    );
    const output = parseDigOutput(`${run.stdout}\n${run.stderr}`);
    const expected = questions.length / 2;
    if (run.timedOut || output.responses.length < expected) {
      const why = run.timedOut ? `no answer within ${t + 5} s` : output.errors.join('; ') || `dig exited with code ${run.code}`;
      throw this.unreachable(why);
    }
    return output;
  }

  /** Send one update message (about `name`, for messages); classify a failure. */
  private async update(lines: string[], key: TsigKeyInfo, name: string | undefined): Promise<ToolRun> {
    const { host, port } = this.settings.server;
    const t = this.settings.timeoutSeconds;
    const script = [`server ${host} ${port}`, `zone ${this.zone}.`, ...lines, 'send', ''].join('\n');
    const run = await runTool(this.settings.nsupdate ?? 'nsupdate', ['-k', this.settings.keyFile, '-t', String(t)], {
      stdin: script,
      timeoutMs: (t + 5) * 1000,
      installHint: INSTALL_HINT,
    });
    if (run.code === 0 && !run.timedOut) return run;
    throw this.updateError(`${run.stderr}\n${run.stdout}`, run, key, name);
  }

  private updateError(text: string, run: ToolRun, key: TsigKeyInfo, name: string | undefined): Error {
    const failure = parseNsupdateFailure(text);
    const keyRef = `TSIG key "${key.name}" from DR_DNS_TSIG_KEY_FILE (${this.settings.keyFile})`;
    const allowHint = `allow the key on the server, e.g. zone "${this.zone}" { allow-update { key "${key.name}"; }; }; or an update-policy grant for ${name ?? 'the DR names'} (A AAAA CNAME), or point DR_DNS_TSIG_KEY_FILE at a key the server allows`;
    if (run.timedOut) return this.unreachable(`no answer within ${this.settings.timeoutSeconds + 5} s`);
    if (failure.keyFile) {
      return new ConfigInvalid([{ env: 'DR_DNS_TSIG_KEY_FILE', message: `nsupdate ${failure.keyFile}`, hint: 'use the output of `tsig-keygen -a hmac-sha256 <name>`, readable by the worker' }]);
    }
    switch (failure.tsigError) {
      case undefined:
        break;
      case 'BADKEY':
        return new AuthenticationFailed(`dns server ${this.server} does not know ${keyRef} (NOTAUTH/BADKEY)`, `add the key to the server's configuration and allow it to update ${this.zone}, or point DR_DNS_TSIG_KEY_FILE at the key the server has`);
      case 'BADSIG':
        return new AuthenticationFailed(`dns server ${this.server} rejected the signature of ${keyRef}: its secret differs from the server's copy (NOTAUTH/BADSIG)`, `copy the server's key "${key.name}" into DR_DNS_TSIG_KEY_FILE, or install this file's key on the server`);
      case 'BADTIME':
        return new AuthenticationFailed(`dns server ${this.server} rejected ${keyRef}: the clocks of this host and the server differ too much (NOTAUTH/BADTIME)`, 'synchronise the clocks of both hosts (NTP) and retry');
      default:
        return new AuthenticationFailed(`dns server ${this.server} rejected ${keyRef} (${failure.rcode ?? 'NOTAUTH'}/${failure.tsigError})`, allowHint);
    }
    switch (failure.rcode) {
      case 'REFUSED':
        return new AuthenticationFailed(`dns server ${this.server} refused the update ${name ? `of ${name} ` : ''}in zone ${this.zone} signed with ${keyRef} (REFUSED)`, allowHint);
      case 'NOTAUTH':
        return this.notAuthoritative('NOTAUTH');
      case 'NOTZONE':
        return new ConfigInvalid([{ env: 'DR_DNS_ZONE', message: `dns server ${this.server} says the name is not in zone ${this.zone} (NOTZONE)`, hint: 'set DR_DNS_ZONE to the zone that holds DR_DNS_RECORD and DR_DRILL_DNS_RECORD' }]);
      case 'SERVFAIL':
        return new ServiceUnavailable(`dns server ${this.server} failed to apply the update to zone ${this.zone} (SERVFAIL)`, 'check the server\'s log (zone file or journal not writable?) and retry');
      case undefined:
        break;
      default:
        return new ToolFailed(`dns server ${this.server} rejected the update of zone ${this.zone} (${failure.rcode})`, true, 'check the server\'s log for the reason');
    }
    if (failure.communication) return this.unreachable(failure.communication);
    const tail = text.trim().split('\n').slice(-3).join(' | ');
    return new ToolFailed(`nsupdate failed with exit code ${run.code}${tail ? `: ${tail}` : ''}`, true, failure.syntax ? 'report this: Lifeboat wrote an update nsupdate could not parse' : undefined);
  }

  private notAuthoritative(status: string): ConfigInvalid {
    return new ConfigInvalid([{
      env: 'DR_DNS_ZONE',
      message: `dns server ${this.server} is not authoritative for zone ${this.zone} (${status})`,
      hint: 'set DR_DNS_ZONE to a zone that server is the primary of, or DR_DNS_SERVER to the primary of DR_DNS_ZONE',
    }]);
  }

  private unreachable(why: string): ServiceUnavailable {
    return new ServiceUnavailable(`dns server ${this.server} (DR_DNS_SERVER) did not answer: ${why}`, 'start the DNS server, or set DR_DNS_SERVER to the zone primary\'s host:port');
  }
}

/** Record data as nsupdate's input: CNAME targets fully qualified. */
function rdata(record: DnsRecordData): string {
  return record.type === 'CNAME' ? `${record.value}.` : record.value;
}
