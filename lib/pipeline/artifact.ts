/**
 * The one-pass artifact pipeline: a producer's output -> compression -> OpenPGP encryption ->
 * sha256 -> a temporary file beside the target, fsynced and renamed into place. Plaintext only ever
 * exists in pipes and bounded in-memory buffers (about 1 MB per stage), never on disk. On any
 * failure every process is killed and the temporary file removed: nothing is left at the target.
 *
 * An artifact is committed only once it is proven:
 * 1. every output is owned from the tick its process is spawned (lib/pipeline/child.ts), so no
 *    byte can be dropped between stages;
 * 2. every stage's bytes are accounted for: what zstd reports it read and wrote (`-vv`) against
 *    what node counted on its side of the pipes, what the cipher took against what the compressor
 *    gave, what was written against the file's size on disk; a producer that wrote less than it
 *    always writes (a globals dump always has its preamble) fails the write;
 * 3. a copy of the compressed stream is test-decoded while it is written (`zstd -t`, or gunzip in
 *    node) and must decode to exactly the raw byte count; the first decoded bytes must be what the
 *    producer always starts with (a dump header, a tar header);
 * 4. an artifact of at most `decodeLimit` bytes (64 MiB: globals, configuration, small databases)
 *    is decoded back from the written file (decrypted with this message's session key, which never
 *    leaves memory, then decompressed) and must give the raw byte count and the header again.
 * Any disagreement throws ArtifactIncomplete (retryable).
 *
 * With zstd and a producer spawned here, zstd reads the producer's pipe itself (kernel pipe, spawned
 * in the same tick), so the raw bytes (most of the data) never pass through node.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, constants as zlib } from 'node:zlib';
import { createDecryptStream, createEncryptStreamWithSessionKey, type EncryptionKey } from '../crypto/openpgp';
import { ArtifactIncomplete } from '../errors';
import { killTool, spawnChain, spawnTool, ToolExit, type SpawnOptions, type ToolPid, type ToolProcess, type ToolSpec } from './child';
import { commitFile, tempPathFor } from './atomic-file';
import { createCompressStage, createDecompressStage, readProgress, zstdCompressReport, zstdCompressSpec, zstdDecodeReport, type CompressionAlgorithm } from './compress';
import { ByteCounter, HashCounter } from './hash';

/** What a healthy producer always writes; checked on the decoded bytes. */
export interface ContentExpectation {
  /** For messages, e.g. "pg_dumpall --globals-only output". */
  what: string;
  /** The fewest raw bytes it ever writes (0 bytes is never a good backup). */
  minBytes: number;
  /** Bytes the raw stream holds at `offset` (a dump header, the tar magic). */
  magic?: { offset: number; bytes: Buffer };
  /** How a complete stream ends, tested on its last TAIL_BYTES (a dump's "complete" line, a tar's zero blocks): a producer cut short fails it. */
  ending?: { what: string; test: (tail: Buffer) => boolean };
}

/** An ending check: the last bytes contain this text (a dump's "complete" comment). */
export function endsWithin(text: string): (tail: Buffer) => boolean {
  return (tail) => tail.includes(text);
}

/** A tar archive ends with (at least) two 512-byte blocks of zeros. */
export function tarEnding(tail: Buffer): boolean {
  return tail.length >= 1024 && tail.subarray(tail.length - 1024).every((b) => b === 0);
}

/** Artifacts up to this size are decoded back from the written file before they are committed. */
export const DECODE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface WriteArtifactOptions {
  /**
   * `tool`: spawned here, in this tick (its stdout goes straight into zstd); `stream`: produced in
   * node (e.g. a tar of MinIO objects).
   */
  source: { tool: ToolSpec } | { stream: Readable };
  target: string;
  compression: { algorithm: CompressionAlgorithm; level: number };
  /** Encrypt to this key; undefined writes compressed plaintext (ENCRYPT_BACKUPS=false). */
  encryptionKey?: EncryptionKey;
  expect: ContentExpectation;
  /** Decode the written file back when it is at most this many bytes (default DECODE_LIMIT_BYTES; 0: never). */
  decodeLimit?: number;
  /** Called as data flows (bytes read from the source, bytes written). */
  onProgress?: (rawBytes: number, writtenBytes: number) => void;
  /** Called once per process started (for heartbeat details: a retry stops what is left). */
  onSpawn?: SpawnOptions['onSpawn'];
  /** Aborting (activity cancelled) stops the pipeline, kills the tools and removes the temp file. */
  signal?: AbortSignal;
  /** Receives the producer's stderr tail once it exited 0 (pg_basebackup reports its LSNs there). */
  onProducerStderr?: (stderr: string) => void;
  /** Test hook: awaited after the processes are spawned and before node starts reading them. */
  beforeConsume?: () => Promise<void>;
}

