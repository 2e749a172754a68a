#!/usr/bin/env node
/**
 * WAL archiving benchmark (issue 16, gap 3): what archive_command costs per 16 MB segment, and how
 * far PostgreSQL's archiver falls behind a write-heavy load, for three commands:
 *   cp+sync  `test ! -f DIR/%f && cp %p DIR/%f && sync DIR/%f`: the floor (PostgreSQL's documented
 *            example made durable; no content check, no fsync of the directory)
 *   node     `node bin/lifeboat.js wal archive --archive-dir DIR %p %f`: the Node verb, a Node start per segment
 *   go       `lifeboat-wal-archive wal archive --archive-dir DIR %p %f`: tools/wal-archive, what
 *            archive_command names once `lifeboat tools ensure` / `stack up` has built it
 *
 *   1. WAL: a primary of its own (bench/wal-ship.js provisionPrimary) under a write-heavy load (bulk
 *      INSERTs of md5 text, then UPDATEs of them) until --segments segments are archived; those real
 *      segments are the input. --synthetic: segments with a valid long page header and random bytes,
 *      no primary (and no live part).
 *   2. live (--live-mb MB, 0 skips it): for each command in turn, the primary's archive_command is
 *      switched to it and --live-mb MB of WAL written; reported: the load's seconds, the archiver's lag
 *      after it (pg_switch_wal until pg_stat_archiver has the segment) and the archiver process's CPU
 *      (its own and its reaped archive_command children's). The primary is then torn down.
 *   3. offline: each command archives every segment into an empty directory, one at a time as
 *      PostgreSQL's archiver does (`sh -c`, cwd the data directory, %p = pg_wal/<segment>), after the
 *      segments were read once into the page cache; --rounds rounds with the order alternating
 *      (cp+sync node go, go node cp+sync, ...). CPU is the user+sys of the reaped children over the
 *      round (this process's cutime+cstime from /proc: the kernel sums them exactly, /proc rounds to
 *      10 ms) divided by the segments; wall is timed around each command. Each archive is checked
 *      (every segment there, same size, one compared byte for byte) and removed.
 *
 * Prints markdown tables (medians over the rounds, the ratio to cp+sync, the load average before each
 * run); raw results go to bench/results/wal-archive-<stamp>.json. Everything else it wrote is removed.
 *
 * Usage:  npx tsc -p tsconfig.build.json && LIFEBOAT_ENV_FILE=/var/lib/lifeboat/test-stack/lifeboat.env \
 *           node bench/wal-archive.js [--segments 128] [--rounds 2] [--live-mb 512] [--synthetic] [--dir /var/tmp]
 * Needs the compiled archiver (`npx lifeboat tools ensure`) and, without --synthetic, a stack's env file
 * (for the primary's settings) and PostgreSQL 15.
 */
'use strict';

const { spawnSync } = require('node:child_process');
const { randomFillSync } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  RESULTS, parseArgs, makeLog, median, timeStamp, shellQuote, requireDist, describeMachine, processCpuSeconds, loadAverage, describeLoad, postmasterPid,
} = require('./common');

const log = makeLog('wal-archive');
const SEGMENT = 16 * 1024 * 1024;
const SEGMENT_NAME = /^[0-9A-F]{24}$/;

/** The three archive_commands, for archive directory `dir` (PostgreSQL's %p and %f left in). */
function commands() {
  const { findLifeboatBin, findWalArchiver } = requireDist('lib/lifeboat-bin');
  const compiled = findWalArchiver();
  if (!compiled) throw new Error('the compiled archive_command is not built for this source\nhint: run `npx lifeboat tools ensure`');
  return [
    { name: 'cp+sync', command: (dir) => `test ! -f ${shellQuote(dir)}/%f && cp %p ${shellQuote(dir)}/%f && sync ${shellQuote(dir)}/%f` },
    { name: 'node', command: (dir) => `${shellQuote(process.execPath)} ${shellQuote(findLifeboatBin())} wal archive --archive-dir ${shellQuote(dir)} %p %f` },
    { name: 'go', command: (dir) => `${shellQuote(compiled)} wal archive --archive-dir ${shellQuote(dir)} %p %f` },
  ];
}

/** The order of the commands in round `r`: as listed, then reversed, alternating. */
const orderOf = (list, r) => (r % 2 === 0 ? list : [...list].reverse());

// ---------------------------------------------------------------------------------------------
// the segments

