#!/usr/bin/env node
/**
 * Restore benchmark (issue "Restore, point-in-time recovery and backup verification", item 9):
 * Lifeboat's verify-only restore against the manual restore of the same backup, side by side.
 *
 *   setup  one logical backup of the dataset database: workflow backupDatabase {tier:'daily'}
 *          into a scratch BACKUP_ROOT (REMOTE_STORAGE=false for the bench worker)
 *   (m)    the manual path of docs/operations.md "Restoring by hand", timed from createdb to the
 *          end of psql: createdb <tmp>; gpg --decrypt file | zstd -d | psql -v ON_ERROR_STOP=1 -q
 *          -d <tmp> (gunzip for gzip backups); then dropdb <tmp>, not timed
 *   (v)    workflow restoreDatabase {backup, verifyOnly:true} from start to result: checksum,
 *          load into lifeboat_verify_*, compare with the metadata, drop, record
 *   optional, to see where the time goes (--variants):
 *   (d)    decode only: gpg --decrypt file | zstd -d > /dev/null
 *   (t)    (m) with Lifeboat's psql flags: psql -X -q -v ON_ERROR_STOP=1 --single-transaction
 *          -o /dev/null, fed by gpg | zstd -d
 *   (s)    sha256sum file (what fetchBackup's checksum does)
 *
 * Variants are interleaved within each round (default order m, v) and repeated (--rounds, default
 * 3); the ratio v/m is taken within each round and the report shows medians. Before each variant
 * a CHECKPOINT (not timed) gives every variant the same start: no dirty buffers left by the one
 * before. Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task
 * queue with DB_NAME=<dataset>, BACKUP_ROOT in a scratch directory and REMOTE_STORAGE=false; the
 * worker's peak RSS (VmHWM, reset before each (v)) and the per-activity timings from the workflow
 * history (fetchBackup = checksum, restoreBackup = load, checkRestoredDatabase = compare,
 * dropVerifyDatabase) are reported. PG* variables and PGPASSWORD are in the environment, never argv.
 * Disk: every load writes WAL that the stack archives and keeps, about twice the database (~2 GB per
 * load at scale 10, so ~12 GB for the default 3 rounds of m and v); the script refuses to start when
 * that would leave less than 2 GB free there (--ignore-disk to go ahead).
 *
 * Usage:  npm run build && node bench/restore.js [--rounds N] [--variants m,v[,d,t,s]] [--scale 10]
 *                                                  [--database NAME] [--no-checkpoint] [--ignore-disk] [--cpu-prof]
 *                                                  [--worker-node-options "--max-old-space-size=..."]
 *                                                  [--worker-env NAME=value ...]   (e.g. COMPRESSION=gzip)
 * Needs the local stack (`node bin/lifeboat.js stack up`); reads its env file
 * ($LIFEBOAT_ENV_FILE, default /var/lib/lifeboat/stack/lifeboat.env). Creates the dataset database
 * from ../shared/bench/corporate-intel-dataset.sql when it is missing. Raw results (JSON) and the
 * worker's log go to bench/results/ (git-ignored); the scratch directory and every database it
 * creates are removed at the end.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, parseArgs, log, median, mb, timeStamp, shellQuote, run, runShell, childrenCpuSeconds, machine, describeMachine,
  requireDist, loadBenchConfig, benchWorkerEnv, withPg, ensureDataset, startWorker, stopWorker, connectTemporal, runWorkflow, runMeasuredWorkflow,
} = require('./common');

const ALL_VARIANTS = ['m', 'v', 'd', 't', 's'];
const LABELS = {
  m: '(m) by hand: createdb; gpg -d | zstd -d | psql',
  v: '(v) Lifeboat restoreDatabase verifyOnly',
  d: '(d) gpg -d | zstd -d > /dev/null',
  t: '(t) by hand with psql --single-transaction -o /dev/null',
  s: '(s) sha256sum file',
};
const STEPS = { fetchBackup: 'checksum', restoreBackup: 'load', checkRestoredDatabase: 'compare', dropVerifyDatabase: 'drop' };

function parseOptions(argv) {
  const options = parseArgs(argv, {
    file: __filename,
    defaults: { rounds: 3, variants: ['m', 'v'], scale: 10, database: 'corporate_intel_bench', checkpoint: true, ignoreDisk: false, cpuProf: false, workerNodeOptions: [], workerEnv: {} },
    flags: {
      '--rounds': (o, next) => (o.rounds = Number(next())),
      '--variants': (o, next) => (o.variants = next().split(',').map((v) => v.trim())),
      '--scale': (o, next) => (o.scale = Number(next())),
      '--database': (o, next) => (o.database = next()),
      '--no-checkpoint': (o) => (o.checkpoint = false),
      '--ignore-disk': (o) => (o.ignoreDisk = true),
      '--cpu-prof': (o) => (o.cpuProf = true),
      '--worker-node-options': (o, next) => (o.workerNodeOptions = next().split(' ').filter(Boolean)),
      '--worker-env': (o, next) => {
        const [name, ...value] = next().split('=');
        o.workerEnv = { ...o.workerEnv, [name]: value.join('=') };
      },
    },
  });
  if (!Number.isInteger(options.rounds) || options.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!Number.isInteger(options.scale) || options.scale < 1) throw new Error('--scale must be a positive integer');
  if (!/^[a-z_][a-z0-9_]*$/.test(options.database)) throw new Error('--database must be a plain lower-case identifier');
  for (const v of options.variants) if (!ALL_VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (choose from ${ALL_VARIANTS.join(',')})`);
  return options; // the order given is the order within a round
}

// ---------------------------------------------------------------------------------------------

function makeVariants(ctx) {
  const { config, pgEnv, file, pgBin } = ctx;
  const gpg = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)}`;
  const decompress = file.includes('.zst') ? 'zstd -d -q' : 'gunzip';
  const decode = config.encryption.enabled || file.endsWith('.gpg') ? `${gpg} | ${decompress}` : `${decompress} < ${shellQuote(file)}`;
  const psql = shellQuote(pgBin('psql'));

  /** createdb, a load pipeline into it (timed together), a row check and dropdb (not timed). */
  const byHand = async (round, letter, psqlFlags) => {
    const database = `bench_restore_${letter}_${ctx.stamp.replace('-', '_')}_r${round}`;
    ctx.databases.add(database);
    const env = { ...pgEnv, PGDATABASE: 'postgres' };
    try {
      const created = await run(pgBin('createdb'), [database], { env });
      const loaded = await runShell(`${decode} | ${psql} ${psqlFlags} -d ${database} > /dev/null`, { env });
      const companies = await withPg(config, database, async (c) => Number((await c.query('SELECT count(*) AS n FROM companies')).rows[0].n));
      if (companies !== 2000 * ctx.options.scale) throw new Error(`${database}: companies holds ${companies} rows, expected ${2000 * ctx.options.scale}`);
      return { seconds: created.seconds + loaded.seconds, createdbSeconds: created.seconds, loadSeconds: loaded.seconds, database };
    } finally {
      await run(pgBin('dropdb'), ['--if-exists', '--force', database], { env });
      ctx.databases.delete(database);
    }
  };

  return {
    m: {
      command: `createdb <tmp>; ${decode.replace(shellQuote(file), '<file>').replace(shellQuote(config.encryption.gnupgHome), '$GNUPGHOME')} | psql -v ON_ERROR_STOP=1 -q -d <tmp> > /dev/null`,
      run: (round) => byHand(round, 'm', '-v ON_ERROR_STOP=1 -q'),
    },
    t: {
      command: `createdb <tmp>; ... | psql -X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null -d <tmp>`,
      run: (round) => byHand(round, 't', '-X -q -v ON_ERROR_STOP=1 --single-transaction -o /dev/null'),
    },
    d: {
      command: `${decode.replace(shellQuote(file), '<file>').replace(shellQuote(config.encryption.gnupgHome), '$GNUPGHOME')} > /dev/null`,
      run: async () => ({ seconds: (await runShell(`${decode} > /dev/null`, { env: pgEnv })).seconds }),
    },
    s: {
      command: 'sha256sum <file>',
      run: async () => {
        const r = await run('sha256sum', [file], { capture: true });
        if (r.stdout.split(' ')[0] !== ctx.metadata.sha256) throw new Error('sha256sum of the backup does not match its metadata');
        return { seconds: r.seconds };
      },
    },
    v: {
      command: `temporal workflow start --type restoreDatabase --input '{"backup":"<key>","verifyOnly":true}' (worker: node bin/lifeboat.js worker), until its result`,
      run: async (round) => {
        const r = await runMeasuredWorkflow(ctx, 'restoreDatabase', [{ backup: ctx.key, verifyOnly: true }], `bench-restore-${ctx.stamp}-r${round}`);
        ctx.databases.add(r.result.database); // dropped by the workflow; checked at the end
        if (!r.result.check.ok) throw new Error(`verify-only restore of ${ctx.key} failed its check: ${r.result.check.problems.join('; ')}`);
        const steps = {};
        for (const a of r.activities) if (STEPS[a.name]) steps[STEPS[a.name]] = (steps[STEPS[a.name]] ?? 0) + a.seconds;
        steps.other = r.seconds - Object.values(steps).reduce((n, s) => n + s, 0);
        return {
          seconds: r.seconds,
          restoreSeconds: r.result.restoreSeconds,
          steps,
          check: { tables: r.result.check.tables, rows: r.result.check.rows },
          database: r.result.database,
          rssPeak: r.rssPeak,
          rssByActivity: r.rssByActivity,
          cpu: r.cpu,
          cpuWorker: r.cpuWorker,
          cpuTools: r.cpuTools,
          activities: r.activities.map((a) => ({ name: a.name, seconds: Number(a.seconds.toFixed(3)) })),
        };
      },
    },
  };
}

