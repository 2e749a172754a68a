/**
 * What the benchmarks in bench/ share: option parsing, logging, timing a command, medians, /proc
 * readers (peak RSS, CPU of a process, of a whole process tree, of the PostgreSQL and MinIO
 * servers over a timed interval), the load average, waiting for the WAL archiver to catch up,
 * loading dist/ and the stack's configuration, the dataset database, a worker process of the
 * bench's own, and running a workflow with per-activity timings from its history. Plain CommonJS;
 * it requires ../dist/ (build with `npm run build`).
 */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { setTimeout: delay } = require('node:timers/promises');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const RESULTS = path.join(__dirname, 'results');
const DATASET_SQL = path.join(ROOT, '..', 'shared', 'bench', 'corporate-intel-dataset.sql');
const DEFAULT_ENV_FILE = '/var/lib/lifeboat/stack/lifeboat.env';

/** The stack's env file: $LIFEBOAT_ENV_FILE, default the embedded stack's. */
const envFile = () => process.env.LIFEBOAT_ENV_FILE || DEFAULT_ENV_FILE;

// ---------------------------------------------------------------------------------------------
// options, logging, small helpers

/** Print a script's header comment (from its first `/**` to the first `*\/`). */
function printHelp(file) {
  const text = fs.readFileSync(file, 'utf8');
  process.stdout.write(`${text.slice(text.indexOf('/**'), text.indexOf('*/') + 2)}\n`);
}

/**
 * Parse `argv` into a copy of `defaults`. `flags` maps each option to a handler
 * `(options, next) => void`; `next()` returns the option's value (and fails when it is missing).
 * `--help`/`-h` prints the header comment of `file` and exits.
 */
function parseArgs(argv, { file, defaults, flags }) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      return value;
    };
    if (arg === '--help' || arg === '-h') {
      printHelp(file);
      process.exit(0);
    }
    if (!Object.hasOwn(flags, arg)) throw new Error(`unknown argument ${arg}`);
    flags[arg](options, next);
  }
  return options;
}

/** A logger to stderr: `[bench HH:MM:SS] ...`, or `[bench <tag>] ...` when a tag is given. */
function makeLog(tag) {
  return (message) => process.stderr.write(`[bench ${tag ?? new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
const log = makeLog();

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Bytes as MB with one decimal (a string). */
const mb = (bytes) => (bytes / 1e6).toFixed(1);

/** A UTC time stamp for file names: YYYYMMDD-HHMMSS. */
const timeStamp = (date = new Date()) => date.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

const shellQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** Run a command (argument array, no shell unless the command is `bash -c`), timing it. */
function run(command, args, { env, stdout = 'ignore', capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ['ignore', capture ? 'pipe' : stdout, 'pipe'] });
    let out = '';
    let err = '';
    if (capture) child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err = (err + c).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolve({ seconds, stdout: out, stderr: err });
      else reject(new Error(`${path.basename(command)} ${signal ? `killed by ${signal}` : `exited with ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** A bash pipeline with pipefail, timed (its tools' CPU shows in this process's children time). */
const runShell = (script, options) => run('bash', ['-c', `set -o pipefail; ${script}`], options);

// ---------------------------------------------------------------------------------------------
// /proc readers (Linux)

function vmHwmBytes(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function vmRssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN; // the process is gone (its exit is reported by startWorker)
  }
}

const CLOCK_TICKS = 100;

/** CPU seconds of a process itself (utime + stime) and of its reaped children (cutime + cstime). */
function processCpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // after "pid (comm) ": state is field 3, so utime (14) .. cstime (17) are indexes 11..14 here
  return { self: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS, children: (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS };
}

const childrenCpuSeconds = (pid) => processCpuSeconds(pid).children;

/** The machine's load average (1, 5, 15 min), two decimals: recorded with every round. */
const loadAverage = () => os.loadavg().map((x) => Number(x.toFixed(2)));
const describeLoad = (l) => l.map((x) => x.toFixed(2)).join(' / ');

/** Every live process as pid -> { ppid, cpu } where cpu = its own utime+stime plus its reaped children's (seconds). */
function processTable() {
  const table = new Map();
  let entries = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return table;
  }
  for (const e of entries) {
    try {
      const fields = fs.readFileSync(`/proc/${e}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      // after "pid (comm) ": ppid is index 1, utime..cstime indexes 11..14
      table.set(Number(e), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS });
    } catch {
      // gone between the listing and the read
    }
  }
  return table;
}

