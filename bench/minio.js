#!/usr/bin/env node
/**
 * MinIO benchmark (issue "MinIO object storage backups", item 8; yardsticks of issue 16): snapshot
 * and mirror on the developer stack's two MinIO servers, Lifeboat against the standard tools on the
 * same objects, for many small objects and for a few large ones, in one run.
 *
 *   snapshot-lifeboat  backupBuckets {buckets:[b]}     -> <bucket>_<stamp>.tar.gz.gpg (local), end to end
 *   snapshot-shell     mc mirror src/<b> <dir>; tar -C <parent> -cf - <dir> | gzip | gpg --encrypt > file
 *                      (the seed's procedure: objects to disk, then tar | gzip | gpg; both timed,
 *                      reported apart too; zstd -3 -T0 instead of gzip with --compression zstd,
 *                      the levels Lifeboat uses: gzip 6, zstd 3)
 *   mirror-lifeboat    mirrorBuckets {buckets:[b]} into an empty bucket <b> on the backup MinIO
 *                      (every object copied, hashed, ETag checked, labelled with its sha256)
 *   mirror-mc          mc mirror src/<b> dst/<b>-mc into an empty bucket (mc's defaults)
 *   noop-lifeboat / noop-mc: the same mirror again right after, nothing changed
 * for 10,000 objects of 10 KB (--small) and 20 objects of 50 MB (--large), random bytes (MinIO
 * mostly holds already-compressed data: images, PDFs, vectors). Target buckets are emptied (and
 * created) before each mirror, not timed.
 *
 * Checks, once per run (round 1), outside the timings: both mirror targets are read back
 * independently of either tool (a ListObjectsV2 walk and a GET + sha256 of every object with the
 * AWS SDK) and must hold exactly the source's keys with the same sizes and sha256; both snapshots
 * are decrypted with gpg, decompressed and extracted with tar, and every extracted file must match
 * the source object of the same key (sha256), with nothing missing or extra.
 *
 * The machine is shared: runs are repeated (--rounds, default 3), each tool's runs interleaved with
 * the other's, the order alternated between rounds (odd: Lifeboat first, even: the tools first);
 * the report shows medians. CPU seconds per run: the client side (Lifeboat: the worker process and
 * its tools; shell: mc, tar, gzip/zstd, gpg) and both MinIO servers (each one's process tree, from
 * /proc/<pid>/stat over the run); the worker's peak RSS (VmHWM, reset before each run); the load
 * average (1/5/15 min) before each run.
 * Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task queue with
 * SNAPSHOT_COMPRESSION and ENCRYPT_BACKUPS from the stack's env file, REMOTE_STORAGE=false (the
 * off-site upload is the PostgreSQL benchmark's subject) and MINIO_BACKUP_ROOT in a scratch
 * directory. `mc` is built once when missing (`go install github.com/minio/mc@latest` into
 * $LIFEBOAT_TOOLS_DIR/bin, default ~/.cache/lifeboat/bin) and reused; it gets the servers'
 * credentials through MC_HOST_* variables (never argv) and a scratch MC_CONFIG_DIR.
 *
 * Usage:  npx tsc -p tsconfig.build.json && node scripts/bundle-workflows.js &&
 *         node bench/minio.js [--rounds N] [--small N] [--large N] [--variants small,large]
 *            [--compression gzip|zstd] [--concurrency N] [--no-check] [--keep]
 * Needs the local stack (`node bin/lifeboat.js stack up`) and Go (to build mc once); reads
 * $LIFEBOAT_ENV_FILE (default /var/lib/lifeboat/stack/lifeboat.env). Buckets are
 * `bench-minio-small` and `bench-minio-large` on both servers and `bench-minio-*-mc` on the backup
 * server (removed at the end unless --keep). Raw results and the worker log go to bench/results/.
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, parseArgs: parseFlags, log, median, timeStamp, shellQuote, run, runShell, vmHwmBytes, resetHwm, processCpuSeconds, childrenCpuSeconds, loadAverage, describeLoad, describeMachine, machine,
  minioServerPid, serverCpuMeter, requireDist, loadBenchConfig, benchWorkerEnv, startWorker, stopWorker, connectTemporal,
} = require('./common');

const SMALL = { name: 'small', bucket: 'bench-minio-small', size: 10 * 1024 };
const LARGE = { name: 'large', bucket: 'bench-minio-large', size: 50 * 1024 * 1024 };
const SNAPSHOT_LEVEL = { gzip: 6, zstd: 3 }; // activities/minio.ts

function parseArgs(argv) {
  const o = parseFlags(argv, {
    file: __filename,
    defaults: { rounds: 3, small: 10_000, large: 20, variants: ['small', 'large'], keep: false, check: true, compression: undefined, concurrency: undefined },
    flags: {
      '--rounds': (x, next) => (x.rounds = Number(next())),
      '--small': (x, next) => (x.small = Number(next())),
      '--large': (x, next) => (x.large = Number(next())),
      '--variants': (x, next) => (x.variants = next().split(',')),
      '--keep': (x) => (x.keep = true),
      '--no-check': (x) => (x.check = false),
      '--compression': (x, next) => (x.compression = next()),
      '--concurrency': (x, next) => (x.concurrency = next()),
    },
  });
  for (const v of o.variants) if (!['small', 'large'].includes(v)) throw new Error(`unknown variant ${v}`);
  if (o.compression !== undefined && !['gzip', 'zstd'].includes(o.compression)) throw new Error('--compression must be gzip or zstd');
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds must be a positive integer');
  return o;
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = require('node:net').createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `mc`, built once into the tool cache when missing. */
async function ensureMc() {
  const bin = path.join(process.env.LIFEBOAT_TOOLS_DIR || path.join(os.homedir(), '.cache', 'lifeboat'), 'bin');
  const mc = path.join(bin, 'mc');
  if (fs.existsSync(mc)) return mc;
  fs.mkdirSync(bin, { recursive: true });
  log(`building mc (go install github.com/minio/mc@latest) into ${bin}: once, a few minutes`);
  const { seconds } = await run('go', ['install', 'github.com/minio/mc@latest'], { env: { ...process.env, GOBIN: bin } });
  if (!fs.existsSync(mc)) throw new Error(`go install finished but ${mc} is missing`);
  log(`mc built in ${seconds.toFixed(0)} s`);
  return mc;
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

/**
 * Every object of a bucket read back with the AWS SDK alone (ListObjectsV2, GetObject): key -> {size, sha256}.
 * Independent of both tools under test.
 */
async function readBack(s3, bucket) {
  const { ListObjectsV2Command, GetObjectCommand } = require('@aws-sdk/client-s3');
  const keys = [];
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push({ key: o.Key, size: o.Size });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const out = new Map();
  const queue = [...keys];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k.key }));
        const hash = crypto.createHash('sha256');
        let size = 0;
        for await (const chunk of r.Body) {
          hash.update(chunk);
          size += chunk.length;
        }
        if (size !== k.size) throw new Error(`${bucket}/${k.key}: listed ${k.size} bytes, read ${size}`);
        out.set(k.key, { size, sha256: hash.digest('hex') });
      }
    }),
  );
  return out;
}

