/**
 * How a disaster recovery points clients at the restored endpoints: one record switched to a new
 * address. Interface only: the providers (rfc2136, command) come with the DR runbook.
 */
export interface DnsProvider {
  /** Provider kind, for messages (`rfc2136`, `command`). */
  readonly kind: string;
  /** The record's current value (undefined when it does not exist). */
  current(record: string): Promise<string | undefined>;
  /** Point `record` at `value`. Idempotent: switching to the current value succeeds. */
  switch(record: string, value: string): Promise<void>;
}
