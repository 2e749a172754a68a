/**
 * Reading what a recovering PostgreSQL server says in its log, pure. The server is the authority on
 * where recovery stopped: "recovery stopping before commit of transaction 745, time ..." names the
 * first transaction it did NOT apply, "last completed transaction was at log time ..." the last one
 * it did. A FATAL/PANIC line, or "recovery ended before configured recovery target was reached",
 * means the cluster did not come up.
 */

export interface RecoveryStop {
  /** `before` (the named transaction is not applied) or `after` (it is: its time equals the target). */
  position: 'before' | 'after';
  kind: 'commit' | 'abort';
  xid: string;
  /** The transaction's time as the server printed it, e.g. `2025-10-17 14:30:01.123456+00`. */
  time: string;
}

export interface RecoveryLogFacts {
  /** The target the server said it recovers to (confirms recovery_target_time was read). */
  target?: string;
  /** WAL files restore_command delivered. */
  restoredFiles: number;
  lastRestoredFile?: string;
  consistentAt?: string;
  stop?: RecoveryStop;
  lastCompletedTransactionAt?: string;
  redoDoneAt?: string;
  newTimeline?: number;
  /** The server finished recovery and accepts connections. */
  ready: boolean;
  /** WAL ran out before the target (PostgreSQL 14+ then shuts down). */
  endedBeforeTarget: boolean;
  /** FATAL and PANIC messages, oldest first. */
  fatal: string[];
}

/** Message text of a log line (after the `LOG:`/`FATAL:` tag), whatever log_line_prefix is. */
function messages(text: string): { level: string; message: string }[] {
  const out: { level: string; message: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /\b(LOG|FATAL|PANIC|ERROR|WARNING|DETAIL|HINT):\s+(.*)$/.exec(line);
    if (m) out.push({ level: m[1]!, message: m[2]!.trim() });
  }
  return out;
}

const CLIENT_FATAL =
  /^(the database system is (starting up|not yet accepting connections|shutting down|in recovery mode)|password authentication failed|no pg_hba\.conf entry|role ".*" does not exist|database ".*" does not exist|terminating connection due to administrator command|canceling statement)/;

export function parseRecoveryLog(text: string): RecoveryLogFacts {
  const facts: RecoveryLogFacts = { restoredFiles: 0, ready: false, endedBeforeTarget: false, fatal: [] };
  for (const { level, message } of messages(text)) {
    let m: RegExpExecArray | null;
    if (level === 'FATAL' || level === 'PANIC') {
      // Refused client connections (ours, polling while it starts) are logged as FATAL too.
      if (level === 'FATAL' && CLIENT_FATAL.test(message)) continue;
      facts.fatal.push(message);
      if (/recovery ended before configured recovery target was reached/.test(message)) facts.endedBeforeTarget = true;
    } else if ((m = /^starting point-in-time recovery to (.+)$/.exec(message))) {
      facts.target = m[1]!;
    } else if ((m = /^restored log file "([^"]+)" from archive$/.exec(message))) {
      facts.restoredFiles++;
      facts.lastRestoredFile = m[1]!;
    } else if ((m = /^consistent recovery state reached at ([0-9A-F]+\/[0-9A-F]+)/.exec(message))) {
      facts.consistentAt = m[1]!;
    } else if ((m = /^recovery stopping (before|after) (commit|abort) of transaction (\d+), time (.+)$/.exec(message))) {
      facts.stop = { position: m[1] as 'before' | 'after', kind: m[2] as 'commit' | 'abort', xid: m[3]!, time: m[4]! };
    } else if ((m = /^last completed transaction was at log time (.+)$/.exec(message))) {
      facts.lastCompletedTransactionAt = m[1]!;
    } else if ((m = /^redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(message))) {
      facts.redoDoneAt = m[1]!;
    } else if ((m = /^selected new timeline ID: (\d+)/.exec(message))) {
      facts.newTimeline = Number(m[1]);
    } else if (/^database system is ready to accept connections$/.test(message)) {
      facts.ready = true;
    }
  }
  return facts;
}

/** One line for people: where recovery stopped. */
export function describeStop(facts: RecoveryLogFacts): string | undefined {
  if (!facts.stop) return undefined;
  const s = facts.stop;
  return `recovery stopping ${s.position} ${s.kind} of transaction ${s.xid}, time ${s.time}`;
}