/** How an artifact was proven before it was committed (recorded in its metadata). */
export interface ArtifactProof {
  /**
   * 'decoded-file': the written file was decrypted and decompressed back; 'test-decoded-stream': its
   * compressed stream was test-decoded while written; 'none': only the byte counts were checked
   * (LIFEBOAT_BENCH_PROOF=off, for measuring what the proof costs; never in production).
   */
  method: 'decoded-file' | 'test-decoded-stream' | 'none';
  /** Raw bytes the decode gave (equal to rawBytes, or the write failed). */
  decodedBytes: number;
  /** Compressed bytes (between the compressor and the cipher). */
  compressedBytes: number;
}

export interface ArtifactFacts {
  sha256: string;
  bytes: number;
  rawBytes: number;
  proof: ArtifactProof;
}

export async function writeArtifact(options: WriteArtifactOptions): Promise<ArtifactFacts> {
  const { algorithm, level } = options.compression;
  const onSpawn = options.onSpawn;
  // 1. Spawn everything in this tick; from here on every process's output is owned.
  const plan = startProcesses(options.source, algorithm, level, onSpawn);
  // Benchmarks only: measure the write without the test decode and the decode back.
  const proofOff = process.env.LIFEBOAT_BENCH_PROOF === 'off';
  // The in-flight test decode: zstd -d | tail (kernel pipe), so only the last bytes reach node.
  const tester = algorithm === 'zstd' && !proofOff
    ? spawnChain([{ command: 'zstd', args: ['-d', '-vv', '-c', '--no-progress'] }, { command: 'tail', args: ['-c', String(TAIL_BYTES)] }], { stdin: 'pipe', onSpawn })
    : undefined;
  const tools = [plan.producer, plan.compressor, ...(tester ?? [])];
  const temp = tempPathFor(options.target);
  // Only counted: the sha256 that matters is of the encrypted bytes written (`out`).
  const compressedCount = new ByteCounter();
  const test = proofOff ? undefined : new TestDecodeTee(tester?.[0], tester?.[1], algorithm);
  const out = new HashCounter((written) => options.onProgress?.(plan.rawBytes(), written));
  const abort = (): void => tools.forEach(killTool);
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    await mkdir(dirname(options.target), { recursive: true });
    const encryption = options.encryptionKey ? await createEncryptStreamWithSessionKey(options.encryptionKey) : undefined;
    await options.beforeConsume?.();
    // 2. One pass: compressed bytes -> count -> test decode (tee) -> encrypt -> sha256 -> temp file.
    await Promise.all([
      pipeline([plan.compressed, compressedCount, ...(test ? [test] : []), ...(encryption ? [encryption.stream] : []), out, createWriteStream(temp, { mode: 0o640 })], { signal: options.signal }),
      plan.producer?.done,
      plan.compressor?.done,
      ...(tester ?? []).map((t) => t.done.catch((error: Error) => Promise.reject(incomplete(`the compressed stream does not decode: ${error.message}`)))),
    ]);
    // 3. Account for every byte, then prove the file decodes to what the producer produced.
    const rawBytes = await accountBytes(plan, compressedCount.bytes, test, options.expect);
    const onDisk = (await stat(temp)).size;
    if (onDisk !== out.bytes) throw incomplete(`${onDisk} bytes are on disk, ${out.bytes} were written`);
    let method: ArtifactProof['method'] = proofOff ? 'none' : 'test-decoded-stream';
    if (!proofOff && out.bytes <= (options.decodeLimit ?? DECODE_LIMIT_BYTES)) {
      await proveFile(temp, algorithm, encryption?.sessionKey, rawBytes, options.expect);
      method = 'decoded-file';
    }
    commitFile(temp, options.target);
    if (plan.producer) options.onProducerStderr?.(plan.producer.stderr());
    return {
      sha256: out.digest(),
      bytes: out.bytes,
      rawBytes,
      proof: { method, decodedBytes: rawBytes, compressedBytes: compressedCount.bytes },
    };
  } catch (error) {
    abort();
    await rm(temp, { force: true });
    // The producer's own failure (pg_dump's error) explains the others (a broken pipe, a short stream).
    const producerFailure = plan.producer && error !== undefined ? await plan.producer.done.then(() => undefined, (e: unknown) => e) : undefined;
    if (producerFailure instanceof ToolExit && producerFailure.code !== null && producerFailure !== error) throw producerFailure;
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
}

