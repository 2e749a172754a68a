/**
 * The local stack's backup key: an OpenPGP key pair (ed25519 + cv25519, no passphrase) generated
 * with the real GnuPG into the stack's own GNUPGHOME, and exported as armored files so Lifeboat can
 * encrypt without a keyring and an operator can decrypt with plain `gpg`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './processes';

export const STACK_KEY_UID = 'Lifeboat Backup (local stack) <backup@corporate-intel.local>';
export const STACK_KEY_EMAIL = 'backup@corporate-intel.local';

export interface StackKeys {
  gnupgHome: string;
  publicKeyFile: string;
  privateKeyFile: string;
}

export function stackKeyPaths(dir: string): StackKeys {
  return { gnupgHome: join(dir, 'gnupg'), publicKeyFile: join(dir, 'keys', 'backup-public.asc'), privateKeyFile: join(dir, 'keys', 'backup-private.asc') };
}

export function ensureStackKeys(gpg: string, dir: string): StackKeys {
  const paths = stackKeyPaths(dir);
  if (existsSync(paths.publicKeyFile) && existsSync(paths.privateKeyFile)) return paths;
  mkdirSync(paths.gnupgHome, { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  const base = ['--homedir', paths.gnupgHome, '--batch'];
  const listed = run(gpg, [...base, '--with-colons', '--list-secret-keys'], { env: process.env }).includes(STACK_KEY_EMAIL);
  if (!listed) {
    run(gpg, [...base, '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', STACK_KEY_UID, 'future-default', 'default', 'never']);
  }
  writeFileSync(paths.publicKeyFile, run(gpg, [...base, '--armor', '--export', STACK_KEY_EMAIL]), { mode: 0o644 });
  writeFileSync(paths.privateKeyFile, run(gpg, [...base, '--pinentry-mode', 'loopback', '--passphrase', '', '--armor', '--export-secret-keys', STACK_KEY_EMAIL]), { mode: 0o600 });
  stopGpgAgent(paths.gnupgHome);
  return paths;
}

/** gpg starts a gpg-agent per home directory that outlives it; stop the stack's one. */
export function stopGpgAgent(gnupgHome: string): void {
  if (existsSync(gnupgHome)) spawnSync('gpgconf', ['--homedir', gnupgHome, '--kill', 'all'], { stdio: 'ignore' });
}
