/**
 * OpenPGP encryption that GnuPG reads: public-key encrypted session key + SEIPD v1 (AES-256-CFB
 * with MDC), binary literal data, no OpenPGP-level compression (we compress before encrypting).
 * Keys come from an armored file or are exported from the local GnuPG keyring. Streams are Node
 * streams outside, Web Streams inside openpgp.js.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Duplex, PassThrough, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as openpgp from 'openpgp';
import type { Config } from '../config/load';
import { KeyUnavailable } from '../errors';

export interface EncryptionKey {
  key: openpgp.PublicKey;
  /** Fingerprint of the primary key (what `gpg --list-keys` shows). */
  fingerprint: string;
  /** Fingerprint of the subkey that actually encrypts. */
  encryptionSubkey: string;
  recipient: string;
}

const ENCRYPT_CONFIG = { preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed, aeadProtect: false };

function matchesRecipient(key: openpgp.Key, recipient: string): boolean {
  const needle = recipient.toLowerCase().replace(/^0x/, '').replace(/\s+/g, '');
  if (key.getFingerprint().toLowerCase().endsWith(needle) && needle.length >= 8) return true;
  return key.getUserIDs().some((uid) => uid.toLowerCase().includes(recipient.toLowerCase()));
}

function gpgExport(args: string[], encryption: Config['encryption']): string {
  const env = { ...process.env, ...(encryption.gnupgHome ? { GNUPGHOME: encryption.gnupgHome } : {}) };
  const result = spawnSync('gpg', ['--batch', '--armor', ...args], { env, encoding: 'utf8', input: encryption.passphrase ?? '' });
  if (result.error) throw new KeyUnavailable(`gpg could not run: ${result.error.message}`, 'install GnuPG or set GPG_PUBLIC_KEY_FILE / GPG_PRIVATE_KEY_FILE');
  return result.stdout;
}

/** The recipient's public key, from GPG_PUBLIC_KEY_FILE or the GnuPG keyring. */
export async function loadPublicKey(encryption: Config['encryption']): Promise<EncryptionKey> {
  const recipient = encryption.recipient;
  if (!recipient) throw new KeyUnavailable('GPG_RECIPIENT is not set', 'set GPG_RECIPIENT to the backup key\'s e-mail or fingerprint');
  let armored: string;
  if (encryption.publicKeyFile) {
    if (!existsSync(encryption.publicKeyFile)) {
      throw new KeyUnavailable(`public key file ${encryption.publicKeyFile} does not exist`, 'export it with `gpg --export --armor <recipient> > file` or fix GPG_PUBLIC_KEY_FILE');
    }
    armored = readFileSync(encryption.publicKeyFile, 'utf8');
  } else {
    armored = gpgExport(['--export', recipient], encryption);
    if (!armored.trim()) {
      throw new KeyUnavailable(`no public key for GPG_RECIPIENT=${recipient} in the GnuPG keyring`, 'import it with `gpg --import key.asc`, or set GPG_PUBLIC_KEY_FILE');
    }
  }
  let keys: openpgp.Key[];
  try {
    keys = await openpgp.readKeys({ armoredKeys: armored });
  } catch (error) {
    throw new KeyUnavailable(`cannot read the public key: ${(error as Error).message}`, 'the key must be an armored OpenPGP public key');
  }
  const key = keys.find((k) => matchesRecipient(k, recipient));
  if (!key) throw new KeyUnavailable(`the key material has no key for GPG_RECIPIENT=${recipient}`, 'check GPG_RECIPIENT against `gpg --list-keys`');
  const encryptionKey = await key.getEncryptionKey().catch(() => undefined);
  if (!encryptionKey) throw new KeyUnavailable(`the key for ${recipient} cannot encrypt (expired, revoked or no encryption subkey)`, 'renew the key or add an encryption subkey');
  return { key: key.toPublic(), fingerprint: key.getFingerprint().toUpperCase(), encryptionSubkey: encryptionKey.getFingerprint().toUpperCase(), recipient };
}

