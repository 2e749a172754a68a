/**
 * Walking the entries of a tar stream while it is decoded, with nothing written to disk. Decoding
 * failures (OpenPGP MDC, zstd/gzip frame checks) and tar failures are told apart: the first mean the
 * bytes are damaged, the second that a complete, intact stream holds a broken archive (e.g. a
 * producer that stopped half-way and exited 0). The end-of-archive marker (two zero blocks) is
 * checked too, since a tar cut at an entry boundary otherwise parses cleanly.
 */
import { Writable } from 'node:stream';
import type { PrivateKey } from 'openpgp';
import * as tar from 'tar-stream';
import type { Encoding } from '../catalog/names';
import { decodeStream } from '../pipeline/codec';

export interface TarWalk {
  /** Bytes of the decoded (plain tar) stream. */
  bytes: number;
  entries: number;
  /** Why the archive is not a complete tar, or undefined when it is. */
  tarProblem?: string;
}

const END_MARKER = 1024;

/** Feeds a tar extractor; its errors are kept, never fail the decode pipeline. */
class TarSink extends Writable {
  bytes = 0;
  tarError: Error | undefined;
  private tail: Buffer = Buffer.alloc(0);
  private pending: (() => void) | undefined;

  constructor(private readonly extract: tar.Extract) {
    super({ highWaterMark: 1 << 20 });
    extract.on('error', (error: Error) => {
      this.tarError ??= error;
      this.release();
    });
  }

  private release(): void {
    const cb = this.pending;
    this.pending = undefined;
    cb?.();
  }

  endMarkerPresent(): boolean {
    return this.tail.length === END_MARKER && this.tail.every((b) => b === 0);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    this.tail = chunk.length >= END_MARKER ? chunk.subarray(chunk.length - END_MARKER) : Buffer.concat([this.tail, chunk]).subarray(-END_MARKER);
    if (this.tarError) return cb();
    if (this.extract.write(chunk)) return cb();
    this.pending = () => cb();
    this.extract.once('drain', () => this.release());
  }

  override _final(cb: (error?: Error | null) => void): void {
    if (this.tarError) return cb();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      cb();
    };
    this.extract.once('finish', finish);
    this.extract.once('close', finish);
    this.extract.once('error', finish);
    (this.extract as unknown as { end(): void }).end();
  }
}

/**
 * Decode `source` and call `onEntry` for every entry in order; `onEntry` must consume the body.
 * Throws only when decoding fails; tar problems are returned.
 */
export async function walkTar(
  source: NodeJS.ReadableStream,
  encoding: Encoding,
  privateKeys: PrivateKey[] | undefined,
  onEntry: (header: tar.Header, body: AsyncIterable<Buffer>) => Promise<void>,
): Promise<TarWalk> {
  const extract = tar.extract();
  let entries = 0;
  extract.on('entry', (header, body, next) => {
    entries++;
    onEntry(header, body as AsyncIterable<Buffer>).then(
      () => next(),
      (error: unknown) => {
        body.resume();
        next(error as Error);
      },
    );
  });
  const sink = new TarSink(extract);
  await decodeStream(source, encoding, privateKeys, sink);
  const tarProblem = sink.tarError
    ? `not a complete tar archive after ${sink.bytes} decoded bytes: ${sink.tarError.message}`
    : sink.bytes === 0
      ? 'decodes to nothing (0 bytes)'
      : !sink.endMarkerPresent()
        ? `the tar end-of-archive marker is missing after ${sink.bytes} bytes (truncated)`
        : undefined;
  return { bytes: sink.bytes, entries, tarProblem };
}

/** Read a whole (small) entry body. */
export async function readBody(body: AsyncIterable<Buffer>, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    if (n <= limit) chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Consume an entry body, counting its bytes (and feeding `onChunk`). */
export async function drainBody(body: AsyncIterable<Buffer>, onChunk?: (chunk: Buffer) => void): Promise<number> {
  let n = 0;
  for await (const chunk of body) {
    n += chunk.length;
    onChunk?.(chunk);
  }
  return n;
}
