/** restore_command's second source: a WAL file from S3, checked, decrypted and written in place. */
import { isAbsolute, resolve } from 'node:path';
import { loadConfig } from '../lib/config/load';
import { buildKeyRing, buildStores } from '../lib/deps';
import { writeFileAtomic } from '../lib/pipeline/atomic-file';
import { fetchWalRemote } from '../lib/wal/remote';
import { resolveEnvFile } from './context';

export async function fetchFromRemote(name: string, destination: string): Promise<boolean> {
  const config = loadConfig({ envFile: resolveEnvFile() ?? '/dev/null' });
  if (!config.remote.enabled) return false;
  // Keys are loaded only for an encrypted segment, whatever ENCRYPT_BACKUPS says now: WAL shipped
  // before encryption was switched off (or on) must still restore.
  const raw = await fetchWalRemote(name, buildStores(config).offsite(), () => buildKeyRing(config.encryption).privateKeys());
  if (!raw) return false;
  writeFileAtomic(isAbsolute(destination) ? destination : resolve(process.cwd(), destination), raw, 0o600);
  return true;
}