/** Private keys for decryption, from GPG_PRIVATE_KEY_FILE or the GnuPG keyring, unlocked. */
export async function loadPrivateKeys(encryption: Config['encryption']): Promise<openpgp.PrivateKey[]> {
  let armored: string;
  if (encryption.privateKeyFile) {
    if (!existsSync(encryption.privateKeyFile)) throw new KeyUnavailable(`private key file ${encryption.privateKeyFile} does not exist`, 'fix GPG_PRIVATE_KEY_FILE');
    armored = readFileSync(encryption.privateKeyFile, 'utf8');
  } else {
    armored = gpgExport(['--pinentry-mode', 'loopback', '--passphrase-fd', '0', '--export-secret-keys', ...(encryption.recipient ? [encryption.recipient] : [])], encryption);
    if (!armored.trim()) throw new KeyUnavailable('no private key in the GnuPG keyring', 'import it with `gpg --import backup-private-key.asc`, or set GPG_PRIVATE_KEY_FILE');
  }
  let keys: openpgp.PrivateKey[];
  try {
    keys = await openpgp.readPrivateKeys({ armoredKeys: armored });
  } catch (error) {
    throw new KeyUnavailable(`cannot read the private key: ${(error as Error).message}`, 'the key must be an armored OpenPGP private key');
  }
  return Promise.all(
    keys.map(async (k) => {
      if (k.isDecrypted()) return k;
      if (!encryption.passphrase) throw new KeyUnavailable(`private key ${k.getFingerprint().toUpperCase()} is protected by a passphrase`, 'set GPG_PASSPHRASE');
      try {
        return await openpgp.decryptKey({ privateKey: k, passphrase: encryption.passphrase });
      } catch {
        throw new KeyUnavailable(`GPG_PASSPHRASE does not unlock private key ${k.getFingerprint().toUpperCase()}`, 'set the right GPG_PASSPHRASE');
      }
    }),
  );
}

function webToNode(stream: unknown): Readable {
  return Readable.fromWeb(stream as WebReadableStream<Uint8Array>);
}

/** A Duplex: plaintext (already compressed) in, OpenPGP binary message out. */
export async function createEncryptStream(key: EncryptionKey): Promise<Duplex> {
  const input = new PassThrough({ highWaterMark: 1 << 20 });
  const message = await openpgp.createMessage({ binary: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>, format: 'binary' });
  const encrypted = await openpgp.encrypt({ message, encryptionKeys: key.key, format: 'binary', config: ENCRYPT_CONFIG });
  return Duplex.from({ writable: input, readable: webToNode(encrypted) });
}

/**
 * A Duplex: OpenPGP message in, plaintext out. The MDC is checked at the end of the stream (a
 * tampered message errors there), so callers check the file's sha256 before trusting any output.
 */
export function createDecryptStream(privateKeys: openpgp.PrivateKey[]): Duplex {
  const input = new PassThrough({ highWaterMark: 1 << 20 });
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  // readMessage consumes the packet headers, so it can only run once data flows in: start it in
  // the background and forward its plaintext (or its error) to `output`.
  void (async () => {
    const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array> });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: privateKeys, format: 'binary', config: { allowUnauthenticatedStream: true } });
    const plain = webToNode(data);
    plain.on('error', (error) => output.destroy(classifyDecryptError(error)));
    plain.pipe(output);
  })().catch((error: unknown) => output.destroy(classifyDecryptError(error)));
  return Duplex.from({ writable: input, readable: output });
}

function classifyDecryptError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/Session key decryption failed|No decryption key|not decrypted|Error decrypting message: Session key/i.test(message)) {
    return new KeyUnavailable(`decryption failed: ${message}`, 'the private key does not match the backup\'s recipient key; set GPG_PRIVATE_KEY_FILE to the right key');
  }
  return error instanceof Error ? error : new Error(message);
}
