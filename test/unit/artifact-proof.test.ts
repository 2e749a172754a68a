/**
 * The artifact pipeline proves what it writes (lib/pipeline/artifact.ts) and owns every process's
 * output from the tick it is spawned (lib/pipeline/child.ts). Real processes (sh, zstd, tail,
 * sleep), no servers: a producer that is late to be read, cut short, or silent, and a compressor
 * that exits 0 without output, must each fail the write and leave nothing behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { endsWithin, tarEnding, writeArtifact, type ContentExpectation } from '../../lib/pipeline/artifact';
import { spawnTool, startTicksOf, stopLeftovers, bootId } from '../../lib/pipeline/child';
import { ArtifactIncomplete } from '../../lib/errors';
import { GLOBALS_EXPECTATION } from '../../lib/postgres/dump';
import { encodeBuffer } from '../../lib/pipeline/codec';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-proof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const GLOBALS = [
  '--', '-- PostgreSQL database cluster dump', '--', '', 'SET default_transaction_read_only = off;', 'SET client_encoding = \'UTF8\';', 'SET standard_conforming_strings = on;', '',
  'CREATE ROLE app;', 'ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;', '', '--', '-- PostgreSQL database cluster dump complete', '--', '', '',
].join('\n');
const globalsFile = join(dir, 'globals.sql');
writeFileSync(globalsFile, GLOBALS);


/** Files left in `folder` (a failed write must leave no target and no hidden .partial). */
const leftovers = (folder: string) => (existsSync(folder) ? readdirSync(folder) : []);

describe('output owned from the tick of the spawn', () => {
  it('node drops a child\'s unread stdout when it exits (the mechanism behind empty globals files)', async () => {
    // Characterises the runtime: a consumer attached 200 ms late reads nothing, though the child exited 0.
    const child = spawn('sh', ['-c', 'printf %s 0123456789012345678901234567890123']);
    const exited = new Promise((r) => child.once('exit', r));
    const closed = new Promise((r) => child.once('close', r));
    expect(await exited).toBe(0);
    await sleep(200);
    let late = 0;
    child.stdout.on('data', (c: Buffer) => (late += c.length));
    await closed;
    await sleep(50);
    expect(late).toBe(0);
  });

  it('spawnTool keeps every byte for a consumer that comes late', async () => {
    const tool = spawnTool({ command: 'sh', args: ['-c', 'printf %s 0123456789012345678901234567890123'] });
    await tool.done;
    await sleep(200);
    let read = 0;
    for await (const c of tool.output!) read += (c as Buffer).length;
    expect(read).toBe(34);
    expect(tool.outputBytes()).toBe(34);
  });

  it.each(['zstd', 'gzip'] as const)('a tiny producer read 200 ms late still gives a %s artifact with all its bytes', async (algorithm) => {
    const target = join(dir, `late-${algorithm}.sql`);
    const facts = await writeArtifact({
      source: { tool: { command: 'cat', args: [globalsFile] } }, target, compression: { algorithm, level: 1 }, expect: GLOBALS_EXPECTATION,
      beforeConsume: () => sleep(200),
    });
    expect(facts.rawBytes).toBe(GLOBALS.length);
    expect(facts.proof).toEqual({ method: 'decoded-file', decodedBytes: GLOBALS.length, compressedBytes: expect.any(Number) });
    const decoded = spawnSync(algorithm === 'zstd' ? 'zstd' : 'gzip', ['-d', '-c', target]);
    expect(decoded.stdout.toString()).toBe(GLOBALS);
  });
});