/** Two key -> {size, sha256} maps must be equal; returns a one-line summary or throws with the differences. */
function compareObjects(what, expected, actual) {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  const differ = [...expected.keys()].filter((k) => actual.has(k) && (actual.get(k).sha256 !== expected.get(k).sha256 || actual.get(k).size !== expected.get(k).size));
  if (missing.length || extra.length || differ.length) {
    throw new Error(`${what}: ${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} extra (${extra.slice(0, 3).join(', ')}), ${differ.length} differ (${differ.slice(0, 3).join(', ')})`);
  }
  const bytes = [...actual.values()].reduce((n, o) => n + o.size, 0);
  return `${actual.size} objects, ${(bytes / 1e6).toFixed(1)} MB, every key, size and sha256 equal to the source`;
}

/** Decrypt, decompress and extract a snapshot; every file (below the archive's top directory) against the source objects. */
async function checkSnapshot(what, file, scratch, expected, config) {
  const dir = fs.mkdtempSync(path.join(scratch, 'extract-'));
  try {
    const decompress = /\.zst(\.|$)/.test(file) ? 'zstd -d -q -c' : 'gzip -d -c';
    const decode = file.endsWith('.gpg') ? `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)} | ${decompress}` : `${decompress} < ${shellQuote(file)}`;
    await runShell(`${decode} | tar -x -C ${shellQuote(dir)}`, { env: { ...process.env, GNUPGHOME: config.encryption.gnupgHome } });
    const top = fs.readdirSync(dir);
    if (top.length !== 1) throw new Error(`${what}: expected one top directory in the archive, found ${top.join(', ')}`);
    const base = path.join(dir, top[0]);
    const actual = new Map();
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) {
          const body = fs.readFileSync(p);
          actual.set(path.relative(base, p), { size: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex') });
        }
      }
    };
    walk(base);
    return compareObjects(what, expected, actual);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The file named `name` below `dir` (the snapshot's directory under MINIO_BACKUP_ROOT is the product's business). */
function findFile(dir, name) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    }
  }
  return undefined;
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
  const emptyTarget = async (bucket) => {
    await drop(backup, bucket);
    await backup.ensureBucket(bucket);
  };
  const compression = config.minio.snapshotCompression;
  const compressCommand = compression === 'zstd' ? `zstd -${SNAPSHOT_LEVEL.zstd} -T0 -q -c` : `gzip -${SNAPSHOT_LEVEL.gzip} -c`;
  const gpgEncrypt = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --yes --trust-model always --recipient ${shellQuote(config.encryption.recipient)} --encrypt`;

  const loadStart = loadAverage();
  log(`machine: ${describeMachine()}; load average ${describeLoad(loadStart)}`);
  const mc = await ensureMc();
  const mcVersion = (await run(mc, ['--version'], { capture: true })).stdout.split('\n')[0];
  const specs = options.variants.map((v) => (v === 'small' ? { ...SMALL, count: options.small } : { ...LARGE, count: options.large }));
  for (const spec of specs) await seed(source, spec, spec.count);

  fs.mkdirSync(RESULTS, { recursive: true });
  const stamp = timeStamp();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-minio-'));
  const hostUrl = (s) => {
    const u = new URL(s.endpoint);
    return `${u.protocol}//${encodeURIComponent(s.accessKey)}:${encodeURIComponent(s.secretKey)}@${u.host}`;
  };
  const mcEnv = { ...process.env, MC_CONFIG_DIR: path.join(scratch, 'mc'), MC_HOST_src: hostUrl(config.minio.source), MC_HOST_dst: hostUrl(config.minio.backup), GNUPGHOME: config.encryption.gnupgHome };
  const taskQueue = `bench-minio-${crypto.randomUUID().slice(0, 8)}`;
  // Its own metrics port: the stack's (BACKUP_METRICS_PORT in the env file) may be taken by another worker.
  const env = benchWorkerEnv({ LIFEBOAT_TASK_QUEUE: taskQueue, LIFEBOAT_HOST: 'bench', MINIO_BACKUP_ROOT: scratch, REMOTE_STORAGE: 'false', LOG_LEVEL: 'info', BACKUP_METRICS_PORT: String(await freePort()), ...overrides });
  const logFile = path.join(RESULTS, `worker-minio-${stamp}.log`);
  const worker = await startWorker(env, logFile);
  const { connection, client } = await connectTemporal(config);
  const servers = { source: minioServerPid(config.minio.source.endpoint), backup: minioServerPid(config.minio.backup.endpoint) };
  log(`mc: ${mcVersion}; MinIO server pids: source ${servers.source ?? 'not found'}, backup ${servers.backup ?? 'not found'}; snapshots ${compression}${config.encryption.enabled ? ' + OpenPGP' : ''}`);
  const runs = [];
  const checks = {};
  try {
    const execute = (type, input) => client.workflow.execute(type, { taskQueue, workflowId: `bench-${type}-${crypto.randomUUID().slice(0, 8)}`, args: [input] });
    /** One measured run: wall, CPU (client and both servers), worker peak RSS, load average before. */
    const measure = async (name, spec, round, body) => {
      const load = loadAverage();
      resetHwm(worker.pid); // when not permitted, the reading is the peak since start
      const workerCpu = processCpuSeconds(worker.pid);
      const childCpu = childrenCpuSeconds(process.pid);
      const meter = serverCpuMeter(servers).start();
      const t0 = process.hrtime.bigint();
      const facts = await body();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const serverCpu = meter.stop();
      const w = processCpuSeconds(worker.pid);
      const lifeboat = name.endsWith('lifeboat');
      const cpuClient = lifeboat ? w.self - workerCpu.self + w.children - workerCpu.children : childrenCpuSeconds(process.pid) - childCpu;
      const cpuServers = (serverCpu.source ?? 0) + (serverCpu.backup ?? 0);
      const bytes = spec.count * spec.size;
      const r = {
        variant: `${name}-${spec.name}`, round, objects: spec.count, bytes, seconds, objectsPerSecond: spec.count / seconds, mbPerSecond: bytes / 1e6 / seconds,
        cpuClient, serverCpu, cpuServers, cpuTotal: cpuClient + cpuServers, peakRssBytes: lifeboat ? vmHwmBytes(worker.pid) : undefined, load, ...facts,
      };
      log(`round ${round} ${r.variant}: ${seconds.toFixed(2)} s, ${r.objectsPerSecond.toFixed(0)} objects/s, ${r.mbPerSecond.toFixed(1)} MB/s; CPU client ${cpuClient.toFixed(2)} s, MinIO source ${serverCpu.source ?? '-'} s, backup ${serverCpu.backup ?? '-'} s${r.peakRssBytes ? `; worker peak RSS ${(r.peakRssBytes / 1e6).toFixed(0)} MB` : ''}; load ${describeLoad(load)} before`);
      runs.push(r);
      return r;
    };

    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round} of ${options.rounds}`);
      for (const spec of specs) {
        const expected = options.check && round === 1 ? await readBack(source.client, spec.bucket) : undefined;
        const mcTarget = `${spec.bucket}-mc`;
        const steps = {
          'snapshot-lifeboat': async () => {
            fs.rmSync(path.join(scratch, 'snapshots'), { recursive: true, force: true });
            let file;
            await measure('snapshot-lifeboat', spec, round, async () => {
              const r = await execute('backupBuckets', { buckets: [spec.bucket] });
              const s = r.snapshots[0];
              if (s.objects !== spec.count) throw new Error(`snapshot holds ${s.objects} objects, expected ${spec.count}`);
              file = s.file;
              return { archiveBytes: s.bytes, file: s.file };
            });
            if (expected) checks[`snapshot-lifeboat-${spec.name}`] = await checkSnapshot(`Lifeboat snapshot ${file}`, findFile(scratch, path.basename(file)), scratch, expected, config);
          },
          'snapshot-shell': async () => {
            const top = `${spec.bucket}_shell_${stamp}`;
            const parent = path.join(scratch, `shell-${spec.name}`);
            const out = path.join(scratch, `${top}.tar${compression === 'zstd' ? '.zst' : '.gz'}${config.encryption.enabled ? '.gpg' : ''}`);
            fs.rmSync(parent, { recursive: true, force: true });
            fs.rmSync(out, { force: true });
            fs.mkdirSync(parent, { recursive: true });
            await measure('snapshot-shell', spec, round, async () => {
              const fetched = await run(mc, ['mirror', '--quiet', `src/${spec.bucket}`, path.join(parent, top)], { env: mcEnv });
              const packed = await runShell(`tar -C ${shellQuote(parent)} -cf - ${shellQuote(top)} | ${compressCommand}${config.encryption.enabled ? ` | ${gpgEncrypt}` : ''} > ${shellQuote(out)}`, { env: mcEnv });
              return { downloadSeconds: fetched.seconds, packSeconds: packed.seconds, archiveBytes: fs.statSync(out).size };
            });
            fs.rmSync(parent, { recursive: true, force: true });
            if (expected) checks[`snapshot-shell-${spec.name}`] = await checkSnapshot(`shell snapshot ${out}`, out, scratch, expected, config);
            fs.rmSync(out, { force: true });
          },
          'mirror-lifeboat': async () => {
            await emptyTarget(spec.bucket);
            await measure('mirror-lifeboat', spec, round, async () => {
              const b = (await execute('mirrorBuckets', { buckets: [spec.bucket] })).buckets[0];
              if (b.copied !== spec.count) throw new Error(`mirror copied ${b.copied} objects, expected ${spec.count}`);
              return { copied: b.copied };
            });
            if (expected) checks[`mirror-lifeboat-${spec.name}`] = compareObjects(`Lifeboat mirror ${spec.bucket}`, expected, await readBack(backup.client, spec.bucket));
            await measure('noop-lifeboat', spec, round, async () => {
              const b = (await execute('mirrorBuckets', { buckets: [spec.bucket] })).buckets[0];
              if (b.copied !== 0 || b.skipped !== spec.count) throw new Error(`the no-change mirror copied ${b.copied}`);
              return { copied: 0 };
            });
          },
          'mirror-mc': async () => {
            await emptyTarget(mcTarget);
            await measure('mirror-mc', spec, round, async () => {
              await run(mc, ['mirror', '--quiet', `src/${spec.bucket}`, `dst/${mcTarget}`], { env: mcEnv });
              return {};
            });
            if (expected) checks[`mirror-mc-${spec.name}`] = compareObjects(`mc mirror ${mcTarget}`, expected, await readBack(backup.client, mcTarget));
            await measure('noop-mc', spec, round, async () => {
              await run(mc, ['mirror', '--quiet', `src/${spec.bucket}`, `dst/${mcTarget}`], { env: mcEnv });
              return {};
            });
          },
        };
        const order = round % 2 ? ['snapshot-lifeboat', 'snapshot-shell', 'mirror-lifeboat', 'mirror-mc'] : ['snapshot-shell', 'snapshot-lifeboat', 'mirror-mc', 'mirror-lifeboat'];
        for (const step of order) await steps[step]();
        for (const [k, v] of Object.entries(checks)) if (k.endsWith(spec.name) && round === 1 && expected) log(`checked ${k}: ${v}`);
      }
    }
  } finally {
    await connection.close();
    await stopWorker(worker);
    fs.rmSync(scratch, { recursive: true, force: true });
    if (!options.keep) {
      for (const spec of specs) {
        for (const store of [source, backup]) await drop(store, spec.bucket).catch((e) => log(`could not remove ${spec.bucket}: ${e.message}`));
        await drop(backup, `${spec.bucket}-mc`).catch((e) => log(`could not remove ${spec.bucket}-mc: ${e.message}`));
      }
    }
  }

  const summary = [];
  for (const variant of [...new Set(runs.map((r) => r.variant))]) {
    const rs = runs.filter((r) => r.variant === variant);
    const m = (f) => median(rs.map(f));
    summary.push({
      variant, objects: rs[0].objects, bytes: rs[0].bytes, runs: rs.length,
      seconds: m((r) => r.seconds), objectsPerSecond: m((r) => r.objectsPerSecond), mbPerSecond: m((r) => r.mbPerSecond),
      cpuClient: m((r) => r.cpuClient), cpuSource: m((r) => r.serverCpu.source ?? 0), cpuBackup: m((r) => r.serverCpu.backup ?? 0), cpuTotal: m((r) => r.cpuTotal),
      peakRssBytes: rs[0].peakRssBytes !== undefined ? m((r) => r.peakRssBytes) : undefined,
      downloadSeconds: rs[0].downloadSeconds !== undefined ? m((r) => r.downloadSeconds) : undefined,
      packSeconds: rs[0].packSeconds !== undefined ? m((r) => r.packSeconds) : undefined,
      archiveBytes: rs[0].archiveBytes !== undefined ? m((r) => r.archiveBytes) : undefined,
      loads: rs.map((r) => r.load[0]),
    });
  }
  // Same-round ratios Lifeboat / tool (time) for each pair.
  const ratios = {};
  for (const spec of specs) {
    for (const [l, t] of [['snapshot-lifeboat', 'snapshot-shell'], ['mirror-lifeboat', 'mirror-mc'], ['noop-lifeboat', 'noop-mc']]) {
      const per = [];
      for (let round = 1; round <= options.rounds; round++) {
        const a = runs.find((r) => r.variant === `${l}-${spec.name}` && r.round === round);
        const b = runs.find((r) => r.variant === `${t}-${spec.name}` && r.round === round);
        if (a && b) per.push(a.seconds / b.seconds);
      }
      if (per.length) ratios[`${l}/${t}-${spec.name}`] = { perRound: per, median: median(per) };
    }
  }
  const file = path.join(RESULTS, `minio-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify({ stamp, machine: machine(), loadAverage: { start: loadStart, end: loadAverage() }, mc: mcVersion, compression, encrypted: config.encryption.enabled, concurrency: config.minio.mirrorConcurrency, checks, ratios, runs, summary }, null, 2));
  const lines = [
    `| run | objects | data | time (s) | objects/s | MB/s | CPU client (s) | CPU MinIO source (s) | CPU MinIO backup (s) | CPU total (s) | worker peak RSS (MB) | load 1 min (per round) |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`,
    // A no-change mirror moves no data: its MB/s would be meaningless.
    ...summary.map((s) => `| ${s.variant}${s.downloadSeconds !== undefined ? ` (mc mirror ${s.downloadSeconds.toFixed(2)} s + tar \\| ${compression} \\| gpg ${s.packSeconds.toFixed(2)} s)` : ''} | ${s.objects} | ${(s.bytes / 1e6).toFixed(0)} MB | ${s.seconds.toFixed(2)} | ${s.objectsPerSecond.toFixed(0)} | ${s.variant.startsWith('noop') ? '-' : s.mbPerSecond.toFixed(1)} | ${s.cpuClient.toFixed(1)} | ${s.cpuSource.toFixed(1)} | ${s.cpuBackup.toFixed(1)} | ${s.cpuTotal.toFixed(1)} | ${s.peakRssBytes !== undefined ? (s.peakRssBytes / 1e6).toFixed(0) : '-'} | ${s.loads.map((x) => x.toFixed(2)).join(' / ')} |`),
  ];
  const ratioLines = Object.entries(ratios).map(([k, r]) => `${k}: time ratio ${r.median.toFixed(2)} (rounds ${r.perRound.map((x) => x.toFixed(2)).join(', ')})${k.startsWith('mirror') ? `; target mirror >= mc mirror (ratio <= 1): ${r.median <= 1 ? 'met' : 'MISSED'}` : ''}`);
  process.stdout.write(`${lines.join('\n')}\n\n${ratioLines.join('\n')}\n${Object.entries(checks).map(([k, v]) => `checked ${k}: ${v}`).join('\n')}\n\nmedians of ${options.rounds} round(s); snapshots ${compression}${config.encryption.enabled ? ' + OpenPGP' : ''}, MIRROR_CONCURRENCY=${config.minio.mirrorConcurrency}; ${mcVersion}; raw results: ${path.relative(ROOT, file)}\n`);
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
