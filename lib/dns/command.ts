/**
 * The `command` DNS provider: an operator's script (DR_DNS_COMMAND) does the DNS work, for
 * providers Lifeboat has no driver for (a cloud DNS API, an internal tool, a load balancer).
 *
 * The contract, one run per call, arguments as an array (no shell):
 *
 *   <command> check                                  prove credentials work; change nothing
 *   <command> get    <record>
 *   <command> set    <record> <ttl> <type> <value> [<type> <value> ...]   replace the name's A/AAAA/CNAME
 *   <command> delete <record>                        remove the name's A/AAAA/CNAME
 *
 * The same facts are in the environment: LIFEBOAT_DNS_ACTION, LIFEBOAT_DNS_RECORD, LIFEBOAT_DNS_ZONE,
 * LIFEBOAT_DNS_TTL, LIFEBOAT_DNS_TYPE and LIFEBOAT_DNS_VALUE (the first record, the usual single
 * switch), LIFEBOAT_DNS_RECORDS (all records as JSON). The worker's own environment is passed on,
 * so the script finds its credentials where the operator put them.
 *
 * On success the script exits 0 and prints, as JSON on stdout, what the name holds AFTER the action,
 * read back from the DNS provider: `null` for nothing, else `{"ttl": 60, "records": [{"type": "A",
 * "value": "10.0.0.5"}]}` (`check` prints any JSON object). Lifeboat compares it with what it asked
 * for. Exit code 75 (EX_TEMPFAIL) means "try again later" (retryable); any other failure is
 * permanent, reported with the last lines of stderr.
 */
import { isAbsolute } from 'node:path';
import { ConfigInvalid, InputInvalid, PrerequisiteMissing, ServiceUnavailable, ToolFailed } from '../errors';
import type { DnsProvider, DnsRecordData, DnsRecordSet, DnsSwitchOptions, DnsSwitchResult } from './provider';
import { describeRecordSet, inZone, normalizeName, recordFor, recordSet, sameRecords } from './records';
import { runTool, type ToolRun } from './run-tool';

export interface CommandDnsSettings {
  /** DR_DNS_COMMAND: absolute path of an executable. */
  command: string;
  /** DR_DNS_ZONE: names outside it are refused before the script runs. */
  zone: string;
  /** DR_DNS_TTL. */
  ttl: number;
  /** DR_DNS_TIMEOUT_SECONDS: deadline of one run. */
  timeoutSeconds: number;
}

/** sysexits.h EX_TEMPFAIL: the script's way to say "retry later". */
export const EXIT_TEMPFAIL = 75;

type Action = 'check' | 'get' | 'set' | 'delete';

export class CommandDnsProvider implements DnsProvider {
  readonly kind = 'command';
  readonly target: string;
  private readonly zone: string;

  constructor(private readonly settings: CommandDnsSettings) {
    if (!isAbsolute(settings.command)) {
      throw new ConfigInvalid([{ env: 'DR_DNS_COMMAND', message: `must be an absolute path (got "${settings.command}")`, hint: 'set DR_DNS_COMMAND to the absolute path of an executable script' }]);
    }
    this.zone = normalizeName(settings.zone, 'DR_DNS_ZONE');
    this.target = `${settings.command} zone ${this.zone}`;
  }

  async check(): Promise<void> {
    await this.run('check', []);
  }

  async current(record: string): Promise<DnsRecordSet | undefined> {
    const name = this.nameOf(record);
    return this.stateOf(name, await this.run('get', [name]));
  }

  async switch(record: string, value: string, options: DnsSwitchOptions = {}): Promise<DnsSwitchResult> {
    const name = this.nameOf(record);
    return this.apply(name, recordSet(name, options.ttl ?? this.settings.ttl, [recordFor(value)], 'value'));
  }

  async restore(record: string, previous: DnsRecordSet | undefined): Promise<DnsSwitchResult> {
    const name = this.nameOf(record);
    return this.apply(name, previous ? recordSet(name, previous.ttl, previous.records, 'previous') : undefined);
  }

  async remove(record: string): Promise<DnsSwitchResult> {
    return this.apply(this.nameOf(record), undefined);
  }

  private nameOf(record: string): string {
    const name = normalizeName(record, 'record');
    if (!inZone(name, this.zone)) {
      throw new InputInvalid('record', `${name} is not in zone ${this.zone} (DR_DNS_ZONE)`, `switch a name inside the zone, or set DR_DNS_ZONE to the zone that holds ${name}`);
    }
    return name;
  }