/**
 * CPU seconds consumed so far by the process tree under `rootPid` (itself included): the sum over
 * the live tree of each process's own time plus its reaped children's (cutime + cstime). Differences
 * of two readings are the tree's CPU over the interval, including processes that started and ended
 * in between (a PostgreSQL backend, an archive_command): the postmaster reaps them, so their time
 * moves into its cutime. Misses only orphans re-parented out of the tree. 0 when the root is gone.
 */
function treeCpuSeconds(rootPid, table = processTable()) {
  if (!table.has(rootPid)) return 0;
  const children = new Map();
  for (const [pid, p] of table) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(pid);
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    total += table.get(pid)?.cpu ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** The postmaster's pid of the server `config.db` (or `db`) points at: the parent of our backend (same machine only). */
async function postmasterPid(db) {
  const { Client } = require('pg');
  const client = new Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    const backend = (await client.query('SELECT pg_backend_pid() AS p')).rows[0].p;
    const fields = fs.readFileSync(`/proc/${backend}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return Number(fields[1]);
  } finally {
    await client.end();
  }
}

/** pid of the postmaster of a data directory (postmaster.pid), or undefined. */
function postmasterPidOfDataDir(dataDir) {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 && fs.existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** pid of the `minio server` listening on `endpoint` (http://host:port), found by its command line; undefined when none is. */
function minioServerPid(endpoint) {
  const { hostname, port } = new URL(endpoint);
  for (const e of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const argv = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!argv.length || !path.basename(argv[0]).startsWith('minio') || !argv.includes('server')) continue;
      const i = argv.indexOf('--address');
      const address = i >= 0 ? argv[i + 1] : ':9000';
      if (address === `${hostname}:${port}` || address === `:${port}`) return Number(e);
    } catch {
      // gone
    }
  }
  return undefined;
}

/**
 * A meter for server processes: `servers` maps a name to a root pid (a postmaster, a MinIO server);
 * start() reads every tree's CPU, stop() returns { name: CPU seconds over the interval } (rounded to
 * 0.01 s; 100 Hz clock ticks). `extra` (name -> pid) can be added before stop() for servers that
 * started during the interval (their whole life is inside it: counted from zero).
 */
function serverCpuMeter(servers) {
  const roots = Object.fromEntries(Object.entries(servers).filter(([, pid]) => pid));
  let before = {};
  return {
    start() {
      const table = processTable();
      before = Object.fromEntries(Object.entries(roots).map(([name, pid]) => [name, treeCpuSeconds(pid, table)]));
      return this;
    },
    stop(extra = {}) {
      const table = processTable();
      const out = {};
      for (const [name, pid] of Object.entries(roots)) out[name] = Number((treeCpuSeconds(pid, table) - before[name]).toFixed(2));
      for (const [name, pid] of Object.entries(extra)) if (pid) out[name] = Number(((out[name] ?? 0) + treeCpuSeconds(pid, table)).toFixed(2));
      return out;
    },
  };
}

/**
 * Wait until the archiver has archived every WAL segment completed so far: pg_switch_wal(), then
 * poll pg_stat_archiver until last_archived_wal reaches the segment the switch closed (when nothing
 * was written since the last switch, that segment is already archived). `query(text)` runs SQL on
 * the server and returns rows. Returns the seconds waited and the segment.
 */
async function waitArchived(query, { timeoutMs = 600_000, pollMs = 250 } = {}) {
  const started = Date.now();
  const [{ segment }] = await query('SELECT pg_walfile_name(pg_switch_wal()) AS segment');
  for (;;) {
    const [a] = await query('SELECT last_archived_wal, last_failed_wal, failed_count FROM pg_stat_archiver');
    if (a.last_archived_wal && a.last_archived_wal.slice(0, 24) >= segment) return { seconds: (Date.now() - started) / 1000, segment };
    if (Date.now() - started > timeoutMs) throw new Error(`WAL segment ${segment} not archived after ${timeoutMs / 1000} s (last archived ${a.last_archived_wal}, last failed ${a.last_failed_wal}, ${a.failed_count} failures)`);
    await delay(pollMs);
  }
}

/** Reset the process's peak-RSS counter (Linux clear_refs "5"), so the next reading is per run. */
function resetHwm(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false; // not permitted: the reading is then the peak since start
  }
}

function machine() {
  return { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version };
}

const describeMachine = (m = machine()) => `${m.cpus} x ${m.model}, ${m.memGiB} GiB, ${m.kernel}, node ${m.node}`;

// ---------------------------------------------------------------------------------------------
// dist/, configuration, PostgreSQL

/** require() a module of the build (`rel` like 'lib/config/load'); exits 4 with a hint when missing. */
function requireDist(rel) {
  const file = path.join(DIST, rel.replace(/\.js$/, ''));
  if (!fs.existsSync(`${file}.js`)) {
    log(`${path.relative(ROOT, file)}.js is missing\nhint: run \`npm run build\` first`);
    process.exit(4);
  }
  return require(file);
}

