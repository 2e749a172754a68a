/**
 * The hand-written SEIPD v1 stream (lib/crypto/openpgp.ts) against both readers that matter: the
 * real GnuPG binary (what an operator restores with) and openpgp.js (what Lifeboat restores with),
 * with a throwaway key in a temporary GNUPGHOME. Sizes straddle the partial-body part boundaries of
 * both the literal packet and the encrypted packet.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config/load';
import { createDecryptStream, createEncryptStream, loadPublicKey, type EncryptionKey } from '../../lib/crypto/openpgp';

const hasGpg = spawnSync('gpg', ['--version']).status === 0;
const PART = 1 << 16;

let home: string;
let key: EncryptionKey;
let privateKey: openpgp.PrivateKey;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'lifeboat-pgp-'));
  chmodSync(home, 0o700);
  const generated = await openpgp.generateKey({ userIDs: [{ name: 'Lifeboat test', email: 'test@lifeboat.invalid' }], format: 'armored' });
  writeFileSync(join(home, 'public.asc'), generated.publicKey);
  writeFileSync(join(home, 'private.asc'), generated.privateKey);
  privateKey = await openpgp.readPrivateKey({ armoredKey: generated.privateKey });
  const encryption = { enabled: true, recipient: 'test@lifeboat.invalid', publicKeyFile: join(home, 'public.asc'), privateKeyFile: undefined, passphrase: undefined, gnupgHome: home } as Config['encryption'];
  key = await loadPublicKey(encryption);
  if (hasGpg) {
    const imported = spawnSync('gpg', ['--homedir', home, '--batch', '--import', join(home, 'private.asc')], { encoding: 'utf8' });
    expect(imported.status, imported.stderr).toBe(0);
  }
});

afterAll(() => {
  if (hasGpg) spawnSync('gpgconf', ['--homedir', home, '--kill', 'gpg-agent']);
  rmSync(home, { recursive: true, force: true });
});

/** Encrypt `data`, fed in pieces of the given sizes (cycled), collecting the message. */
async function encrypt(data: Buffer, pieces: number[] = [data.length || 1]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const n = Math.max(1, pieces[i % pieces.length]!);
    chunks.push(data.subarray(offset, offset + n));
    offset += n;
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), await createEncryptStream(key), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

function gpgDecrypt(message: Buffer): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--status-fd', '2', '--decrypt'], { input: message, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

async function openpgpDecrypt(message: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([message]), createDecryptStream([privateKey]), new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }));
  return Buffer.concat(out);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const SIZES = [
  0, 1, 2, 191, 192, 511, 512, 8377, 8378, 8383, 8384,
  // the literal packet fills its first part (6 header octets + data) and the encrypted packet
  // (version + 18 prefix + literal + 22 MDC) reaches its first part boundary
  ...Array.from({ length: 14 }, (_, i) => 65476 + i),
  ...Array.from({ length: 14 }, (_, i) => 65524 + i),
  ...Array.from({ length: 12 }, (_, i) => PART * 2 - 60 + i),
  PART * 2 - 7, PART * 2 - 6, PART * 2 - 5, PART * 2, PART * 2 + 1, PART * 3 + 12345,
];

