/**
 * Reading what BIND's own clients print: `dig +noall +answer +comments` (one block per query) and
 * nsupdate's failure lines. Pure, so the parsing is tested on captured output without a server.
 */

export interface DigAnswer {
  /** Owner name, lower case, no trailing dot. */
  name: string;
  ttl: number;
  type: string;
  /** The rdata as dig prints it (a CNAME target keeps dig's trailing dot). */
  data: string;
}

export interface DigResponse {
  /** NOERROR, NXDOMAIN, REFUSED, SERVFAIL, NOTAUTH, ... */
  status: string;
  /** Header flags (`qr`, `aa`, `rd`, ...). */
  flags: string[];
  answers: DigAnswer[];
}

export interface DigOutput {
  responses: DigResponse[];
  /** dig's own error lines (`communications error ...`, `no servers could be reached`). */
  errors: string[];
  /** True when dig printed `Couldn't verify signature` (a TSIG-signed query the server rejected). */
  tsigError: boolean;
}

/** Parse `dig +noall +answer +comments` output with one or more queries. */
export function parseDigOutput(text: string): DigOutput {
  const responses: DigResponse[] = [];
  const errors: string[] = [];
  let tsigError = false;
  let current: DigResponse | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const header = /^;; ->>HEADER<<- opcode: \S+, status: ([A-Z0-9]+),/.exec(line);
    if (header) {
      current = { status: header[1]!, flags: [], answers: [] };
      responses.push(current);
      continue;
    }
    const flags = /^;; flags:([^;]*);/.exec(line);
    if (flags && current) {
      current.flags = flags[1]!.trim().split(/\s+/).filter(Boolean);
      continue;
    }
    if (/^;; Couldn't verify signature/i.test(line)) {
      tsigError = true;
      continue;
    }
    if (/^;; (communications error|connection timed out|no servers could be reached|.*(refused|unreachable|timed out))/i.test(line)) {
      errors.push(line.replace(/^;;\s*/, ''));
      continue;
    }
    if (line.startsWith(';')) continue;
    const fields = line.split(/\s+/);
    if (fields.length >= 5 && current && /^\d+$/.test(fields[1]!)) {
      current.answers.push({ name: fields[0]!.toLowerCase().replace(/\.$/, ''), ttl: Number(fields[1]), type: fields[3]!.toUpperCase(), data: fields.slice(4).join(' ') });
    }
  }
  return { responses, errors, tsigError };
}

/** What went wrong in an nsupdate run, read from its output. */
export interface NsupdateFailure {
  /** `update failed: <RCODE>`: NOTAUTH, REFUSED, NOTZONE, SERVFAIL, ... */
  rcode?: string;
  /** The TSIG error in parentheses (`NOTAUTH(BADSIG)` -> BADSIG): BADKEY, BADSIG, BADTIME, ... */
  tsigError?: string;
  /** `; Communication with <server> failed: <reason>` or a timeout. */
  communication?: string;
  /** `could not read key from ...`. */
  keyFile?: string;
  /** Input nsupdate could not parse (`syntax error`, `invalid rdata format`). */
  syntax?: string;
}

/** Classify nsupdate's stderr/stdout after a non-zero exit. */
export function parseNsupdateFailure(text: string): NsupdateFailure {
  const failure: NsupdateFailure = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const update = /update failed:\s*([A-Z]+)(?:\(([A-Z]+)\))?/.exec(line);
    if (update) {
      failure.rcode = update[1];
      if (update[2]) failure.tsigError = update[2];
      continue;
    }
    const communication = /^; Communication with (.+) failed: (.+)$/.exec(line);
    if (communication) {
      failure.communication = `${communication[1]}: ${communication[2]}`;
      continue;
    }
    if (/^; no response|couldn't get address|timed out/i.test(line)) {
      failure.communication ??= line.replace(/^;\s*/, '');
      continue;
    }
    if (/^could not read key from/i.test(line)) {
      failure.keyFile = line;
      continue;
    }
    if (/syntax error|invalid rdata|bad dotted quad|not a valid|incorrect section name|bad (name|ttl)/i.test(line)) {
      failure.syntax ??= line;
    }
  }
  return failure;
}
