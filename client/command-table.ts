/**
 * The CLI is one command table: each verb declares its arguments and options and has one handler.
 * main.ts turns the table into a commander program and maps every error to an exit code.
 */
export interface CommandSpec {
  /** Space-separated path, e.g. 'stack up'. */
  name: string;
  summary: string;
  args?: { name: string; description: string; optional?: boolean; variadic?: boolean }[];
  options?: { flags: string; description: string; default?: string | boolean }[];
  /** Returns the exit code (default 0). Throw for failures; exit-codes.ts maps them. */
  run(args: string[], opts: Record<string, unknown>): Promise<number | void>;
}