/** The configuration the bench worker will see: the env file, the process environment, then `overrides`. */
function loadBenchConfig(overrides = {}) {
  const { loadConfig } = requireDist('lib/config/load');
  return loadConfig({ env: { ...process.env, LIFEBOAT_ENV_FILE: envFile(), ...overrides } });
}

/** The environment of a bench worker process: this process's, the env file and `overrides`. */
function benchWorkerEnv(overrides = {}) {
  const env = { ...process.env, LIFEBOAT_ENV_FILE: envFile(), ...overrides };
  delete env.NODE_OPTIONS;
  return env;
}

/** Run `fn` with a pg client connected to `database` with the configuration's credentials. */
async function withPg(config, database, fn) {
  const { Client } = require('pg');
  const client = new Client({ host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The dataset database `database` at `scale` (../shared/bench/corporate-intel-dataset.sql): reused
 * when it holds that scale, refused when it holds something else, else built under a temporary name
 * and renamed when complete (a half-built database is never reused). Returns true when it built it.
 */
async function ensureDataset(config, pgEnv, { database, scale }) {
  return withPg(config, 'postgres', async (admin) => {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount > 0;
    if (exists) {
      const ok = await withPg(config, database, async (db) => {
        const { rows } = await db.query("SELECT to_regclass('public.companies') IS NOT NULL AS ok");
        if (!rows[0].ok) return false;
        const n = Number((await db.query('SELECT count(*) AS n FROM companies')).rows[0].n);
        if (n === 2000 * scale) return true;
        throw new Error(`database ${database} holds the dataset at scale ${n / 2000}, not ${scale}\nhint: drop it (DROP DATABASE ${database}) or pass --database another_name`);
      });
      if (ok) return false;
      throw new Error(`database ${database} exists but has no dataset\nhint: drop it (DROP DATABASE ${database}) and run the bench again`);
    }
    const temp = `${database}_building`;
    log(`creating ${database} at scale ${scale} from ${path.relative(ROOT, DATASET_SQL)} (a minute or a few)`);
    await admin.query(`DROP DATABASE IF EXISTS ${temp}`);
    await admin.query(`CREATE DATABASE ${temp}`);
    const psql = requireDist('lib/postgres/tools').pgToolPath(config.db, 'psql');
    const { seconds } = await run(psql, ['-X', '-q', '-v', `scale=${scale}`, '-f', DATASET_SQL, '-d', temp], { env: { ...pgEnv, PGDATABASE: temp } });
    await admin.query(`ALTER DATABASE ${temp} RENAME TO ${database}`);
    log(`dataset created in ${seconds.toFixed(0)} s`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// the bench worker process and Temporal

/**
 * Start `node bin/lifeboat.js worker` with `env`, its stdout and stderr in `logFile`; resolves
 * once it logs "workers ready". `nodeArgs` go before the script (e.g. --cpu-prof).
 */
async function startWorker(env, logFile, { nodeArgs = [] } = {}) {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin', 'lifeboat.js'), 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = fs.createWriteStream(logFile);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const ready = new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered = (buffered + chunk).slice(-10000);
      if (buffered.includes('"workers ready"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker exited with ${code} before it was ready; see ${logFile}`)));
  });
  await Promise.race([ready, delay(120_000, undefined, { ref: false }).then(() => Promise.reject(new Error('the worker was not ready within 120 s')))]);
  child.once('exit', (code, signal) => {
    if (!child.stopping) log(`the bench worker exited unexpectedly (${signal ?? `code ${code}`}); see ${logFile}`);
  });
  return child;
}

/** Stop the worker started by startWorker: SIGINT (graceful shutdown), SIGKILL after 30 s. */
async function stopWorker(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.stopping = true;
  child.kill('SIGINT');
  await Promise.race([exited, delay(30_000, undefined, { ref: false }).then(() => child.kill('SIGKILL'))]);
}

async function connectTemporal(config) {
  const { Connection, Client } = require('@temporalio/client');
  const connection = await Connection.connect({ address: config.temporal.address });
  return { connection, client: new Client({ connection, namespace: config.temporal.namespace }) };
}

function eventMs(event) {
  const t = event.eventTime;
  return Number(String(t.seconds)) * 1000 + (t.nanos ?? 0) / 1e6;
}

/**
 * Per-activity timings and results from a workflow's history: seconds from scheduled to completed
 * (queueing included), and the start and end times (ms) of the attempt that completed.
 */
async function activityTimings(handle) {
  const { defaultPayloadConverter } = require('@temporalio/common');
  const history = await handle.fetchHistory();
  const scheduled = new Map();
  const activities = [];
  for (const event of history.events ?? []) {
    const id = Number(String(event.eventId));
    if (event.activityTaskScheduledEventAttributes) {
      scheduled.set(id, { name: event.activityTaskScheduledEventAttributes.activityType.name, scheduledMs: eventMs(event) });
    } else if (event.activityTaskStartedEventAttributes) {
      const s = scheduled.get(Number(String(event.activityTaskStartedEventAttributes.scheduledEventId)));
      if (s) s.startedMs = eventMs(event);
    } else if (event.activityTaskCompletedEventAttributes) {
      const a = event.activityTaskCompletedEventAttributes;
      const s = scheduled.get(Number(String(a.scheduledEventId)));
      if (!s) continue;
      const payload = a.result?.payloads?.[0];
      const result = payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
      activities.push({ name: s.name, seconds: (eventMs(event) - s.scheduledMs) / 1000, startMs: s.startedMs ?? s.scheduledMs, endMs: eventMs(event), result });
    }
  }
  return activities;
}

/** Start a workflow on `taskQueue` and wait for its result: wall seconds, result, activity timings. */
async function runWorkflow({ client, taskQueue }, type, args, workflowId) {
  const started = process.hrtime.bigint();
  const handle = await client.workflow.start(type, { taskQueue, workflowId, args });
  const result = await handle.result();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const activities = await activityTimings(handle);
  return { seconds, result, activities };
}

/**
 * runWorkflow on the bench worker, measuring the worker too: its peak RSS (VmHWM, reset before the
 * run), its RSS sampled every 50 ms to find the peak of each activity, and CPU seconds of the worker
 * itself and of the tools it ran. Fails at once if the worker exits during the run.
 */
async function runMeasuredWorkflow({ client, taskQueue, worker }, type, args, workflowId) {
  const hwmReset = resetHwm(worker.pid);
  const samples = [];
  const sampler = setInterval(() => samples.push([Date.now(), vmRssBytes(worker.pid)]), 50);
  const cpuBefore = processCpuSeconds(worker.pid);
  let r;
  try {
    const workerGone = new Promise((_, reject) => worker.once('exit', () => reject(new Error('the bench worker exited during the run'))));
    workerGone.catch(() => undefined);
    r = await Promise.race([runWorkflow({ client, taskQueue }, type, args, workflowId), ...(worker.exitCode === null ? [workerGone] : [Promise.reject(new Error('the bench worker is not running'))])]);
  } finally {
    clearInterval(sampler);
  }
  const cpuAfter = processCpuSeconds(worker.pid);
  const cpuWorker = cpuAfter.self - cpuBefore.self;
  const cpuTools = cpuAfter.children - cpuBefore.children;
  const rssByActivity = {};
  for (const a of r.activities) {
    const inside = samples.filter(([t]) => t >= a.startMs && t <= a.endMs).map(([, v]) => v);
    if (inside.length) rssByActivity[a.name] = Math.max(rssByActivity[a.name] ?? 0, ...inside);
  }
  return { ...r, rssPeak: hwmReset ? vmHwmBytes(worker.pid) : undefined, rssByActivity, cpu: cpuWorker + cpuTools, cpuWorker, cpuTools };
}

module.exports = {
  ROOT,
  DIST,
  RESULTS,
  DATASET_SQL,
  envFile,
  printHelp,
  parseArgs,
  makeLog,
  log,
  median,
  mb,
  timeStamp,
  shellQuote,
  run,
  runShell,
  vmHwmBytes,
  vmRssBytes,
  processCpuSeconds,
  childrenCpuSeconds,
  loadAverage,
  describeLoad,
  processTable,
  treeCpuSeconds,
  postmasterPid,
  postmasterPidOfDataDir,
  minioServerPid,
  serverCpuMeter,
  waitArchived,
  resetHwm,
  machine,
  describeMachine,
  requireDist,
  loadBenchConfig,
  benchWorkerEnv,
  withPg,
  ensureDataset,
  startWorker,
  stopWorker,
  connectTemporal,
  activityTimings,
  runWorkflow,
  runMeasuredWorkflow,
};