interface ProcessPlan {
  producer?: ToolProcess;
  compressor?: ToolProcess;
  /** The compressed stream, owned. */
  compressed: Readable;
  /** Raw bytes node counted on their way into the compressor; undefined when zstd read them itself. */
  rawCounted?: () => number;
  /** Raw bytes so far (progress). */
  rawBytes: () => number;
}

function startProcesses(source: WriteArtifactOptions['source'], algorithm: CompressionAlgorithm, level: number, onSpawn: SpawnOptions['onSpawn']): ProcessPlan {
  if ('tool' in source && algorithm === 'zstd') {
    const [producer, compressor] = spawnChain([source.tool, zstdCompressSpec(level)], { onSpawn });
    return { producer, compressor, compressed: compressor!.output!, rawBytes: readProgress(compressor!) };
  }
  const producer = 'tool' in source ? spawnTool(source.tool, { onSpawn }) : undefined;
  const raw = producer ? producer.output! : (source as { stream: Readable }).stream;
  const stage = createCompressStage(algorithm, level, { onSpawn });
  const counter = new ByteCounter();
  // Wired now; nothing is lost before (raw is owned or produced in node), nothing flows until read.
  const compressed = raw.pipe(counter).pipe(stage.stream);
  raw.once('error', (error: Error) => stage.stream.destroy(error));
  counter.once('error', (error: Error) => stage.stream.destroy(error));
  return { producer, compressor: stage.tool, compressed, rawCounted: () => counter.bytes, rawBytes: () => counter.bytes };
}

/** Raw byte count, once every stage's counts agree; throws ArtifactIncomplete otherwise. */
async function accountBytes(plan: ProcessPlan, compressedBytes: number, test: TestDecodeTee | undefined, expect: ContentExpectation): Promise<number> {
  let rawBytes: number;
  if (plan.compressor) {
    const report = zstdCompressReport(plan.compressor.stderr());
    if (!report) throw incomplete(`zstd exited 0 without reporting its byte counts: ${plan.compressor.stderr().trim().slice(-200)}`);
    if (report.outBytes !== compressedBytes) throw incomplete(`zstd wrote ${report.outBytes} bytes, node received ${compressedBytes}`);
    if (plan.rawCounted && plan.rawCounted() !== report.inBytes) throw incomplete(`node passed ${plan.rawCounted()} raw bytes to zstd, zstd read ${report.inBytes}`);
    rawBytes = report.inBytes;
  } else {
    rawBytes = plan.rawCounted!();
  }
  if (rawBytes < expect.minBytes) throw incomplete(`the producer wrote ${rawBytes} bytes; ${expect.what} is never shorter than ${expect.minBytes}`);
  if (!test) return rawBytes;
  const decoded = test.decodedBytes();
  if (decoded !== rawBytes) throw incomplete(`the compressed stream decodes to ${decoded ?? 'an unknown number of'} bytes, the producer wrote ${rawBytes}`);
  checkMagic(await test.head(), expect, 'the compressed stream');
  await test.tailRead;
  checkEnding(test.tail(), expect, 'the compressed stream');
  return rawBytes;
}

/** Decrypt (with the message's own session key) and decompress the written file; count and check. */
async function proveFile(path: string, algorithm: CompressionAlgorithm, sessionKey: Buffer | undefined, rawBytes: number, expect: ContentExpectation): Promise<void> {
  const decompress = createDecompressStage(algorithm);
  let decoded = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  const tail = new TailKeeper();
  const sink = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      decoded += chunk.length;
      if (headBytes < HEAD_BYTES) {
        head.push(chunk);
        headBytes += chunk.length;
      }
      tail.add(chunk);
      cb();
    },
  });
  try {
    await Promise.all([
      pipeline([createReadStream(path, { highWaterMark: 1 << 20 }), ...(sessionKey ? [createDecryptStream({ sessionKey })] : []), decompress.stream, sink]),
      decompress.tool?.done,
    ]);
  } catch (error) {
    killTool(decompress.tool);
    throw incomplete(`the written file does not decode: ${(error as Error).message}`);
  }
  if (decoded !== rawBytes) throw incomplete(`the written file decodes to ${decoded} bytes, the producer wrote ${rawBytes}`);
  checkMagic(Buffer.concat(head), expect, 'the written file');
  checkEnding(tail.bytes(), expect, 'the written file');
}

function checkEnding(tail: Buffer, expect: ContentExpectation, where: string): void {
  if (expect.ending && !expect.ending.test(tail)) throw incomplete(`${where} does not end like ${expect.ending.what}: the producer stopped short`);
}

/** The last TAIL_BYTES of a stream. */
class TailKeeper {
  private chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= TAIL_BYTES) this.size -= this.chunks.shift()!.length;
  }

  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES));
  }
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 4096;
const HEAD_COMPRESSED_BYTES = 256 * 1024;

