/**
 * The `lifeboat` CLI entry point: builds a commander program from the command table, validates
 * flags before any connection, and maps every failure to an exit code (exit-codes.ts) with a
 * lower-case message and a `hint:` line on stderr. `main` resolves only once stdout and stderr
 * have handed everything to the OS, so whoever calls `process.exit` with its code (bin/lifeboat.js,
 * the block at the end) never cuts output short: a pipe takes 64 KB at a time, and writes to it are
 * asynchronous.
 */
import { Command, CommanderError } from 'commander';
import { LIFEBOAT_VERSION } from '../lib/version';
import { GROUP_DESCRIPTIONS, type CommandSpec } from './command-table';
import { backupCommands } from './commands/backup';
import { configCommands } from './commands/config';
import { configFileCommands } from './commands/config-files';
import { auditCommands } from './commands/audit';
import { healthCommands } from './commands/health';
import { drCommands } from './commands/dr';
import { minioCommands } from './commands/minio';
import { pitrCommands } from './commands/pitr';
import { maintenanceCommands } from './commands/maintenance';
import { repairCommands } from './commands/repair';
import { restoreCommands } from './commands/restore';
import { scheduleCommands } from './commands/schedules';
import { stackCommands } from './commands/stack';
import { statusCommands } from './commands/status';
import { startCommands } from './commands/start';
import { temporalCommands } from './commands/temporal';
import { workerCommands } from './commands/worker';
import { describeError, EXIT, exitCodeFor } from './exit-codes';

export const COMMANDS: CommandSpec[] = [...startCommands, ...backupCommands, ...restoreCommands, ...pitrCommands, ...repairCommands, ...drCommands, ...minioCommands, ...scheduleCommands, ...maintenanceCommands, ...stackCommands, ...workerCommands, ...healthCommands, ...configCommands, ...configFileCommands, ...auditCommands, ...statusCommands, ...temporalCommands];

export function buildProgram(commands: CommandSpec[], setExit: (code: number) => void): Command {
  const program = new Command('lifeboat')
    .description('durable backup and disaster recovery for PostgreSQL + MinIO, on Temporal')
    .version(LIFEBOAT_VERSION)
    .exitOverride()
    // A command may also be a group (`restore <backup>` and `restore config`): options after a
    // subcommand's name are that subcommand's, so `restore config --target DIR` is not `restore --target DB`.
    .enablePositionalOptions()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'lifeboat: ')) });
  const groups = new Map<string, Command>();
  for (const spec of commands) {
    const words = spec.name.split(' ');
    let parent = program;
    for (const [depth, word] of words.slice(0, -1).entries()) {
      const key = `${parent.name()}/${word}`;
      let group = groups.get(key) ?? parent.commands.find((c) => c.name() === word)?.enablePositionalOptions();
      if (!group) {
        group = parent.command(word).exitOverride();
        groups.set(key, group);
      }
      if (!group.description()) {
        group.description(GROUP_DESCRIPTIONS[words.slice(0, depth + 1).join(' ')] ?? '');
      }
      parent = group;
    }
    const cmd = parent.command(words[words.length - 1]!).description(spec.summary).exitOverride();
    if (spec.passThrough) cmd.helpOption(false).allowUnknownOption().allowExcessArguments().passThroughOptions();
    for (const arg of spec.args ?? []) {
      const name = `${arg.name}${arg.variadic ? '...' : ''}`;
      cmd.argument(arg.optional ? `[${name}]` : `<${name}>`, arg.description);
    }
    for (const option of spec.options ?? []) cmd.option(option.flags, option.description, option.default as string | boolean | undefined);
    cmd.action(async (...params: unknown[]) => {
      const command = params[params.length - 1] as Command;
      const args = command.args;
      const code = await spec.run(args, command.opts());
      setExit(code ?? EXIT.ok);
    });
  }
  return program;
}

/** Resolves once everything written so far to `stream` is with the OS (or the reader is gone). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    // Writes complete in order: the callback of an empty write runs after all earlier ones.
    stream.write('', () => resolve());
  });
}

/** Wait until stdout and stderr are drained; then `process.exit` loses nothing. */
export async function flushOutput(): Promise<void> {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
}

/** Run one command line; resolves with its exit code once its output is drained. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const code = await runCommandLine(argv);
  await flushOutput();
  return code;
}

async function runCommandLine(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(COMMANDS, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not failures; usage errors are bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    process.stderr.write(`lifeboat: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
}

if (require.main === module) {
  // A reader that went away (`lifeboat backups list | head`) is not an error of the command.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  main().then(
    (code) => process.exit(code),
    async (error: unknown) => {
      process.stderr.write(`lifeboat: ${describeError(error)}\n`);
      await flushOutput();
      process.exit(exitCodeFor(error));
    },
  );
}
