/**
 * `lifeboat wal archive %p %f` and `lifeboat wal fetch %f %p`: PostgreSQL's archive_command and
 * restore_command. They run once per WAL file, as the `postgres` OS user, so this module loads
 * nothing heavy up front (bin/lifeboat.js calls it directly, without the full CLI) and reads only
 * the settings it needs. Exit 0 only on success: PostgreSQL keeps the WAL file and retries otherwise.
 */
import { walArchiveDir } from '../lib/catalog/paths';
import { readRawEnv } from '../lib/config/load';
import { SETTINGS, valueSchema } from '../lib/config/schema';
import { InputInvalid, isLifeboatError } from '../lib/errors';
import { archiveWalFile, fetchWalLocal } from '../lib/wal/archive';

/** Every value of `name` (given as `name VALUE` or `name=VALUE`, possibly repeated) and the other arguments. */
function option(args: string[], name: string): { values: string[]; rest: string[] } {
  const rest: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === name) {
      const value = args[++i];
      if (value !== undefined) values.push(value);
    } else if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1));
    else rest.push(arg);
  }
  return { values, rest };
}

/** The local WAL archive: --archive-dir, else $BACKUP_ROOT/wal-archive (only BACKUP_ROOT is read). */
function archiveDirFrom(explicit: string | undefined): string {
  if (explicit) return explicit;
  const { raw } = readRawEnv();
  const spec = SETTINGS.find((s) => s.env === 'BACKUP_ROOT')!;
  const parsed = valueSchema(spec.kind).safeParse(raw.BACKUP_ROOT ?? spec.default);
  if (!parsed.success) throw new InputInvalid('BACKUP_ROOT', `must be an absolute path (got "${raw.BACKUP_ROOT}")`, spec.hint);
  return walArchiveDir(parsed.data as string);
}

export async function walArchiveCommand(args: string[]): Promise<number> {
  const { values, rest } = option(args, '--archive-dir');
  if (values.length > 1) throw new InputInvalid('--archive-dir', 'archive into one directory: give --archive-dir once', "set archive_command = 'lifeboat wal archive --archive-dir DIR %p %f'");
  const [path, name] = rest;
  if (!path || !name) throw new InputInvalid('arguments', 'usage: lifeboat wal archive [--archive-dir DIR] %p %f', "set archive_command = 'lifeboat wal archive %p %f'");
  const outcome = await archiveWalFile(path, name, archiveDirFrom(values[0]));
  if (outcome === 'already-archived') process.stderr.write(`lifeboat: ${name} was already archived with identical content\n`);
  return 0;
}

export async function walFetchCommand(args: string[]): Promise<number> {
  const local = option(args, '--archive-dir');
  const noRemote = local.rest.includes('--no-remote');
  const [name, path] = local.rest.filter((a) => a !== '--no-remote');
  if (!name || !path) throw new InputInvalid('arguments', 'usage: lifeboat wal fetch [--archive-dir DIR]... [--no-remote] %f %p', "set restore_command = 'lifeboat wal fetch %f %p'");
  // Several --archive-dir are searched in order (point-in-time recovery: the run's own directory of
  // WAL fetched from S3, then the archive); none means $BACKUP_ROOT/wal-archive.
  const dirs = local.values.length > 0 ? local.values : [archiveDirFrom(undefined)];
  for (const dir of dirs) if (await fetchWalLocal(name, dir, path)) return 0;
  if (noRemote) return 1;
  // Not in the local archive: S3 (needs the full configuration and the private key).
  const { fetchFromRemote } = await import('./wal-remote-fetch');
  return (await fetchFromRemote(name, path)) ? 0 : 1;
}

/** Exit status of `wal fetch` for errors other than "not found": makes PostgreSQL abort recovery. */
export const FETCH_ERROR_EXIT = 126;

export async function runWalCli(argv: string[]): Promise<number> {
  const [verb, ...args] = argv;
  try {
    if (verb === 'archive') return await walArchiveCommand(args);
    if (verb === 'fetch') return await walFetchCommand(args);
    throw new InputInvalid('wal', `unknown verb "${verb}"`, 'use lifeboat wal archive|fetch|ship|status');
  } catch (error) {
    const hint = isLifeboatError(error) && error.hint ? `\nhint: ${error.hint}` : '';
    process.stderr.write(`lifeboat: wal ${verb ?? ''}: ${error instanceof Error ? error.message : String(error)}${hint}\n`);
    if (error instanceof InputInvalid) return InputInvalid.exitCode;
    // restore_command: exit 1 means "no such file" and quietly ends recovery there. Any other failure
    // (checksum, key, network) must abort recovery instead, which PostgreSQL does for status > 125.
    return verb === 'fetch' ? FETCH_ERROR_EXIT : 1;
  }
}