describe('OpenPGP SEIPD v1 stream', () => {
  it.skipIf(!hasGpg)('is decrypted by gpg (MDC checked) and by openpgp.js at sizes around part boundaries', async () => {
    for (const size of SIZES) {
      const data = randomBytes(size);
      const message = await encrypt(data, [1000, 7, 65536, 3]);
      const gpg = gpgDecrypt(message);
      expect(gpg.status, `gpg at ${size} bytes: ${gpg.stderr}`).toBe(0);
      expect(gpg.stderr).toContain('[GNUPG:] GOODMDC');
      expect(gpg.stderr).toContain('[GNUPG:] DECRYPTION_OKAY');
      expect(gpg.stderr).not.toMatch(/not integrity protected/i);
      expect(sha(gpg.stdout), `gpg at ${size} bytes`).toBe(sha(data));
      expect(sha(await openpgpDecrypt(message)), `openpgp.js at ${size} bytes`).toBe(sha(data));
    }
  });

  it('is read by openpgp.js without the streaming shortcut (full MDC check), whatever the input chunking', async () => {
    const data = randomBytes(PART * 5 + 777);
    for (const pieces of [[data.length], [8191], [65536], [65535, 2], [4096, 100000]]) {
      const message = await encrypt(data, pieces);
      const { data: plain } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: message }), decryptionKeys: privateKey, format: 'binary' });
      expect(sha(Buffer.from(plain))).toBe(sha(data));
    }
  });

  it.skipIf(!hasGpg)('has the packet structure GnuPG 2.2 expects: v3 PKESK, SEIPD v1 with MDC, binary literal data', async () => {
    const message = await encrypt(Buffer.from('hello, lifeboat\n'));
    const r = spawnSync('gpg', ['--homedir', home, '--batch', '--list-packets'], { input: message, encoding: 'latin1' });
    expect(r.stdout).toMatch(/:pubkey enc packet: version 3, algo 18/);
    expect(r.stdout).toMatch(/:encrypted data packet:\n\s+length: \d+\n\s+mdc_method: 2/);
    expect(r.stdout).toMatch(/:literal data packet:\n\s+mode b \(62\)/);
    // DECRYPTION_INFO <mdc method> <cipher>: 2 = SHA-1 MDC, 9 = AES-256
    expect(gpgDecrypt(message).stderr).toMatch(/\[GNUPG:\] DECRYPTION_INFO 2 9\b/);
  });

  it.skipIf(!hasGpg)('streams tens of MB through gpg, and a flipped bit fails the MDC', async () => {
    const data = Buffer.concat(Array.from({ length: 40 }, () => randomBytes(1 << 20)));
    const message = await encrypt(data, [65536, 1 << 20, 12345]);
    const gpg = gpgDecrypt(message);
    expect(gpg.status, gpg.stderr).toBe(0);
    expect(sha(gpg.stdout)).toBe(sha(data));
    const tampered = Buffer.from(message);
    tampered[tampered.length - 1000]! ^= 0x01;
    const bad = gpgDecrypt(tampered);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).not.toContain('[GNUPG:] GOODMDC');
  });
});

describe('artifact pipeline (producer -> zstd -> OpenPGP -> file)', () => {
  it.skipIf(!hasGpg || spawnSync('zstd', ['--version']).status !== 0)('hands a spawned producer\'s pipe to zstd, or pipes a node stream through node, with the same restorable result', async () => {
    const { writeArtifact } = await import('../../lib/pipeline/artifact');
    const raw = Buffer.concat([Buffer.from('-- a dump\n'.repeat(50000)), randomBytes(3 << 20)]);
    const rawFile = join(home, 'raw.bin');
    writeFileSync(rawFile, raw);
    for (const spawned of [true, false]) {
      const target = join(home, `out-${spawned}.zst.gpg`);
      const source = spawned ? { tool: { command: 'cat', args: [rawFile] } } : { stream: Readable.from([raw.subarray(0, 1 << 20), raw.subarray(1 << 20)]) };
      // A small decode limit: the bigger file is proven by the in-flight test decode only.
      const facts = await writeArtifact({ source, target, compression: { algorithm: 'zstd', level: 3 }, encryptionKey: key, expect: { what: 'the test data', minBytes: 1, magic: { offset: 0, bytes: Buffer.from('-- a dump') } }, decodeLimit: spawned ? undefined : 1024 });
      expect(facts.rawBytes).toBe(raw.length);
      expect(facts.proof.method).toBe(spawned ? 'decoded-file' : 'test-decoded-stream');
      expect(facts.proof.decodedBytes).toBe(raw.length);
      const restored = spawnSync('bash', ['-c', `set -o pipefail; gpg --homedir '${home}' --batch --quiet --decrypt '${target}' | zstd -d -q -c`], { maxBuffer: 1 << 30 });
      expect(restored.status, restored.stderr.toString()).toBe(0);
      expect(sha(restored.stdout)).toBe(sha(raw));
      expect(facts.sha256).toBe(sha(readFileSync(target)));
      expect(facts.bytes).toBe(readFileSync(target).length);
    }
  });
});