/** `count` segments with a valid PostgreSQL 15 long page header (lib/wal/segment.ts) and random bytes. */
function synthesizeSegments(pgWal, count) {
  const body = randomFillSync(Buffer.alloc(SEGMENT));
  const names = [];
  for (let i = 0; i < count; i++) {
    const segno = 0x100 + i; // log 1 onwards: 256 segments of 16 MB per log
    const name = `00000001${(Math.floor(segno / 256)).toString(16).toUpperCase().padStart(8, '0')}${(segno % 256).toString(16).toUpperCase().padStart(8, '0')}`;
    body.writeUInt16LE(0xd110, 0); // XLOG_PAGE_MAGIC of PostgreSQL 15
    body.writeUInt16LE(0x0002, 2); // XLP_LONG_HEADER
    body.writeUInt32LE(1, 4); // timeline
    body.writeBigUInt64LE(BigInt(segno) * BigInt(SEGMENT), 8);
    body.writeBigUInt64LE(0x6a0de0f20faa28c2n, 24);
    body.writeUInt32LE(SEGMENT, 32);
    body.writeUInt32LE(8192, 36);
    body.writeUInt32LE(i, 40); // each segment different
    fs.writeFileSync(path.join(pgWal, name), body);
    names.push(name);
  }
  return names;
}