  private async apply(name: string, want: DnsRecordSet | undefined): Promise<DnsSwitchResult> {
    const started = Date.now();
    const previous = this.stateOf(name, await this.run('get', [name]));
    if (sameRecords(previous, want) && previous?.ttl === want?.ttl) {
      return { record: name, previous, current: previous, changed: false, elapsedMs: Date.now() - started };
    }
    const output = want
      ? await this.run('set', [name, String(want.ttl), ...want.records.flatMap((r) => [r.type, r.value])], want)
      : await this.run('delete', [name]);
    const current = this.stateOf(name, output);
    if (!sameRecords(current, want)) {
      throw new ToolFailed(`DR_DNS_COMMAND ${want ? 'set' : 'delete'} ${name} reports ${describeRecordSet(current)} afterwards instead of ${describeRecordSet(want)}`, true, 'the script must print what the name holds after the change, read back from the DNS provider');
    }
    return { record: name, previous, current, changed: true, elapsedMs: Date.now() - started };
  }

  /** Run the script; its parsed stdout. */
  private async run(action: Action, args: string[], want?: DnsRecordSet): Promise<unknown> {
    const first = want?.records[0];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LIFEBOAT_DNS_ACTION: action,
      LIFEBOAT_DNS_ZONE: this.zone,
      LIFEBOAT_DNS_RECORD: args[0] ?? '',
      LIFEBOAT_DNS_TTL: String(want?.ttl ?? this.settings.ttl),
      LIFEBOAT_DNS_TYPE: first?.type ?? '',
      LIFEBOAT_DNS_VALUE: first?.value ?? '',
      LIFEBOAT_DNS_RECORDS: JSON.stringify(want?.records ?? []),
    };
    const timeoutMs = this.settings.timeoutSeconds * 1000;
    let run: ToolRun;
    try {
      run = await runTool(this.settings.command, [action, ...args], { env, timeoutMs, installHint: 'set DR_DNS_COMMAND to an existing executable' });
    } catch (error) {
      if (!(error instanceof PrerequisiteMissing)) throw error;
      throw new ConfigInvalid([{ env: 'DR_DNS_COMMAND', message: `${this.settings.command} does not exist`, hint: 'set DR_DNS_COMMAND to the absolute path of an executable script' }]);
    }
    const what = `DR_DNS_COMMAND ${[action, ...args.slice(0, 1)].join(' ')}`;
    const tail = run.stderr.trim().split('\n').slice(-3).join(' | ');
    if (run.timedOut) throw new ServiceUnavailable(`${what} did not finish within ${this.settings.timeoutSeconds} s`, 'raise DR_DNS_TIMEOUT_SECONDS or make the script faster');
    if (run.code === EXIT_TEMPFAIL) throw new ServiceUnavailable(`${what} asked to retry later (exit ${EXIT_TEMPFAIL})${tail ? `: ${tail}` : ''}`);
    if (run.code === null) {
      throw new ConfigInvalid([{ env: 'DR_DNS_COMMAND', message: `${this.settings.command} could not be run${tail ? `: ${tail}` : ''}`, hint: 'set DR_DNS_COMMAND to an executable file (chmod +x) the worker may run' }]);
    }
    if (run.code !== 0) throw new ToolFailed(`${what} failed with exit code ${run.code}${tail ? `: ${tail}` : ''}`, true, `exit ${EXIT_TEMPFAIL} from the script makes the failure retryable`);
    try {
      return JSON.parse(run.stdout.trim()) as unknown;
    } catch {
      throw new ToolFailed(`${what} printed no JSON on stdout (got "${run.stdout.trim().slice(0, 80)}")`, true, 'print what the name holds after the action as JSON: null or {"ttl": 60, "records": [{"type": "A", "value": "10.0.0.5"}]}');
    }
  }

  /** The script's JSON as a record set; ToolFailed when it is not one. */
  private stateOf(name: string, output: unknown): DnsRecordSet | undefined {
    if (output === null || (typeof output === 'object' && output !== null && !('records' in output) && Object.keys(output).length === 0)) return undefined;
    const shape = output as { ttl?: unknown; records?: unknown };
    if (typeof shape !== 'object' || !Array.isArray(shape.records)) {
      throw new ToolFailed(`DR_DNS_COMMAND printed ${JSON.stringify(output).slice(0, 80)} for ${name}, not a record set`, true, 'print null or {"ttl": 60, "records": [{"type": "A", "value": "10.0.0.5"}]}');
    }
    if (shape.records.length === 0) return undefined;
    const records = shape.records.map((r) => {
      const item = r as { type?: unknown; value?: unknown };
      const type = typeof item.type === 'string' ? item.type.toUpperCase() : '';
      if (!['A', 'AAAA', 'CNAME'].includes(type) || typeof item.value !== 'string') {
        throw new ToolFailed(`DR_DNS_COMMAND printed a record ${JSON.stringify(r).slice(0, 80)} for ${name}`, true, 'each record is {"type": "A" | "AAAA" | "CNAME", "value": "..."}');
      }
      return { type, value: item.value } as DnsRecordData;
    });
    const ttl = typeof shape.ttl === 'number' ? shape.ttl : this.settings.ttl;
    return recordSet(name, ttl, records, 'DR_DNS_COMMAND output');
  }
}
