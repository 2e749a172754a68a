#!/usr/bin/env node
/**
 * Restore benchmark (issue "Restore, point-in-time recovery and backup verification", item 9;
 * yardsticks of issue 16): Lifeboat's verify-only restore against the manual restore of the same
 * backup, run the way a DBA would, into the same server with the same archiving, side by side.
 *
 *   setup  one logical backup of the dataset database on the dev stack: workflow backupDatabase
 *          {tier:'daily'} into a scratch BACKUP_ROOT (REMOTE_STORAGE=false for the bench worker);
 *          and a PostgreSQL 15 server of the bench's own (the local environment provider, the
 *          stack's settings: data checksums, wal_level=replica, archive_mode=on) archiving with the
 *          product's archive_command (lib/lifeboat-bin.ts walArchiveCommand) into a scratch archive
 *          directory. Every variant restores INTO THIS SERVER, so both pay the same archiving.
 *   (m)    by hand, as a DBA would, timed from createdb to the end of psql: createdb <tmp>;
 *          gpg --decrypt file | zstd -d | psql -X -q -v ON_ERROR_STOP=1 --single-transaction
 *          -d <tmp> > /dev/null (gunzip for gzip backups); then every table's row count compared
 *          with the source database and dropdb <tmp>, not timed
 *   (v)    workflow restoreDatabase {backup, verifyOnly:true, target:{postgres: the bench server}}
 *          from start to result: checksum, load into lifeboat_verify_*, compare with the metadata
 *          (row counts, fingerprints), drop, record; its check must be ok
 *   optional, to see where the time goes (--variants):
 *   (n)    (m) without --single-transaction (statement by statement: docs/operations.md's
 *          "Restoring by hand" before issue 16, and the earlier yardstick)
 *   (d)    decode only: gpg --decrypt file | zstd -d > /dev/null
 *   (s)    sha256sum file (what fetchBackup's checksum does)
 *
 * Variants are interleaved within each round and repeated (--rounds, default 3): odd rounds in the
 * order given (default m, v), even rounds reversed; the ratio v/m is taken within each round and the
 * report shows medians. Before each variant, not timed: CHECKPOINT, then pg_switch_wal() and a wait
 * until pg_stat_archiver's last_archived_wal reaches the segment it closed (the previous variant's
 * WAL is all archived), then the scratch archive directory is emptied (only this bench's server
 * archives there). After each variant, not timed, the same wait: its "archive catch-up" seconds.
 * CPU seconds per variant: the client side (by hand: gpg, zstd, psql; Lifeboat: the worker and its
 * tools) and the bench server (its postmaster and every child: backends, checkpointer, archiver
 * with its archive_command processes) from /proc/<pid>/stat, from the start of the variant to the
 * end of its archive catch-up. The load average (1/5/15 min) is recorded before each variant.
 * Lifeboat runs in its own worker process (`node bin/lifeboat.js worker`) on its own task queue
 * with DB_NAME=<dataset>, BACKUP_ROOT in a scratch directory and REMOTE_STORAGE=false; the
 * worker's peak RSS (VmHWM, reset before each (v)) and the per-activity timings from the workflow
 * history (fetchBackup = checksum, restoreBackup = load, checkRestoredDatabase = compare,
 * dropVerifyDatabase) are reported. PG* variables and PGPASSWORD are in the environment, never argv.
 * Disk: a load writes about twice the database in WAL (~2 GB at scale 10); it is removed after each
 * variant, so the script needs that once (plus the server's pg_wal) and refuses to start with less
 * than that + 2 GB free (--ignore-disk to go ahead). Nothing reaches the stack's WAL archive.
 *
 * Usage:  npm run build && node bench/restore.js [--rounds N] [--variants m,v[,n,d,s]] [--scale 10]
 *                                                  [--database NAME] [--no-checkpoint] [--ignore-disk] [--cpu-prof]
 *                                                  [--worker-node-options "--max-old-space-size=..."]
 *                                                  [--worker-env NAME=value ...]   (e.g. COMPRESSION=gzip)
 * Needs the local stack (`node bin/lifeboat.js stack up`), run as root (the bench server runs as
 * the postgres OS user); reads the stack's env file ($LIFEBOAT_ENV_FILE, default
 * /var/lib/lifeboat/stack/lifeboat.env). Creates the dataset database from
 * ../shared/bench/corporate-intel-dataset.sql when it is missing. Raw results (JSON) and the
 * worker's log go to bench/results/ (git-ignored); the bench server, its archive, the scratch
 * directories and every database it creates are removed at the end.
 */
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  ROOT, RESULTS, parseArgs, log, median, mb, timeStamp, shellQuote, run, runShell, childrenCpuSeconds, machine, describeMachine, loadAverage, describeLoad,
  postmasterPid, serverCpuMeter, waitArchived, requireDist, loadBenchConfig, benchWorkerEnv, withPg, ensureDataset, startWorker, stopWorker, connectTemporal, runWorkflow, runMeasuredWorkflow,
} = require('./common');
const { provisionPrimary } = require('./wal-ship');