/** Write about `mb` MB of WAL in database `bench` of the primary (bulk INSERTs of md5 text, then UPDATEs). */
async function writeLoad(primary, mb, state) {
  const lsn = async () => Number((await primary.sql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS n"))[0].n);
  const start = await lsn();
  while ((await lsn()) - start < mb * 1e6) {
    await primary.sql('bench', 'INSERT INTO rows SELECT g, md5(g::text || random()::text), repeat(md5(random()::text), 6) FROM generate_series($1::bigint, $1::bigint + 49999) g', [state.next]);
    await primary.sql('bench', 'UPDATE rows SET a = md5(a) WHERE id >= $1', [state.next]);
    state.next += 50_000;
  }
  // Keep the table small: later rounds write as much WAL per row as the first.
  await primary.sql('bench', 'TRUNCATE rows');
}

/** Wait until the primary has archived everything written so far; seconds waited. */
async function caughtUp(primary, timeoutMs = 900_000) {
  const started = Date.now();
  const [{ wal }] = await primary.sql('postgres', 'SELECT pg_walfile_name(pg_switch_wal()) AS wal');
  for (;;) {
    const [a] = await primary.sql('postgres', 'SELECT last_archived_wal, failed_count FROM pg_stat_archiver');
    if (a.last_archived_wal && a.last_archived_wal.slice(0, 24) >= wal) return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) throw new Error(`${wal} not archived after ${timeoutMs / 1000} s (${a.failed_count} failures)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds of the primary's archiver process: its own and its reaped children's (each archive_command). */
function archiverCpuSeconds(postmaster) {
  for (const e of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.replace(/^.*\) /, '').split(' ')[1]) !== postmaster) continue;
      if (!/^postgres: (.*: )?archiver/.test(fs.readFileSync(`/proc/${e}/cmdline`, 'utf8'))) continue;
      const cpu = processCpuSeconds(Number(e));
      return cpu.self + cpu.children;
    } catch {
      // gone
    }
  }
  throw new Error(`no archiver process under postmaster ${postmaster}`);
}

/** Live: each command as the primary's archive_command under --live-mb MB of write load. */
async function liveRuns(primary, root, list, mb, rounds) {
  const { postgresOsUser } = requireDist('lib/postgres/os-user');
  const owner = postgresOsUser();
  const postmaster = await postmasterPid({ host: primary.pg.host, port: primary.pg.port, user: primary.config.db.user, password: primary.config.db.password });
  const state = { next: 0 };
  const runs = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of orderOf(list, r)) {
      const dir = path.join(root, `live-${c.name}-${r}`);
      fs.mkdirSync(dir, { mode: 0o700 });
      if (owner) fs.chownSync(dir, owner.uid, owner.gid);
      await primary.sql('postgres', `ALTER SYSTEM SET archive_command = '${c.command(dir).replace(/'/g, "''")}'`);
      await primary.sql('postgres', 'SELECT pg_reload_conf()');
      await caughtUp(primary); // the switch itself, archived with the new command
      const [{ failed_count: failedBefore }] = await primary.sql('postgres', 'SELECT failed_count FROM pg_stat_archiver');
      const load = loadAverage();
      const cpuBefore = archiverCpuSeconds(postmaster);
      const started = Date.now();
      await writeLoad(primary, mb, state);
      const loadSeconds = (Date.now() - started) / 1000;
      const lagSeconds = await caughtUp(primary);
      const cpuSeconds = archiverCpuSeconds(postmaster) - cpuBefore;
      const segments = fs.readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).length;
      const [{ failed_count: failedAfter }] = await primary.sql('postgres', 'SELECT failed_count FROM pg_stat_archiver');
      const run = { round: r, command: c.name, walMb: mb, segments, loadSeconds, lagSeconds, archiverCpuSeconds: cpuSeconds, cpuMsPerSegment: (cpuSeconds * 1000) / segments, failures: Number(failedAfter) - Number(failedBefore), load };
      runs.push(run);
      log(`live ${c.name}: ${segments} segments in ${loadSeconds.toFixed(1)} s of load, lag after it ${lagSeconds.toFixed(1)} s, archiver CPU ${cpuSeconds.toFixed(2)} s (${run.cpuMsPerSegment.toFixed(1)} ms/segment), ${run.failures} failures; load ${describeLoad(load)}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return runs;
}

// ---------------------------------------------------------------------------------------------
// offline: every segment through each command, as the archiver runs it

/** CPU seconds of this process's reaped children (sh and what it ran). */
const childrenCpu = () => processCpuSeconds(process.pid).children;

function archiveAll(c, names, dataDir, archive) {
  fs.mkdirSync(archive);
  const command = c.command(archive);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const walls = [];
  const load = loadAverage();
  const cpuBefore = childrenCpu();
  const started = process.hrtime.bigint();
  for (const name of names) {
    const t = process.hrtime.bigint();
    const result = spawnSync('sh', ['-c', command.replaceAll('%p', `pg_wal/${name}`).replaceAll('%f', name)], { cwd: dataDir, env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    walls.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (result.status !== 0) throw new Error(`${c.name} failed for ${name} (exit ${result.status}): ${result.stderr.trim()}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuSeconds = childrenCpu() - cpuBefore;
  // Proof: every segment archived at full size, one compared byte for byte.
  for (const name of names) if (fs.statSync(path.join(archive, name)).size !== fs.statSync(path.join(dataDir, 'pg_wal', name)).size) throw new Error(`${c.name}: ${name} archived short`);
  const probe = names[Math.floor(names.length / 2)];
  if (!fs.readFileSync(path.join(archive, probe)).equals(fs.readFileSync(path.join(dataDir, 'pg_wal', probe)))) throw new Error(`${c.name}: ${probe} differs from its source`);
  fs.rmSync(archive, { recursive: true, force: true });
  return {
    command: c.name, segments: names.length, seconds, segmentsPerSecond: names.length / seconds, cpuSeconds,
    cpuMsPerSegment: (cpuSeconds * 1000) / names.length, wallMsMedian: median(walls), wallMsMax: Math.max(...walls), load,
  };
}

// ---------------------------------------------------------------------------------------------

const fixed = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function offlineTable(runs, list, bytes) {
  const floor = median(runs.filter((r) => r.command === 'cp+sync').map((r) => r.cpuMsPerSegment));
  const rows = list.map(({ name }) => {
    const mine = runs.filter((r) => r.command === name);
    const cpu = median(mine.map((r) => r.cpuMsPerSegment));
    const perSecond = median(mine.map((r) => r.segmentsPerSecond));
    return `| ${name} | ${fixed(cpu)} | ${mine.map((r) => fixed(r.cpuMsPerSegment)).join(', ')} | ${fixed(cpu / floor, 2)}× | ${fixed(median(mine.map((r) => r.wallMsMedian)))} | ${fixed(perSecond, 2)} | ${fixed((perSecond * bytes) / mine[0].segments / 1e6, 0)} | ${mine.map((r) => describeLoad(r.load)).join('; ')} |`;
  });
  return [
    '| archive_command | CPU ms / segment (median) | per round | × cp+sync | wall ms / segment (median) | segments/s | MB/s | load avg before (1/5/15 min, per round) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

function liveTable(runs, list) {
  if (runs.length === 0) return '';
  const rows = list.map(({ name }) => {
    const mine = runs.filter((r) => r.command === name);
    return `| ${name} | ${mine[0].walMb} | ${fixed(median(mine.map((r) => r.segments)), 0)} | ${fixed(median(mine.map((r) => r.loadSeconds)))} | ${fixed(median(mine.map((r) => r.lagSeconds)))} | ${fixed(median(mine.map((r) => r.archiverCpuSeconds)), 2)} | ${fixed(median(mine.map((r) => r.cpuMsPerSegment)))} | ${mine.reduce((s, r) => s + r.failures, 0)} | ${mine.map((r) => describeLoad(r.load)).join('; ')} |`;
  });
  return [
    '| archive_command (live) | WAL MB | segments | load s | lag after the load s | archiver CPU s | CPU ms / segment | failures | load avg before |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2), {
    file: __filename,
    defaults: { segments: 128, rounds: 2, liveMb: 512, synthetic: false, dir: os.tmpdir() },
    flags: {
      '--segments': (o, next) => (o.segments = Number(next())),
      '--rounds': (o, next) => (o.rounds = Number(next())),
      '--live-mb': (o, next) => (o.liveMb = Number(next())),
      '--synthetic': (o) => (o.synthetic = true),
      '--dir': (o, next) => (o.dir = next()),
    },
  });
  if (!(Number.isInteger(options.segments) && options.segments > 0) || !(Number.isInteger(options.rounds) && options.rounds > 0) || !(options.liveMb >= 0)) {
    throw new Error('--segments and --rounds must be positive integers, --live-mb a number of MB (0: no live part)');
  }
  const list = commands();
  const root = fs.mkdtempSync(path.join(options.dir, 'lifeboat-bench-walarchive-'));
  fs.chmodSync(root, 0o755); // the primary and its archive_command run as postgres
  const dataDir = path.join(root, 'data');
  const pgWal = path.join(dataDir, 'pg_wal');
  fs.mkdirSync(pgWal, { recursive: true });
  let primary;
  let live = [];
  const offline = [];
  try {
    let names;
    if (options.synthetic) {
      log(`synthesizing ${options.segments} segments in ${pgWal}`);
      names = synthesizeSegments(pgWal, options.segments);
    } else {
      const { provisionPrimary } = require('./wal-ship');
      log(`a primary of its own; write load until ${options.segments} segments are archived (load ${describeLoad(loadAverage())})`);
      primary = await provisionPrimary(path.join(root, 'primary'));
      await primary.sql('postgres', 'CREATE DATABASE bench');
      await primary.sql('bench', 'CREATE TABLE rows (id bigint PRIMARY KEY, a text, b text)');
      const archived = () => fs.readdirSync(primary.archiveDir).filter((n) => SEGMENT_NAME.test(n)).sort();
      const state = { next: 0 };
      const started = Date.now();
      while (archived().length < options.segments) {
        await writeLoad(primary, Math.max(64, ((options.segments - archived().length) * SEGMENT) / 1e6), state);
        await caughtUp(primary);
      }
      names = archived().slice(-options.segments);
      for (const name of names) fs.renameSync(path.join(primary.archiveDir, name), path.join(pgWal, name));
      log(`${names.length} real segments from ${((Date.now() - started) / 1000).toFixed(0)} s of write load`);
      if (options.liveMb > 0) live = await liveRuns(primary, root, list, options.liveMb, options.rounds);
      await primary.teardown();
      primary = undefined;
    }
    const bytes = names.reduce((sum, n) => sum + fs.statSync(path.join(pgWal, n)).size, 0);
    // Into the page cache once, so no command pays for reading from disk what the next one finds cached.
    for (const name of names) fs.readFileSync(path.join(pgWal, name));
    for (let r = 0; r < options.rounds; r++) {
      for (const c of orderOf(list, r)) {
        const run = { round: r, ...archiveAll(c, names, dataDir, path.join(root, `archive-${c.name}`)) };
        offline.push(run);
        log(`round ${r + 1} ${c.name}: ${fixed(run.cpuMsPerSegment)} ms CPU/segment, wall median ${fixed(run.wallMsMedian)} ms, ${fixed(run.segmentsPerSecond, 2)} segments/s; load ${describeLoad(run.load)}`);
      }
    }
    const result = {
      bench: 'wal-archive', at: new Date().toISOString(), machine: describeMachine(), source: options.synthetic ? 'synthetic' : 'write load on a primary of its own',
      segments: names.length, bytes, rounds: options.rounds, commands: Object.fromEntries(list.map((c) => [c.name, c.command('DIR')])), offline, live,
    };
    fs.mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, `wal-archive-${timeStamp()}.json`);
    fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\n${names.length} segments (${(bytes / 1e6).toFixed(0)} MB, ${result.source}), ${options.rounds} rounds, ${describeMachine()}\n\n`);
    process.stdout.write(`${offlineTable(offline, list, bytes)}\n\n`);
    if (live.length) process.stdout.write(`${liveTable(live, list)}\n\n`);
    log(`results in ${path.relative(process.cwd(), file)}`);
  } finally {
    if (primary) await primary.teardown().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((error) => {
    log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
