/**
 * OpenPGP encryption that GnuPG reads: public-key encrypted session key + SEIPD v1 (AES-256-CFB
 * with MDC), binary literal data, no OpenPGP-level compression (we compress before encrypting).
 * Keys come from an armored file or are exported from the local GnuPG keyring.
 *
 * Encryption is split for speed: openpgp.js writes only the small public-key encrypted session key
 * packet; the bulk SEIPD v1 packet (RFC 4880 5.13) is written here with node:crypto in large
 * chunks, which is an order of magnitude faster than openpgp.js's Web Streams pipeline. Decryption
 * stays with openpgp.js (Web Streams inside, Node streams outside).
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes, type Cipher, type Hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Duplex, PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
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
  return (await createEncryptStreamWithSessionKey(key)).stream;
}

/**
 * The same, plus the message's session key, so the writer can prove the written message decrypts
 * (createDecryptStream with `{ sessionKey }`) without holding the private key. The session key
 * opens this one message only; keep it in memory and drop it with the stream.
 */
export async function createEncryptStreamWithSessionKey(key: EncryptionKey): Promise<{ stream: Duplex; sessionKey: Buffer }> {
  // AES-256: every OpenPGP implementation since RFC 4880 reads it, GnuPG 2.2 included.
  const sessionKey = randomBytes(32);
  const pkesk = await openpgp.encryptSessionKey({ data: sessionKey, algorithm: 'aes256', encryptionKeys: key.key, format: 'binary', config: ENCRYPT_CONFIG });
  return { stream: new SeipdEncryptStream(Buffer.from(pkesk), sessionKey), sessionKey };
}

/** Size of each partial body part (RFC 4880 4.2.2.4: a power of two; the first at least 512). */
const PART_BITS = 16;
const PART_SIZE = 1 << PART_BITS;
const TAG_LITERAL = 11;
const TAG_SEIPD = 18;