const ALL_VARIANTS = ['m', 'v', 'n', 'd', 's'];
const LABELS = {
  m: '(m) by hand: createdb; gpg -d | zstd -d | psql --single-transaction',
  v: '(v) Lifeboat restoreDatabase verifyOnly',
  n: '(n) by hand without --single-transaction',
  d: '(d) gpg -d | zstd -d > /dev/null',
  s: '(s) sha256sum file',
};
const LOADS = ['m', 'v', 'n']; // the variants that load into the bench server
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
  return options; // the order given is the order within an odd round
}

// ---------------------------------------------------------------------------------------------

function makeVariants(ctx) {
  const { config, targetEnv, pgEnv, file, pgBin } = ctx;
  const gpg = `gpg --homedir ${shellQuote(config.encryption.gnupgHome)} --batch --quiet --decrypt ${shellQuote(file)}`;
  const decompress = file.includes('.zst') ? 'zstd -d -q' : 'gunzip';
  const decode = config.encryption.enabled || file.endsWith('.gpg') ? `${gpg} | ${decompress}` : `${decompress} < ${shellQuote(file)}`;
  const psql = shellQuote(pgBin('psql'));
  const shown = (text) => text.replace(shellQuote(file), '<file>').replace(shellQuote(config.encryption.gnupgHome), '$GNUPGHOME');

  /** createdb, a load pipeline into it (timed together), every table's row count checked and dropdb (not timed). */
  const byHand = async (round, letter, psqlFlags) => {
    const database = `bench_restore_${letter}_${ctx.stamp.replace('-', '_')}_r${round}`;
    ctx.databases.add(database);
    const env = { ...targetEnv, PGDATABASE: 'postgres' };
    try {
      const created = await run(pgBin('createdb'), [database], { env });
      const loaded = await runShell(`${decode} | ${psql} ${psqlFlags} -d ${database} > /dev/null`, { env });
      const after = () => checkRows(ctx, database); // called by the loop after the measurements
      return { seconds: created.seconds + loaded.seconds, createdbSeconds: created.seconds, loadSeconds: loaded.seconds, database, after };
    } catch (error) {
      await run(pgBin('dropdb'), ['--if-exists', '--force', database], { env }).catch(() => undefined);
      ctx.databases.delete(database);
      throw error;
    }
  };

  return {
    m: {
      command: `createdb <tmp>; ${shown(decode)} | psql -X -q -v ON_ERROR_STOP=1 --single-transaction -d <tmp> > /dev/null`,
      run: (round) => byHand(round, 'm', '-X -q -v ON_ERROR_STOP=1 --single-transaction'),
    },
    n: {
      command: `createdb <tmp>; ${shown(decode)} | psql -v ON_ERROR_STOP=1 -q -d <tmp> > /dev/null`,
      run: (round) => byHand(round, 'n', '-v ON_ERROR_STOP=1 -q'),
    },
    d: {
      command: `${shown(decode)} > /dev/null`,
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
      command: `temporal workflow start --type restoreDatabase --input '{"backup":"<key>","verifyOnly":true,"target":{"postgres":{"host":"127.0.0.1","port":<bench server>}}}' (worker: node bin/lifeboat.js worker), until its result`,
      run: async (round) => {
        const r = await runMeasuredWorkflow(ctx, 'restoreDatabase', [{ backup: ctx.key, verifyOnly: true, target: { postgres: ctx.target } }], `bench-restore-${ctx.stamp}-r${round}`);
        ctx.databases.add(r.result.database); // dropped by the workflow; checked at the end
        if (!r.result.check.ok) throw new Error(`verify-only restore of ${ctx.key} failed its check: ${r.result.check.problems.join('; ')}`);
        const steps = {};
        for (const a of r.activities) if (STEPS[a.name]) steps[STEPS[a.name]] = (steps[STEPS[a.name]] ?? 0) + a.seconds;
        steps.other = r.seconds - Object.values(steps).reduce((n, s) => n + s, 0);
        return {
          seconds: r.seconds,
          restoreSeconds: r.result.restoreSeconds,
          steps,
          check: { ok: r.result.check.ok, tables: r.result.check.tables, rows: r.result.check.rows },
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

/** Every table of a by-hand restore against the source's exact row counts; then the database is dropped. */
async function checkRows(ctx, database) {
  try {
    const counts = await withPg({ db: { ...ctx.config.db, ...ctx.target } }, database, async (c) => {
      const out = {};
      for (const t of Object.keys(ctx.sourceRows)) out[t] = Number((await c.query(`SELECT count(*) AS n FROM public.${t}`)).rows[0].n);
      return out;
    });
    const wrong = Object.entries(ctx.sourceRows).filter(([t, n]) => counts[t] !== n);
    if (wrong.length) throw new Error(`${database}: row counts differ from the source: ${wrong.map(([t, n]) => `${t} ${counts[t]} (source ${n})`).join(', ')}`);
    return { tables: Object.keys(counts).length, rows: Object.values(counts).reduce((a, b) => a + b, 0) };
  } finally {
    await run(ctx.pgBin('dropdb'), ['--if-exists', '--force', database], { env: { ...ctx.targetEnv, PGDATABASE: 'postgres' } });
    ctx.databases.delete(database);
  }
}

/**
 * A load writes about twice the database in WAL (data and indexes, then full-page images when hint
 * bits are set: data checksums are on); the bench server archives it into the scratch archive, which
 * is emptied before each variant. Refuse to start when one load (plus the server's own pg_wal, up
 * to max_wal_size) would leave less than 2 GB free (--ignore-disk to go ahead anyway).
 */
function checkDisk(where, databaseBytes, options) {
  const st = fs.statfsSync(where);
  const free = st.bavail * st.bsize;
  const needed = 2 * databaseBytes + 1.1e9;
  log(`one load writes about ${mb(2 * databaseBytes)} MB of WAL into ${where} (removed after each variant; ${mb(free)} MB free)`);
  if (free - needed < 2e9 && !options.ignoreDisk) {
    throw new Error(`not enough disk for one load's WAL: about ${mb(needed)} MB needed, ${mb(free)} MB free on ${where}\nhint: free space, or pass --ignore-disk`);
  }
}

/** Remove every file of the scratch archive (only the bench server archives there); returns the bytes removed. */
function emptyArchive(dir) {
  let bytes = 0;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    try {
      bytes += fs.statSync(file).size;
      fs.rmSync(file, { recursive: true, force: true });
    } catch {
      // gone
    }
  }
  return bytes;
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
  const loadStart = loadAverage();

  log(`machine: ${describeMachine()}; load average ${describeLoad(loadStart)}`);
  await ensureDataset(config, pgEnv, options);
  const facts = await withPg(config, options.database, async (c) => {
    const tables = (await c.query("SELECT relname AS name, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname")).rows;
    for (const t of tables) t.rows = Number((await c.query(`SELECT count(*) AS n FROM public.${t.name}`)).rows[0].n);
    return {
      bytes: Number((await c.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n),
      serverVersion: (await c.query('SHOW server_version')).rows[0].server_version,
      tables: tables.map((t) => ({ name: t.name, rows: t.rows, bytes: Number(t.bytes) })),
    };
  });
  ctx.sourceRows = Object.fromEntries(facts.tables.map((t) => [t.name, t.rows]));
  log(`database ${options.database}: ${mb(facts.bytes)} MB, ${facts.tables.length} tables, ${facts.tables.reduce((n, t) => n + t.rows, 0)} rows, PostgreSQL ${facts.serverVersion}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-restore-'));
  const archiveDir = path.join(root, 'wal-archive');
  if (options.variants.some((v) => LOADS.includes(v))) checkDisk(root, facts.bytes, options);

  fs.mkdirSync(backupRoot, { recursive: true });
  const rounds = [];
  let backup;
  let primary;
  try {
    // The server every load goes into: the stack's settings, the product's archive_command, a scratch archive.
    primary = await provisionPrimary(root, { archiveDir });
    ctx.target = { host: primary.pg.host, port: primary.pg.port };
    ctx.targetEnv = { ...pgToolEnv({ ...config.db, ...ctx.target }), GNUPGHOME: config.encryption.gnupgHome };
    const archiveCommand = (await primary.sql('postgres', 'SHOW archive_command'))[0].archive_command;
    const servers = { postgres: await postmasterPid({ ...config.db, ...ctx.target }) };
    log(`bench server on ${ctx.target.host}:${ctx.target.port} (postmaster ${servers.postgres}), archive_command = ${archiveCommand}`);

    log(`starting the bench worker on task queue ${taskQueue}`);
    ctx.worker = await startWorker(benchWorkerEnv(overrides), path.join(RESULTS, `worker-restore-${stamp}.log`), {
      nodeArgs: [...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${RESULTS}`] : []), ...options.workerNodeOptions],
    });
    ctx.worker.setMaxListeners(0);
    Object.assign(ctx, await connectTemporal(config));

    // The backup every variant restores.
    const b = await runWorkflow(ctx, 'backupDatabase', [{ tier: 'daily' }], `bench-restore-backup-${stamp}`);
    ctx.key = b.result.key;
    ctx.file = path.join(backupRoot, ctx.key);
    ctx.metadata = JSON.parse(fs.readFileSync(`${ctx.file}.metadata.json`, 'utf8'));
    backup = { key: ctx.key, bytes: ctx.metadata.bytes, rawBytes: b.activities.find((a) => a.name === 'dumpDatabase')?.result?.rawBytes, compression: ctx.metadata.compression, format: ctx.metadata.dumpFormat, seconds: b.seconds, tables: ctx.metadata.tables.length };
    log(`backup ${ctx.key}: ${mb(backup.bytes)} MB (${backup.rawBytes ? `${mb(backup.rawBytes)} MB of SQL, ` : ''}${backup.compression.algorithm} -${backup.compression.level}) in ${b.seconds.toFixed(1)} s`);

    const variants = makeVariants(ctx);
    ctx.commands = Object.fromEntries(options.variants.map((v) => [v, variants[v].command]));
    const sql = (text) => primary.sql('postgres', text);
    for (let round = 1; round <= options.rounds; round++) {
      const results = {};
      const order = round % 2 ? options.variants : [...options.variants].reverse();
      log(`round ${round}: order ${order.join(', ')}`);
      for (const v of order) {
        // The same start for every variant: no dirty buffers, nothing left to archive, an empty archive.
        if (options.checkpoint) await sql('CHECKPOINT');
        const settled = await waitArchived(sql);
        const removedBytes = emptyArchive(archiveDir);
        const load = loadAverage();
        const walBefore = (await sql('SELECT pg_current_wal_lsn()::text AS l'))[0].l;
        const childCpu = childrenCpuSeconds(process.pid);
        const meter = serverCpuMeter(servers).start();
        const r = await variants[v].run(round);
        if (r.cpu === undefined) r.cpu = childrenCpuSeconds(process.pid) - childCpu; // by hand: the tools this process ran
        r.walBytes = Number((await sql(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${walBefore}'::pg_lsn) AS d`))[0].d);
        // Not timed: the archiver catches up with what this variant wrote (its CPU is still this variant's).
        const caughtUp = LOADS.includes(v) ? await waitArchived(sql) : { seconds: 0 };
        r.archiveCatchUpSeconds = caughtUp.seconds;
        r.serverCpu = meter.stop();
        r.cpuServer = r.serverCpu.postgres ?? 0;
        r.cpuTotal = r.cpu + r.cpuServer;
        r.loadAverage = load;
        r.settledBeforeSeconds = settled.seconds;
        r.archiveRemovedBeforeBytes = removedBytes;
        if (r.after) {
          r.rowCheck = await r.after(); // every table's row count against the source, then dropdb
          delete r.after;
        }
        results[v] = r;
        const detail = r.steps
          ? ` (restoreSeconds ${r.restoreSeconds.toFixed(2)}; ${Object.entries(r.steps).map(([k, s]) => `${k} ${s.toFixed(2)}`).join(', ')}; check ok: ${r.check.tables} tables, ${r.check.rows} rows), worker peak RSS ${mb(r.rssPeak ?? NaN)} MB`
          : r.loadSeconds !== undefined ? ` (createdb ${r.createdbSeconds.toFixed(2)}, load ${r.loadSeconds.toFixed(2)}; rows ok: ${r.rowCheck.tables} tables, ${r.rowCheck.rows} rows)` : '';
        log(`round ${round} ${LABELS[v]}: ${r.seconds.toFixed(2)} s, cpu ${r.cpu.toFixed(2)} s + server ${r.cpuServer.toFixed(2)} s${detail}; ${mb(r.walBytes)} MB of WAL, archive catch-up ${r.archiveCatchUpSeconds.toFixed(1)} s; load average ${describeLoad(load)} before`);
      }
      if (results.m && results.v) log(`round ${round} ratio v/m ${(results.v.seconds / results.m.seconds).toFixed(2)}`);
      rounds.push({ ...results, _order: order });
    }
    await waitArchived(sql).catch(() => undefined);
    emptyArchive(archiveDir);
  } finally {
    await stopWorker(ctx.worker);
    await ctx.connection?.close();
    if (primary) {
      // Every database this run may have left goes with the server.
      await primary.teardown().catch((e) => log(`could not tear down the bench server: ${e.message}`));
    }
    fs.rmSync(root, { recursive: true, force: true });
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
    cpuServerMedian: median(rounds.map((r) => r[v].cpuServer)),
    cpuTotalMedian: median(rounds.map((r) => r[v].cpuTotal)),
    walBytesMedian: median(rounds.map((r) => r[v].walBytes)),
    archiveCatchUpMedian: median(rounds.map((r) => r[v].archiveCatchUpSeconds)),
    loads: rounds.map((r) => r[v].loadAverage),
  }));
  const ratios = options.variants.includes('m') && options.variants.includes('v') ? rounds.map((r) => r.v.seconds / r.m.seconds) : [];
  const vRounds = rounds.map((r) => r.v).filter(Boolean);
  const stepMedians = {};
  for (const step of [...Object.values(STEPS), 'other']) if (vRounds.length) stepMedians[step] = median(vRounds.map((r) => r.steps[step] ?? 0));
  const report = {
    date: new Date().toISOString(),
    machine: machine(),
    loadAverage: { start: loadStart, end: loadAverage() },
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
  out.push(`| round | order | ${cols.map((v) => `${v} (s)`).join(' | ')} |${ratios.length ? ' v/m |' : ''}${cols.includes('v') ? ' v restoreSeconds | v checksum | v load | v compare | v drop | v other | worker peak RSS (MB) |' : ''} load 1 min |`);
  out.push(`| --- | --- |${cols.map(() => ' ---: |').join('')}${ratios.length ? ' ---: |' : ''}${cols.includes('v') ? ' ---: | ---: | ---: | ---: | ---: | ---: | ---: |' : ''} --- |`);
  const vCells = (v) => [v.restoreSeconds, v.steps.checksum, v.steps.load, v.steps.compare, v.steps.drop, v.steps.other].map((x) => (x ?? 0).toFixed(2)).concat(mb(v.rssPeak ?? NaN));
  rounds.forEach((r, i) => {
    out.push(`| ${i + 1} | ${r._order.join('')} | ${cols.map((v) => r[v].seconds.toFixed(2)).join(' | ')} |${ratios.length ? ` ${ratios[i].toFixed(2)} |` : ''}${r.v ? ` ${vCells(r.v).join(' | ')} |` : ''} ${cols.map((v) => r[v].loadAverage[0].toFixed(2)).join(' / ')} |`);
  });
  if (rounds.length > 1) {
    const v = report.verifyOnly;
    out.push(`| median | | ${rows.map((row) => row.wallMedian.toFixed(2)).join(' | ')} |${ratios.length ? ` ${report.ratioVM.median.toFixed(2)} |` : ''}${v ? ` ${[v.restoreSecondsMedian, ...['checksum', 'load', 'compare', 'drop', 'other'].map((k) => v.stepMedians[k])].map((x) => x.toFixed(2)).join(' | ')} | ${mb(v.rssPeakMax)} (max) |` : ''} |`);
  }
  process.stdout.write(`\n${out.join('\n')}\n\n`);
  process.stdout.write(`| variant | wall (s) | CPU client (s) | CPU server (s, incl. archiving) | CPU total (s) | WAL (MB) | archive catch-up after (s) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n`);
  for (const row of rows) process.stdout.write(`| ${row.label.replace(/\|/g, '\\|')} | ${row.wallMedian.toFixed(2)} | ${row.cpuMedian.toFixed(1)} | ${row.cpuServerMedian.toFixed(1)} | ${row.cpuTotalMedian.toFixed(1)} | ${mb(row.walBytesMedian)} | ${row.archiveCatchUpMedian.toFixed(1)} |\n`);
  process.stdout.write('(medians)\n');
  for (const row of rows) process.stdout.write(`${row.variant}: ${row.command}\n`);
  if (ratios.length) process.stdout.write(`ratio v/m (median of same-round ratios): ${report.ratioVM.median.toFixed(2)}x; target <= 1.2x: ${report.ratioVM.met ? 'met' : 'MISSED'}\n`);
  if (report.verifyOnly) process.stdout.write(`(v) worker CPU ${report.verifyOnly.cpuWorkerMedian.toFixed(1)} s, its tools ${report.verifyOnly.cpuToolsMedian.toFixed(1)} s (medians); peak RSS by activity (MB): ${Object.entries(report.verifyOnly.rssByActivity).map(([k, b]) => `${k} ${mb(b)}`).join(', ')}\n`);
  process.stdout.write(`backup: ${backup.key}, ${mb(backup.bytes)} MB${backup.rawBytes ? ` (${mb(backup.rawBytes)} MB of SQL)` : ''}; database ${mb(facts.bytes)} MB\nraw results: ${path.relative(ROOT, resultFile)}\n`);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error) => {
    log(`failed: ${error.stack ?? error}`);
    process.exit(1);
  },
);
