/**
 * Parallel WAL shipping (lib/wal/remote.ts shipWalFiles) against the backup MinIO, in a bucket of its
 * own: at most WAL_SHIP_CONCURRENCY uploads at once, started oldest first; when one segment fails,
 * nothing new starts, those in flight finish and the failure is thrown; the exposure's "newest
 * off-site" never claims a segment behind the one that failed (out-of-order completion), and a retry
 * ships the rest and moves it forward.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPublicKey } from '../../lib/crypto/openpgp';
import { createS3Client, S3Store, s3SettingsFromConfig } from '../../lib/storage/s3-store';
import { newestContiguousShipped, readRpoExposure } from '../../lib/wal/exposure';
import { remoteWalFiles, shipWalFiles, walBacklog, WAL_SHIP_CONCURRENCY, type ShipOptions, type ShipProgress } from '../../lib/wal/remote';
import { walSegmentBuffer } from '../fixtures/wal-segment';
import { dropS3Bucket, testConfig } from './helpers';

const SEGMENT = 1024 * 1024;
const names = Array.from({ length: 10 }, (_, i) => `0000000100000000000000${(0x30 + i).toString(16).toUpperCase()}`);

describe('parallel WAL shipping keeps the off-site cursor honest', () => {
  const config = testConfig();
  const settings = { ...s3SettingsFromConfig(config.remote), bucket: `lifeboat-test-walpar-${randomUUID().slice(0, 8)}` };
  const client = createS3Client(settings);
  const real = new S3Store(settings, client);
  let archiveDir: string;
  let inFlight = 0;
  let peak = 0;
  const started: string[] = [];
  let failing: string | undefined;
  /** The real store, counting concurrent object uploads; while `failing` is set, its upload fails and the others are slow. */
  const remote = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'put') return value;
      return async (key: string, ...rest: unknown[]) => {
        const object = !key.endsWith('.metadata.json');
        if (object) {
          started.push(key.split('/')[1]!.slice(0, 24));
          peak = Math.max(peak, ++inFlight);
        }
        try {
          if (object && failing) {
            // While failing: the failing segment's upload breaks quickly, the others take a while.
            if (key.includes(failing)) {
              await delay(100);
              throw Object.assign(new Error('connect ECONNRESET (injected)'), { code: 'ECONNRESET' });
            }
            await delay(600);
          }
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, [key, ...rest]);
        } finally {
          if (object) inFlight--;
        }
      };
    },
  }) as S3Store;
  let ship: ShipOptions;

  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));
    archiveDir = mkdtempSync(join(tmpdir(), 'lifeboat-walpar-'));
    names.forEach((name, i) => {
      const tail = Buffer.alloc(64 * 1024);
      for (let j = 0; j < tail.length; j++) tail[j] = (i * 31 + j * 7) % 251;
      writeFileSync(join(archiveDir, name), walSegmentBuffer(name, { segmentSize: SEGMENT, tail }));
      const when = new Date(Date.now() - (names.length - i) * 60_000);
      utimesSync(join(archiveDir, name), when, when);
    });
    ship = { archiveDir, remote, compression: config.compression, encryptionKey: config.encryption.enabled ? await loadPublicKey(config.encryption) : undefined, workflowId: 'walpar-test' };
  });
  afterAll(async () => {
    await dropS3Bucket(client, settings.bucket).catch(() => undefined);
    rmSync(archiveDir, { recursive: true, force: true });
  });

  it('picks the newest shipped segment with no unshipped predecessor (pure)', () => {
    const local = [...names.slice(0, 5)];
    expect(newestContiguousShipped(new Set([names[0]!, names[1]!, names[3]!, names[4]!]), local)).toBe(names[1]);
    expect(newestContiguousShipped(new Set([names[1]!]), local)).toBeUndefined();
    // Pruned locally: what is off-site counts.
    expect(newestContiguousShipped(new Set(names.slice(0, 4)), names.slice(2, 5))).toBe(names[3]);
    // A new timeline's segments wait for its history file.
    expect(newestContiguousShipped(new Set([names[0]!, '000000020000000000000031']), [names[0]!, '00000002.history', '000000020000000000000031'])).toBe(names[0]);
  });

  it('a failed segment stops new uploads, the cursor stays behind it, and the retry ships the rest', async () => {
    failing = names[2];
    const progress: ShipProgress[] = [];
    await expect(shipWalFiles(names, ship, { onShipped: (p) => progress.push(p) })).rejects.toThrow(/ECONNRESET/);
    expect(peak).toBeLessThanOrEqual(WAL_SHIP_CONCURRENCY);
    expect(peak).toBeGreaterThan(1);
    // Started oldest first (uploads reach the store in any order): what was tried is a prefix.
    expect([...started].sort()).toEqual(names.slice(0, started.length));
    const shipped = await remoteWalFiles(real);
    expect(shipped.has(names[2]!)).toBe(false);
    expect([...shipped].some((n) => n > names[2]!)).toBe(true); // finished out of order
    expect(started.length).toBeLessThan(names.length);
    expect(progress.every((p) => p.through === undefined || p.through <= names[1]!)).toBe(true);
    const behind = await readRpoExposure(archiveDir, real, 300);
    expect(behind.newestShipped).toBe(names[1]);
    // Time-based: the newest segment whose predecessors are off-site was archived 8 minutes ago.
    expect(behind.exposureSeconds).toBeGreaterThanOrEqual(8 * 60 - 5);

    // The retry (as Temporal's next attempt): only what is pending, all of it.
    failing = undefined;
    started.length = 0;
    const pending = (await walBacklog(archiveDir, real)).pending;
    expect(pending[0]).toBe(names[2]);
    expect(await shipWalFiles(pending, ship, { onShipped: (p) => progress.push(p) })).toEqual(pending);
    expect([...started].sort()).toEqual(pending);
    expect((await walBacklog(archiveDir, real)).pending).toEqual([]);
    expect(progress[progress.length - 1]).toMatchObject({ through: names[names.length - 1] });
    const caughtUp = await readRpoExposure(archiveDir, real, 300);
    expect(caughtUp.newestShipped).toBe(names[names.length - 1]);
  });
});
