#!/usr/bin/env node
/**
 * MinIO benchmark (issue "MinIO object storage backups", item 8): snapshot and mirror throughput on
 * the developer stack's two MinIO servers, for many small objects and for a few large ones.
 *
 *   snapshot-small   backupBuckets  10,000 objects of 10 KB  -> <bucket>_<stamp>.tar.gz.gpg (local)
 *   mirror-small     mirrorBuckets  the same bucket, source -> backup MinIO, from empty
 *   noop-small       mirrorBuckets  again, nothing changed (listing + compare only)
 *   snapshot-large / mirror-large / noop-large: 20 objects of 50 MB
 *
 * Objects are random bytes (MinIO mostly holds already-compressed data: images, PDFs, vectors).
 * Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task queue with
 * SNAPSHOT_COMPRESSION and ENCRYPT_BACKUPS from the stack's env file, REMOTE_STORAGE=false (the
 * off-site upload is the PostgreSQL benchmark's subject) and MINIO_BACKUP_ROOT in a scratch
 * directory; the worker's peak RSS (VmHWM, reset before each run) is reported per run. The machine
 * is shared: runs are repeated (--rounds, default 3) and the report shows medians.
 *
 * Usage:  npx tsc -p tsconfig.build.json && node bench/minio.js [--rounds N] [--small N] [--large N]
 *            [--variants small,large] [--compression gzip|zstd] [--concurrency N] [--keep]
 * Needs the local stack (`node bin/lifeboat.js stack up`), reads $LIFEBOAT_ENV_FILE (default
 * /var/lib/lifeboat/stack/lifeboat.env). Buckets are `bench-minio-small` and `bench-minio-large` on
 * both servers (removed at the end unless --keep). Raw results and the worker log go to bench/results/.
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, parseArgs: parseFlags, log, median, timeStamp, vmHwmBytes, resetHwm, requireDist, loadBenchConfig, benchWorkerEnv, startWorker, stopWorker, connectTemporal,
} = require('./common');

const SMALL = { name: 'small', bucket: 'bench-minio-small', size: 10 * 1024 };
const LARGE = { name: 'large', bucket: 'bench-minio-large', size: 50 * 1024 * 1024 };

function parseArgs(argv) {
  const o = parseFlags(argv, {
    file: __filename,
    defaults: { rounds: 3, small: 10_000, large: 20, variants: ['small', 'large'], keep: false, compression: undefined, concurrency: undefined },
    flags: {
      '--rounds': (x, next) => (x.rounds = Number(next())),
      '--small': (x, next) => (x.small = Number(next())),
      '--large': (x, next) => (x.large = Number(next())),
      '--variants': (x, next) => (x.variants = next().split(',')),
      '--keep': (x) => (x.keep = true),
      '--compression': (x, next) => (x.compression = next()),
      '--concurrency': (x, next) => (x.concurrency = next()),
    },
  });
  for (const v of o.variants) if (!['small', 'large'].includes(v)) throw new Error(`unknown variant ${v}`);
  if (o.compression !== undefined && !['gzip', 'zstd'].includes(o.compression)) throw new Error('--compression must be gzip or zstd');
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds must be a positive integer');
  return o;
}

/** Source bucket with `count` random objects of `size` bytes (reused when it already holds them). */
async function seed(source, spec, count) {
  await source.ensureBucket(spec.bucket);
  let have = 0;
  for await (const o of source.list(spec.bucket)) if (o.size === spec.size) have++;
  if (have === count) return;
  log(`seeding ${spec.bucket}: ${count} objects of ${spec.size} bytes`);
  const queue = Array.from({ length: count }, (_, i) => i);
  const width = String(count).length;
  await Promise.all(
    Array.from({ length: spec.size > 1e6 ? 2 : 16 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        await source.putBuffer(spec.bucket, `obj/${String(i).padStart(width, '0')}.bin`, crypto.randomBytes(spec.size), { contentType: 'application/octet-stream', metadata: { n: String(i) } });
      }
    }),
  );
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const { BucketStore } = requireDist('lib/minio/bucket-store');
  const overrides = { ...(options.compression ? { SNAPSHOT_COMPRESSION: options.compression } : {}), ...(options.concurrency ? { MIRROR_CONCURRENCY: options.concurrency } : {}) };
  const config = loadBenchConfig(overrides);
  const source = new BucketStore(config.minio.source, 'source');
  const backup = new BucketStore(config.minio.backup, 'backup');
  const { DeleteBucketCommand } = require('@aws-sdk/client-s3');
  const drop = async (store, bucket) => {
    if (!(await store.bucketExists(bucket))) return;
    const keys = [];
    for await (const o of store.list(bucket)) keys.push(o.key);
    await Promise.all(Array.from({ length: 16 }, async () => { for (let k = keys.shift(); k !== undefined; k = keys.shift()) await store.delete(bucket, k); }));
    await store.client.send(new DeleteBucketCommand({ Bucket: bucket }));
  };

  const specs = options.variants.map((v) => (v === 'small' ? { ...SMALL, count: options.small } : { ...LARGE, count: options.large }));
  for (const spec of specs) await seed(source, spec, spec.count);

  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = timeStamp();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-minio-'));
  const taskQueue = `bench-minio-${crypto.randomUUID().slice(0, 8)}`;
  const env = benchWorkerEnv({ LIFEBOAT_TASK_QUEUE: taskQueue, LIFEBOAT_HOST: 'bench', MINIO_BACKUP_ROOT: scratch, REMOTE_STORAGE: 'false', LOG_LEVEL: 'info', ...overrides });
  const logFile = path.join(RESULTS, `worker-minio-${stamp}.log`);
  const worker = await startWorker(env, logFile);
  const { connection, client } = await connectTemporal(config);
  const runs = [];
  try {
    const execute = (type, input) => client.workflow.execute(type, { taskQueue, workflowId: `bench-${type}-${crypto.randomUUID().slice(0, 8)}`, args: [input] });
    const measure = async (variant, spec, type, input, check) => {
      resetHwm(worker.pid); // when not permitted, the reading is the peak since start
      const t0 = process.hrtime.bigint();
      const result = await execute(type, input);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const facts = check(result);
      const run = { variant: `${variant}-${spec.name}`, objects: spec.count, bytes: spec.count * spec.size, seconds, objectsPerSecond: spec.count / seconds, mbPerSecond: (spec.count * spec.size) / 1e6 / seconds, peakRssBytes: vmHwmBytes(worker.pid), ...facts };
      log(`${run.variant}: ${seconds.toFixed(2)} s, ${run.objectsPerSecond.toFixed(0)} objects/s, ${run.mbPerSecond.toFixed(1)} MB/s, peak RSS ${(run.peakRssBytes / 1e6).toFixed(0)} MB`);
      runs.push(run);
    };
    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round} of ${options.rounds}`);
      for (const spec of specs) {
        fs.rmSync(path.join(scratch, 'snapshots'), { recursive: true, force: true });
        await measure('snapshot', spec, 'backupBuckets', { buckets: [spec.bucket] }, (r) => {
          const s = r.snapshots[0];
          if (s.objects !== spec.count) throw new Error(`snapshot holds ${s.objects} objects, expected ${spec.count}`);
          return { archiveBytes: s.bytes, file: s.file };
        });
        await drop(backup, spec.bucket);
        await measure('mirror', spec, 'mirrorBuckets', { buckets: [spec.bucket] }, (r) => {
          const b = r.buckets[0];
          if (b.copied !== spec.count) throw new Error(`mirror copied ${b.copied} objects, expected ${spec.count}`);
          return { copied: b.copied };
        });
        await measure('noop', spec, 'mirrorBuckets', { buckets: [spec.bucket] }, (r) => {
          const b = r.buckets[0];
          if (b.copied !== 0 || b.skipped !== spec.count) throw new Error(`the no-change mirror copied ${b.copied}`);
          return { copied: 0 };
        });
      }
    }
  } finally {
    await connection.close();
    await stopWorker(worker);
    fs.rmSync(scratch, { recursive: true, force: true });
    if (!options.keep) for (const spec of specs) for (const store of [source, backup]) await drop(store, spec.bucket);
  }

  const summary = [];
  for (const variant of [...new Set(runs.map((r) => r.variant))]) {
    const rs = runs.filter((r) => r.variant === variant);
    summary.push({
      variant, objects: rs[0].objects, bytes: rs[0].bytes, runs: rs.length,
      seconds: median(rs.map((r) => r.seconds)), objectsPerSecond: median(rs.map((r) => r.objectsPerSecond)), mbPerSecond: median(rs.map((r) => r.mbPerSecond)), peakRssBytes: median(rs.map((r) => r.peakRssBytes)),
    });
  }
  const file = path.join(RESULTS, `minio-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify({ stamp, host: os.hostname(), cpus: os.cpus().length, compression: config.minio.snapshotCompression, encrypted: config.encryption.enabled, concurrency: config.minio.mirrorConcurrency, runs, summary }, null, 2));
  const lines = [
    `| run | objects | data | time (s) | objects/s | MB/s | worker peak RSS (MB) |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: |`,
    // A no-change mirror moves no data: its MB/s would be meaningless.
    ...summary.map((s) => `| ${s.variant} | ${s.objects} | ${(s.bytes / 1e6).toFixed(0)} MB | ${s.seconds.toFixed(2)} | ${s.objectsPerSecond.toFixed(0)} | ${s.variant.startsWith('noop') ? '-' : s.mbPerSecond.toFixed(1)} | ${(s.peakRssBytes / 1e6).toFixed(0)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n\nmedians of ${options.rounds} round(s); snapshots ${config.minio.snapshotCompression}${config.encryption.enabled ? ' + OpenPGP' : ''}, MIRROR_CONCURRENCY=${config.minio.mirrorConcurrency}; raw results: ${path.relative(ROOT, file)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