describe('a broken stage fails the write and leaves nothing', () => {
  const cases: [string, string, ContentExpectation, RegExp][] = [
    ['a producer that writes nothing and exits 0', 'true', GLOBALS_EXPECTATION, /wrote 0 bytes/],
    ['a producer that writes half its output and exits 0', `head -c ${Math.floor(GLOBALS.length / 2)} '${globalsFile}'`, GLOBALS_EXPECTATION, /does not end like a finished pg_dumpall/],
    ['a producer whose output is not what it claims', `printf 'hello world, this is not a dump at all, but it is long enough to pass the size'`, GLOBALS_EXPECTATION, /does not start like pg_dumpall --globals-only output/],
    ['a tar producer cut short', `head -c 2048 /dev/zero | tr '\\0' 'x'`, { what: 'a tar', minBytes: 1024, ending: { what: 'a complete tar archive', test: tarEnding } }, /does not end like a complete tar archive/],
  ];
  for (const algorithm of ['zstd', 'gzip'] as const) {
    for (const decodeLimit of [undefined, 0]) {
      it.each(cases)(`${algorithm}${decodeLimit === 0 ? ', stream proof only' : ''}: %s`, async (_name, script, expectation, message) => {
        const folder = join(dir, `broken-${algorithm}-${decodeLimit}-${Math.random().toString(16).slice(2)}`);
        const target = join(folder, 'artifact');
        const error = await writeArtifact({ source: { tool: { command: 'sh', args: ['-c', script] } }, target, compression: { algorithm, level: 1 }, expect: expectation, decodeLimit }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ArtifactIncomplete);
        expect((error as Error).message).toMatch(message);
        expect((error as ArtifactIncomplete).permanent).toBe(false);
        expect(leftovers(folder)).toEqual([]);
      });
    }
  }

  describe('a compressor that exits 0', () => {
    const fakeBin = join(dir, 'fake-zstd');
    const realPath = process.env.PATH;
    const fake = (body: string) => {
      rmSync(fakeBin, { recursive: true, force: true });
      mkdirSync(fakeBin);
      // Decoding (-d) stays real: only compression is broken.
      writeFileSync(join(fakeBin, 'zstd'), `#!/bin/sh\ncase " $* " in *" -d "*|*" -t "*) exec /usr/bin/zstd "$@";; esac\n${body}\n`);
      chmodSync(join(fakeBin, 'zstd'), 0o755);
      process.env.PATH = `${fakeBin}:${realPath}`;
    };
    afterEach(() => {
      process.env.PATH = realPath;
    });

    it('with no output fails the write', async () => {
      fake('cat > /dev/null; exit 0');
      const folder = join(dir, 'silent-zstd');
      const error = await writeArtifact({ source: { tool: { command: 'cat', args: [globalsFile] } }, target: join(folder, 'g'), compression: { algorithm: 'zstd', level: 1 }, expect: GLOBALS_EXPECTATION }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArtifactIncomplete);
      // Caught by the in-flight decode (an empty stream is no zstd frame), else by the missing report.
      expect((error as Error).message).toMatch(/the compressed stream does not decode|zstd exited 0 without reporting its byte counts/);
      expect(leftovers(folder)).toEqual([]);
    });

    it('that reports what it read but lost it fails the write', async () => {
      // Claims to have compressed everything into 13 bytes, writes an empty zstd frame of 13 bytes.
      fake(`n=$(wc -c); printf '' | /usr/bin/zstd -q -c; echo "/*stdin*\\\\ : 9.00% ($n B => 13 B, /*stdout*\\\\)" >&2; exit 0`);
      const folder = join(dir, 'lossy-zstd');
      const error = await writeArtifact({ source: { tool: { command: 'cat', args: [globalsFile] } }, target: join(folder, 'g'), compression: { algorithm: 'zstd', level: 1 }, expect: GLOBALS_EXPECTATION }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArtifactIncomplete);
      expect((error as Error).message).toMatch(/the compressed stream decodes to 0 bytes, the producer wrote \d+/);
      expect(leftovers(folder)).toEqual([]);
    });
  });

  it('encodeBuffer (WAL shipping) returns only what decodes back to the raw bytes', async () => {
    const raw = Buffer.from('a WAL segment stand-in '.repeat(1000));
    for (const algorithm of ['zstd', 'gzip'] as const) {
      const encoded = await encodeBuffer(raw, { algorithm, level: 1 }, undefined);
      expect(spawnSync(algorithm === 'zstd' ? 'zstd' : 'gzip', ['-d', '-c'], { input: encoded }).stdout.equals(raw)).toBe(true);
    }
    const realPath = process.env.PATH;
    const fakeBin = join(dir, 'fake-zstd-buffer');
    mkdirSync(fakeBin, { recursive: true });
    writeFileSync(join(fakeBin, 'zstd'), `#!/bin/sh\ncase " $* " in *" -d "*) exec /usr/bin/zstd "$@";; esac\ncat > /dev/null; printf '' | /usr/bin/zstd -q -c\n`);
    chmodSync(join(fakeBin, 'zstd'), 0o755);
    process.env.PATH = `${fakeBin}:${realPath}`;
    try {
      const error = await encodeBuffer(raw, { algorithm: 'zstd', level: 1 }, undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ArtifactIncomplete);
      expect((error as Error).message).toMatch(/decodes to 0 bytes that differ from the 23000 raw bytes/);
    } finally {
      process.env.PATH = realPath;
    }
  });

  it('endsWithin looks only at the tail it is given', () => {
    expect(endsWithin('complete')(Buffer.from('... dump complete\n'))).toBe(true);
    expect(endsWithin('complete')(Buffer.from('... dump compl'))).toBe(false);
  });
});

describe('tools die with the worker', () => {
  it('a tool spawned by a process that is SIGKILLed is killed by the kernel (setpriv --pdeathsig)', async () => {
    // A stand-in worker (the built module, as the real worker runs it): spawns `sleep 300` through
    // spawnTool, prints its pid, waits.
    const worker = spawn(process.execPath, ['-e', `
      const { spawnTool } = require(${JSON.stringify(join(__dirname, '../../dist/lib/pipeline/child.js'))});
      const t = spawnTool({ command: 'sleep', args: ['300'] });
      process.stdout.write(String(t.child.pid) + '\\n');
      setInterval(() => {}, 1000);
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve) => worker.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
    expect(startTicksOf(pid)).toBeDefined();
    worker.kill('SIGKILL');
    for (let i = 0; i < 50 && startTicksOf(pid) !== undefined; i++) await sleep(100);
    expect(startTicksOf(pid)).toBeUndefined();
  });

  it('stopLeftovers kills a recorded process only when boot, PID and start time all match', async () => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const pid = child.pid!;
    const ticks = startTicksOf(pid)!;
    expect(stopLeftovers([{ name: 'sleep', pid, startTicks: ticks + 1 }], bootId())).toEqual([]);
    expect(stopLeftovers([{ name: 'sleep', pid, startTicks: ticks }], 'another-boot')).toEqual([]);
    expect(stopLeftovers([{ name: 'sleep', pid, startTicks: ticks }], bootId())).toEqual([{ name: 'sleep', pid, startTicks: ticks }]);
    const signal = await new Promise((r) => child.once('exit', (_code, s) => r(s)));
    expect(signal).toBe('SIGKILL');
  });
});
