/** Pass-through stages that count bytes (and compute sha256) of everything flowing through them. */

/** Counts bytes and computes the sha256 of everything flowing through it. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashCounter extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly onProgress?: (bytes: number) => void) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    callback(null, chunk);
  }

  /** Hex sha256; call once, after the stream finished. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** A pass-through stage that only counts the bytes flowing through it (no hashing). */
export class ByteCounter extends Transform {
  bytes = 0;

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