/**
 * Each load writes about twice the database in WAL (data and indexes, then full-page images when
 * hint bits are set: data checksums are on), and the stack archives all of it under its own
 * BACKUP_ROOT (about 2 GB per load at scale 10). Refuse to start when that would leave less than
 * 2 GB free on that file system (--ignore-disk to go ahead anyway).
 */
function checkDiskForWal(config, databaseBytes, options) {
  const loads = options.rounds * options.variants.filter((v) => ['m', 'v', 't'].includes(v)).length;
  const stackRoot = loadBenchConfig({}).backupRoot;
  const where = [requireDist('lib/catalog/paths').walArchiveDir(stackRoot), stackRoot, RESULTS].find((p) => fs.existsSync(p));
  const st = fs.statfsSync(where);
  const free = st.bavail * st.bsize;
  const needed = loads * 2 * databaseBytes;
  log(`${loads} load(s) will write about ${mb(needed)} MB of WAL, archived by the stack under ${where} (${mb(free)} MB free there)`);
  if (free - needed < 2e9 && !options.ignoreDisk) {
    throw new Error(`not enough disk for the archived WAL: about ${mb(needed)} MB needed, ${mb(free)} MB free on ${where}\nhint: run fewer rounds (--rounds 1), free space, or pass --ignore-disk`);
  }
}