function checkMagic(head: Buffer, expect: ContentExpectation, where: string): void {
  const magic = expect.magic;
  if (!magic) return;
  const found = head.subarray(magic.offset, magic.offset + magic.bytes.length);
  if (!found.equals(magic.bytes)) {
    throw incomplete(`${where} does not start like ${expect.what}: expected ${JSON.stringify(magic.bytes.toString('latin1'))} at byte ${magic.offset}, found ${JSON.stringify(found.toString('latin1'))}`);
  }
}

function incomplete(message: string): ArtifactIncomplete {
  return new ArtifactIncomplete(message, 'nothing was recorded; the activity is retried. If it persists, check disk, memory and the producer\'s stderr in the worker log');
}

/**
 * Passes the compressed stream on unchanged while a copy is test-decoded: by `zstd -d | tail`
 * (other processes: it costs CPU, not wall time; only the last bytes reach node), or by gunzip in
 * node, counting the decoded bytes. Keeps the first compressed bytes to decode the raw stream's head
 * (the header check) without node reading all the raw bytes.
 */
class TestDecodeTee extends Transform {
  private readonly headChunks: Buffer[] = [];
  private headBytes = 0;
  private gunzipped = 0;
  private readonly gunzip?: NodeJS.ReadWriteStream;
  private gunzipError?: Error;
  private readonly tailKeeper = new TailKeeper();
  /** Resolves when the decoded tail has been read to its end. */
  readonly tailRead: Promise<void>;

  constructor(
    private readonly decoder: ToolProcess | undefined,
    tailTool: ToolProcess | undefined,
    private readonly algorithm: CompressionAlgorithm,
  ) {
    super({ highWaterMark: 1 << 20 });
    if (decoder && tailTool) {
      decoder.child.stdin!.on('error', (error: Error) => this.destroy(error));
      const output = tailTool.output!;
      output.on('data', (chunk: Buffer) => this.tailKeeper.add(chunk));
      this.tailRead = new Promise((resolve) => output.once('close', resolve));
    } else {
      this.tailRead = Promise.resolve();
      const gunzip = createDecompressStage('gzip').stream;
      gunzip.on('data', (chunk: Buffer) => {
        this.gunzipped += chunk.length;
        this.tailKeeper.add(chunk);
      });
      gunzip.on('error', (error: Error) => {
        this.gunzipError = error;
      });
      this.gunzip = gunzip;
    }
  }

  private get sink(): NodeJS.WritableStream {
    return this.decoder ? this.decoder.child.stdin! : this.gunzip!;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.headBytes < HEAD_COMPRESSED_BYTES) {
      this.headChunks.push(chunk);
      this.headBytes += chunk.length;
    }
    this.push(chunk);
    if (this.sink.write(chunk)) callback();
    else this.sink.once('drain', () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (this.decoder) {
      this.decoder.child.stdin!.end(() => callback());
    } else {
      this.gunzip!.once('end', () => callback());
      this.gunzip!.once('error', (error: Error) => callback(error));
      this.gunzip!.end();
    }
  }

  /** Decoded size, once the stream ended and the decoder exited. */
  decodedBytes(): number | undefined {
    if (this.decoder) return zstdDecodeReport(this.decoder.stderr());
    return this.gunzipError ? undefined : this.gunzipped;
  }

  /** The last decoded bytes, once the decoder (and tail) exited. */
  tail(): Buffer {
    return this.tailKeeper.bytes();
  }

  /** The first decoded bytes (from the first compressed bytes; a partial decode is fine here). */
  async head(): Promise<Buffer> {
    const compressed = Buffer.concat(this.headChunks);
    if (this.algorithm === 'gzip') {
      try {
        return gunzipSync(compressed, { finishFlush: zlib.Z_SYNC_FLUSH }).subarray(0, HEAD_BYTES);
      } catch {
        return Buffer.alloc(0);
      }
    }
    // zstd -d writes each block as it decodes it (then complains about the truncated rest): read
    // the first HEAD_BYTES and stop it.
    const unzstd = spawnTool({ command: 'zstd', args: ['-d', '-q', '-c'] }, { stdin: 'pipe' });
    unzstd.child.stdin!.on('error', () => undefined); // stopped early on purpose: EPIPE is expected
    unzstd.child.stdin!.end(compressed);
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of unzstd.output!) {
      chunks.push(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes >= HEAD_BYTES) break;
    }
    killTool(unzstd);
    return Buffer.concat(chunks).subarray(0, HEAD_BYTES);
  }
}

export type { ToolPid };
