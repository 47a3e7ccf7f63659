// Reading the blobs of an image: digests checked (whole small blobs, or streams of layer blobs that
// fail at their end), JSON parsed, sizes taken; every failure an ImageError naming what was read.
// Small blobs (index, manifests, configs) are read with synchronous calls: a few kilobytes each, on
// the start-up path of every run on an image, where a thread-pool round trip costs more than the read.
import { createReadStream, readFileSync, type Stats, statSync } from 'node:fs';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { ImageError } from '../../errors.js';
import { DIGEST_RE, digestOf, sha256, sha256Of } from '../digest.js';

/** The hex part of a `sha256:<hex>` digest, or an ImageError naming `what`. */
export function digestHex(digest: unknown, what: string): string {
  const m = typeof digest === 'string' ? DIGEST_RE.exec(digest) : null;
  if (!m) throw new ImageError(`${what}: unsupported or malformed digest ${JSON.stringify(digest)}`);
  return m[1];
}

/** A pass-through stream that fails at its end when the bytes' sha256 or count differ from the expected ones. */
export class VerifyStream extends Transform {
  private readonly hash = sha256();
  private count = 0;
  constructor(
    private readonly digest: string,
    private readonly size: number | undefined,
    private readonly what: string,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    if (this.size !== undefined && this.count !== this.size) {
      cb(new ImageError(`${this.what}: size mismatch: expected ${this.size} bytes, read ${this.count}`));
      return;
    }
    const got = digestOf(this.hash);
    if (got !== this.digest) {
      cb(new ImageError(`${this.what}: digest mismatch: expected ${this.digest}, got ${got}`));
      return;
    }
    cb();
  }
}

/** A verifying read stream of a file; errors of the file (ENOENT, …) come out of the returned stream. */
export function openVerified(
  file: string,
  digest: string,
  size: number | undefined,
  what: string,
): NodeJS.ReadableStream {
  const verify = new VerifyStream(digest, size, what);
  pipeline(createReadStream(file), verify, () => {});
  return verify;
}

/** Reads a whole small blob, checks it against its digest (and size when given). */
export async function readVerified(
  file: string,
  digest: string,
  size: number | undefined,
  what: string,
): Promise<Buffer> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ImageError(`${what}: cannot read ${file}: ${e.code ?? e.message}`, { cause: e });
  }
  if (size !== undefined && data.length !== size) {
    throw new ImageError(`${what}: size mismatch: expected ${size} bytes, found ${data.length}`);
  }
  const got = sha256Of(data);
  if (got !== digest) throw new ImageError(`${what}: digest mismatch: expected ${digest}, got ${got}`);
  return data;
}

/** Size of a regular file, or an ImageError naming `what` when it is missing or not a file. */
export async function fileSize(file: string, what: string): Promise<number> {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ImageError(`${what}: missing ${file} (${e.code ?? e.message})`, { cause: e });
  }
  if (!st.isFile()) throw new ImageError(`${what}: ${file} is not a regular file`);
  return st.size;
}

/** Parses JSON, or an ImageError naming `what`. */
export function parseJson(data: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(data.toString());
  } catch (e) {
    throw new ImageError(`${what}: bad JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads and parses a JSON file, or an ImageError naming `what` (missing file or bad JSON). */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ImageError(`${what}: missing ${file} (${e.code ?? e.message})`, { cause: e });
  }
  return parseJson(data, `${what}: ${file}`);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