/** A definite body length (RFC 4880 4.2.2.1-3). */
function bodyLength(n: number): Buffer {
  if (n < 192) return Buffer.from([n]);
  if (n < 8384) return Buffer.from([((n - 192) >> 8) + 192, (n - 192) & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0xff;
  b.writeUInt32BE(n, 1);
  return b;
}

/**
 * The body of one new-format packet whose length is unknown until the end: written as partial body
 * lengths of PART_SIZE, then a last part with a definite length. A part's header precedes its data,
 * so up to one part is held back (as references to the written buffers, not copies) until more
 * data shows it is not the last; the last part is therefore never empty, and a body shorter than
 * one part becomes a single definite-length packet.
 */
class PartialBodyWriter {
  private pending: Buffer[] = [];
  private head = 0;
  private pendingBytes = 0;
  private started = false;

  constructor(private readonly tag: number) {}

  /** Frame `data`; completed pieces (headers and data) are appended to `out`. */
  write(data: Buffer, out: Buffer[]): void {
    if (data.length === 0) return;
    this.pending.push(data);
    this.pendingBytes += data.length;
    while (this.pendingBytes > PART_SIZE) {
      out.push(this.started ? PARTIAL_HEADER : Buffer.from([0xc0 | this.tag, 0xe0 | PART_BITS]));
      this.started = true;
      this.take(PART_SIZE, out);
    }
  }

  /** The last part, with its definite length. */
  end(out: Buffer[]): void {
    const length = bodyLength(this.pendingBytes);
    out.push(this.started ? length : Buffer.concat([Buffer.from([0xc0 | this.tag]), length]));
    this.take(this.pendingBytes, out);
  }

  private take(n: number, out: Buffer[]): void {
    this.pendingBytes -= n;
    while (n > 0) {
      const first = this.pending[this.head]!;
      if (first.length <= n) {
        out.push(first);
        this.head++;
        n -= first.length;
      } else {
        out.push(first.subarray(0, n));
        this.pending[this.head] = first.subarray(n);
        n = 0;
      }
    }
    if (this.head > 64) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}

const PARTIAL_HEADER = Buffer.from([0xe0 | PART_BITS]);

/**
 * Streaming OpenPGP message: the PKESK packet(s) as given, then a SEIPD v1 packet (tag 18, version
 * 1) holding, encrypted with AES-256 in CFB mode with a zero IV: 16 random octets and a repeat of
 * their last two, a literal data packet (tag 11, format 'b', no file name) with partial body
 * lengths, and the MDC packet (0xD3 0x14 + SHA-1 of all the plaintext before it, 0xD3 0x14 included).
 * Chunks are encrypted as they come, without copies; memory is bounded by the two held-back parts
 * plus the stream buffers.
 */
class SeipdEncryptStream extends Transform {
  private readonly cipher: Cipher;
  private readonly mdc: Hash = createHash('sha1');
  private readonly literal = new PartialBodyWriter(TAG_LITERAL);
  private readonly seipd = new PartialBodyWriter(TAG_SEIPD);
  private started = false;

  constructor(
    private readonly pkesk: Buffer,
    sessionKey: Buffer,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.cipher = createCipheriv('aes-256-cfb', sessionKey, Buffer.alloc(16));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const plain: Buffer[] = [];
    const out: Buffer[] = [];
    this.begin(plain, out);
    this.literal.write(chunk, plain);
    this.encrypt(plain, out);
    for (const piece of out) this.push(piece);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const plain: Buffer[] = [];
    const out: Buffer[] = [];
    this.begin(plain, out);
    this.literal.end(plain);
    plain.push(Buffer.from([0xd3, 0x14]));
    this.encrypt(plain, out);
    this.encrypt([this.mdc.digest()], out, false);
    const final = this.cipher.final();
    if (final.length > 0) this.seipd.write(final, out);
    this.seipd.end(out);
    for (const piece of out) this.push(piece);
    callback();
  }

  /** First call only: the PKESK packets, the SEIPD version octet and the encrypted prefix's plaintext. */
  private begin(plain: Buffer[], out: Buffer[]): void {
    if (this.started) return;
    this.started = true;
    out.push(this.pkesk);
    this.seipd.write(Buffer.from([1]), out);
    const prefix = randomBytes(18);
    prefix.copy(prefix, 16, 14, 16);
    plain.push(prefix);
    const literalHeader = Buffer.from([0x62, 0, 0, 0, 0, 0]);
    literalHeader.writeUInt32BE(Math.floor(Date.now() / 1000), 2);
    this.literal.write(literalHeader, plain);
  }

  /** Hash (for the MDC) and encrypt plaintext pieces in order; frame the ciphertext into `out`. */
  private encrypt(plain: Buffer[], out: Buffer[], hash = true): void {
    for (const piece of plain) {
      if (piece.length === 0) continue;
      if (hash) this.mdc.update(piece);
      this.seipd.write(this.cipher.update(piece), out);
    }
  }
}

/**
 * A Duplex: OpenPGP message in, plaintext out. The MDC is checked at the end of the stream (a
 * tampered message errors there), so callers check the file's sha256 before trusting any output.
 */
export function createDecryptStream(keys: openpgp.PrivateKey[] | { sessionKey: Buffer }): Duplex {
  const input = new PassThrough({ highWaterMark: 1 << 20 });
  const output = new PassThrough({ highWaterMark: 1 << 20 });
  // readMessage consumes the packet headers, so it can only run once data flows in: start it in
  // the background and forward its plaintext (or its error) to `output`.
  void (async () => {
    const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(input) as unknown as ReadableStream<Uint8Array> });
    const opened = Array.isArray(keys) ? { decryptionKeys: keys } : { sessionKeys: { data: new Uint8Array(keys.sessionKey), algorithm: 'aes256' as const } };
    const { data } = await openpgp.decrypt({ message, ...opened, format: 'binary', config: { allowUnauthenticatedStream: true } });
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