/** The server's current WAL position, or the bytes written since `since`. */
async function walLsn(config, since) {
  return withPg(config, 'postgres', async (c) =>
    since === undefined
      ? (await c.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l
      : Number((await c.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS d', [since])).rows[0].d),
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const { pgToolEnv, pgToolPath } = requireDist('lib/postgres/tools');
  const stamp = timeStamp();
  fs.mkdirSync(RESULTS, { recursive: true });
  const work = path.join(RESULTS, `work-restore-${stamp}`);
  const backupRoot = path.join(work, 'backup-root');
  const taskQueue = `bench-restore-${os.hostname().split('.')[0]}-${process.pid}`;
  // The bench worker: the stack's configuration, but its own database, queue and BACKUP_ROOT, nothing off-site.
  const overrides = { DB_NAME: options.database, LIFEBOAT_TASK_QUEUE: taskQueue, BACKUP_ROOT: backupRoot, REMOTE_STORAGE: 'false', LOG_LEVEL: 'info', ...options.workerEnv };
  const config = loadBenchConfig(overrides);
  const pgEnv = { ...pgToolEnv(config.db), GNUPGHOME: config.encryption.gnupgHome };
  const pgBin = (tool) => pgToolPath(config.db, tool);
  const ctx = { options, config, pgEnv, pgBin, stamp, taskQueue, databases: new Set() };

  log(`machine: ${describeMachine()}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  await ensureDataset(config, pgEnv, options);
  const facts = await withPg(config, options.database, async (c) => ({
    bytes: Number((await c.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
    serverVersion: (await c.query('SHOW server_version')).rows[0].server_version,
    tables: (await c.query("SELECT relname AS name, n_live_tup::bigint AS rows, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables ORDER BY relname")).rows.map((r) => ({ name: r.name, rows: Number(r.rows), bytes: Number(r.bytes) })),
  }));
  log(`database ${options.database}: ${mb(facts.bytes)} MB, PostgreSQL ${facts.serverVersion}`);
  checkDiskForWal(config, facts.bytes, options);

  fs.mkdirSync(backupRoot, { recursive: true });
  log(`starting the bench worker on task queue ${taskQueue}`);
  ctx.worker = await startWorker(benchWorkerEnv(overrides), path.join(RESULTS, `worker-restore-${stamp}.log`), {
    nodeArgs: [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []), ...options.workerNodeOptions],
  });
  Object.assign(ctx, await connectTemporal(config));

  const rounds = [];
  let backup;
  try {
    // The backup every variant restores.
    const b = await runWorkflow(ctx, 'backupDatabase', [{ tier: 'daily' }], `bench-restore-backup-${stamp}`);
    ctx.key = b.result.key;
    ctx.file = path.join(backupRoot, ctx.key);
    ctx.metadata = JSON.parse(fs.readFileSync(`${ctx.file}.metadata.json`, 'utf8'));
    backup = { key: ctx.key, bytes: ctx.metadata.bytes, rawBytes: b.activities.find((a) => a.name === 'dumpDatabase')?.result?.rawBytes, compression: ctx.metadata.compression, format: ctx.metadata.dumpFormat, seconds: b.seconds, tables: ctx.metadata.tables.length };
    log(`backup ${ctx.key}: ${mb(backup.bytes)} MB (${backup.rawBytes ? `${mb(backup.rawBytes)} MB of SQL, ` : ''}${backup.compression.algorithm} -${backup.compression.level}) in ${b.seconds.toFixed(1)} s`);

    const variants = makeVariants(ctx);
    ctx.commands = Object.fromEntries(options.variants.map((v) => [v, variants[v].command]));
    for (let round = 1; round <= options.rounds; round++) {
      const results = {};
      for (const v of options.variants) {
        if (options.checkpoint) await withPg(config, 'postgres', (c) => c.query('CHECKPOINT'));
        const load = os.loadavg()[0];
        const walBefore = await walLsn(config);
        const childCpu = childrenCpuSeconds(process.pid);
        const r = await variants[v].run(round);
        if (r.cpu === undefined) r.cpu = childrenCpuSeconds(process.pid) - childCpu; // by hand: the tools this process ran
        r.walBytes = await walLsn(config, walBefore);
        r.loadAverage = load;
        results[v] = r;
        const detail = r.steps
          ? ` (restoreSeconds ${r.restoreSeconds.toFixed(2)}; ${Object.entries(r.steps).map(([k, s]) => `${k} ${s.toFixed(2)}`).join(', ')}), worker peak RSS ${mb(r.rssPeak ?? NaN)} MB`
          : r.loadSeconds !== undefined ? ` (createdb ${r.createdbSeconds.toFixed(2)}, load ${r.loadSeconds.toFixed(2)})` : '';
        log(`round ${round} ${LABELS[v]}: ${r.seconds.toFixed(2)} s, cpu ${r.cpu.toFixed(2)} s${detail}; ${mb(r.walBytes)} MB of WAL; load average ${load.toFixed(2)} before`);
      }
      if (results.m && results.v) log(`round ${round} ratio v/m ${(results.v.seconds / results.m.seconds).toFixed(2)}`);
      rounds.push(results);
    }
  } finally {
    await stopWorker(ctx.worker);
    await ctx.connection?.close();
    // Every database this run may have left (a failed by-hand load, a verify database of a failed run).
    const left = await withPg(config, 'postgres', async (c) => (await c.query("SELECT datname FROM pg_database WHERE datname = ANY($1) OR datname LIKE 'bench\\_restore\\_%' AND datname LIKE $2", [[...ctx.databases], `%${stamp.replace('-', '\\_')}%`])).rows.map((r) => r.datname));
    for (const database of left) {
      log(`dropping leftover database ${database}`);
      await withPg(config, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
    }
    fs.rmSync(work, { recursive: true, force: true });
  }

  // Medians per variant, ratio v/m within each round, per-step medians of (v).
  const rows = options.variants.map((v) => ({
    variant: v,
    label: LABELS[v],
    command: ctx.commands[v],
    walls: rounds.map((r) => r[v].seconds),
    wallMedian: median(rounds.map((r) => r[v].seconds)),
    cpuMedian: median(rounds.map((r) => r[v].cpu)),
  }));
  const ratios = options.variants.includes('m') && options.variants.includes('v') ? rounds.map((r) => r.v.seconds / r.m.seconds) : [];
  const vRounds = rounds.map((r) => r.v).filter(Boolean);
  const stepMedians = {};
  for (const step of [...Object.values(STEPS), 'other']) if (vRounds.length) stepMedians[step] = median(vRounds.map((r) => r.steps[step] ?? 0));
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    database: { name: options.database, scale: options.scale, bytes: facts.bytes, serverVersion: facts.serverVersion, tables: facts.tables },
    backup,
    workerEnv: options.workerEnv,
    checkpointBeforeEachVariant: options.checkpoint,
    rounds: options.rounds,
    rows,
    ratioVM: { ratios, median: ratios.length ? median(ratios) : undefined, target: 1.2, met: ratios.length ? median(ratios) <= 1.2 : undefined },
    verifyOnly: vRounds.length
      ? {
          restoreSecondsMedian: median(vRounds.map((r) => r.restoreSeconds)),
          stepMedians,
          rssPeakMax: Math.max(...vRounds.map((r) => r.rssPeak ?? 0)),
          rssByActivity: vRounds.reduce((acc, r) => {
            for (const [k, b] of Object.entries(r.rssByActivity)) acc[k] = Math.max(acc[k] ?? 0, b);
            return acc;
          }, {}),
          cpuWorkerMedian: median(vRounds.map((r) => r.cpuWorker)),
          cpuToolsMedian: median(vRounds.map((r) => r.cpuTools)),
        }
      : undefined,
    raw: rounds,
  };
  const resultFile = path.join(RESULTS, `restore-${stamp}.json`);
  fs.writeFileSync(resultFile, `${JSON.stringify(report, null, 2)}\n`);

  const out = [];
  const cols = options.variants;
  out.push(`| round | ${cols.map((v) => `${v} (s)`).join(' | ')} |${ratios.length ? ' v/m |' : ''}${cols.includes('v') ? ' v restoreSeconds | v checksum | v load | v compare | v drop | v other | worker peak RSS (MB) |' : ''}`);
  out.push(`| --- |${cols.map(() => ' ---: |').join('')}${ratios.length ? ' ---: |' : ''}${cols.includes('v') ? ' ---: | ---: | ---: | ---: | ---: | ---: | ---: |' : ''}`);
  const vCells = (v) => [v.restoreSeconds, v.steps.checksum, v.steps.load, v.steps.compare, v.steps.drop, v.steps.other].map((x) => (x ?? 0).toFixed(2)).concat(mb(v.rssPeak ?? NaN));
  rounds.forEach((r, i) => {
    out.push(`| ${i + 1} | ${cols.map((v) => r[v].seconds.toFixed(2)).join(' | ')} |${ratios.length ? ` ${ratios[i].toFixed(2)} |` : ''}${r.v ? ` ${vCells(r.v).join(' | ')} |` : ''}`);
  });
  if (rounds.length > 1) {
    const v = report.verifyOnly;
    out.push(`| median | ${rows.map((row) => row.wallMedian.toFixed(2)).join(' | ')} |${ratios.length ? ` ${report.ratioVM.median.toFixed(2)} |` : ''}${v ? ` ${[v.restoreSecondsMedian, ...['checksum', 'load', 'compare', 'drop', 'other'].map((k) => v.stepMedians[k])].map((x) => x.toFixed(2)).join(' | ')} | ${mb(v.rssPeakMax)} (max) |` : ''}`);
  }
  process.stdout.write(`\n${out.join('\n')}\n\n`);
  for (const row of rows) process.stdout.write(`${row.label}: median ${row.wallMedian.toFixed(2)} s, CPU ${row.cpuMedian.toFixed(1)} s; ${row.command}\n`);
  if (ratios.length) process.stdout.write(`ratio v/m (median of same-round ratios): ${report.ratioVM.median.toFixed(2)}x; target <= 1.2x: ${report.ratioVM.met ? 'met' : 'NOT met'}\n`);
  if (report.verifyOnly) process.stdout.write(`(v) worker CPU ${report.verifyOnly.cpuWorkerMedian.toFixed(1)} s, its tools ${report.verifyOnly.cpuToolsMedian.toFixed(1)} s (medians); peak RSS by activity (MB): ${Object.entries(report.verifyOnly.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}\n`);
  process.stdout.write(`backup: ${backup.key}, ${mb(backup.bytes)} MB${backup.rawBytes ? ` (${mb(backup.rawBytes)} MB of SQL)` : ''}; database ${mb(facts.bytes)} MB\nraw results: ${path.relative(ROOT, resultFile)}\n`);
}

main().catch((error) => {
  log(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
