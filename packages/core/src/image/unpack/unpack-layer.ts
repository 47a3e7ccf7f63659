// Unpacking one OCI / Docker layer tarball into a directory: the input side.
//
// Design notes (docs/layers.md, "What a layer tarball means"):
// - Input: a stream or a file. The first bytes are sniffed: gzip (Node's zlib, in process), zstd (a
//   `zstd -dc` child process: Node 20 has no zstd; the Debian `zstd` package provides it), or plain
//   tar. bzip2 and anything else are refused. When a media type is given, the sniffed compression must
//   match it. The uncompressed stream is hashed to its very end (bytes after the end-of-archive blocks
//   included): that sha256 is the diffID, compared when one is given. A plain layer file is read and
//   hashed by a worker thread into a ring of shared slots that this thread unpacks from (hash-ring.ts
//   FileRing); a plain stream is hashed by a worker behind this thread (HashRing); a compressed one on
//   this thread (decompression in the thread pool is the slower half there).
// - Parsing: tar-scan.ts, our own strict reader (PAX values as bytes, limits, no sparse files).
// - File system work: synchronous calls only, in LayerWriter (layer-writer.ts), which takes entries and
//   body chunks; paths are resolved in layer-paths.ts, names cleaned in names.ts, whiteouts applied in
//   whiteouts.ts.
// - Speed (bench/unpack.mjs): a plain layer file is read and hashed on another thread, in 1 MiB slots.
//   Not done yet: userns variants (user.overlay.*, no mknod), a decompression-ratio limit.
// - Errors: a LayerError naming the entry. Dest is left as it was when the error struck; the caller
//   unpacks into a fresh directory and removes it on failure.
import type { ChildProcess } from 'node:child_process';
import type { Hash } from 'node:crypto';
import { closeSync, createReadStream, fstatSync } from 'node:fs';
import { Readable } from 'node:stream';
import { LayerError } from '../../errors.js';
import { type Compression, checkMediaType, openBlob, SNIFF_BYTES, sniff } from '../compression.js';
import { digestOf, sha256 } from '../digest.js';
import { FileRing, fileRingSlots, HashRing, LocalHash, RING_SLOTS, SLOT_BYTES } from './hash-ring.js';
import type { LayerFormat } from './layer-paths.js';
import { LayerWriter } from './layer-writer.js';
import { TarScanner } from './tar-scan.js';

export type { LayerFormat } from './layer-paths.js';

export interface UnpackOptions {
  format: LayerFormat;
  /** `sha256:<hex>` of the uncompressed tarball; checked when given. */
  diffId?: string;
  /** The layer's media type; the sniffed compression must match it when given. */
  mediaType?: string;
  /** Called with the number of (compressed) input bytes read so far. */
  onProgress?: (bytesIn: number) => void;
  /**
   * The input's own digest and size (of the blob as given, compressed or not), checked once it is read
   * to its end: for a file read here rather than through a verifying stream.
   */
  blob?: { digest: string; size: number };
  /**
   * Overlay format only: the directories of the layers below this one, top first (already unpacked
   * in overlay format). A hard link whose target is not in this layer is then looked up through them
   * and the target copied up into this layer (copy-up.ts); without them such a link is an error.
   */
  lowers?: readonly string[];
}

export interface UnpackResult {
  diffId: string;
  entries: number;
  /** Bytes of the uncompressed tarball. */
  size: number;
  /** Hard-link targets copied up from the lowers into this layer. */
  copiedUp: number;
}

/** Read size of a compressed layer file. */
const CHUNK = 1 << 20;
/** zlib's output chunk size: fewer, larger chunks through the async iteration. */
const GUNZIP_CHUNK = 256 << 10;

/**
 * Unpack a layer tarball, a file or a stream, into `dest`. A plain tarball file is read and hashed by a
 * worker thread (FileRing) while this thread unpacks; its file system calls block this thread.
 */
export async function unpackLayer(
  input: NodeJS.ReadableStream | string,
  dest: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  if (typeof input !== 'string') return unpackStream(input, dest, opts);
  const { fd, compression } = openBlob(input);
  if (compression !== 'none') return unpackStream(createReadStream('', { fd, highWaterMark: CHUNK }), dest, opts);
  const ring = FileRing.start(fd, fileRingSlots(fstatSync(fd).size), SLOT_BYTES);
  try {
    return unpackFileRing(ring, dest, opts);
  } finally {
    await ring.abort(); // stopped (after an error) before its fd is closed
    closeSync(fd);
  }
}

/**
 * Unpack the plain tarball file a FileRing reads (started here or by another thread, which then owns
 * its fd and its worker). Synchronous: this thread only waits for slots the reader has not filled yet.
 */
export function unpackFileRing(ring: FileRing, dest: string, opts: UnpackOptions): UnpackResult {
  const writer = newWriter(dest, opts);
  const scanner = new TarScanner(writer);
  let total = 0;
  try {
    for (let slot = ring.take(); slot; slot = ring.take()) {
      if (total === 0 && opts.mediaType !== undefined) checkMediaType(opts.mediaType, sniff(slot));
      total += slot.length;
      opts.onProgress?.(total);
      scanner.push(slot);
      ring.release();
    }
    finishUnpack(scanner, writer, total);
  } catch (err) {
    writer.abort();
    void ring.abort();
    throw asUnpackError(err);
  }
  const diffId = ring.digest();
  // A plain blob's digest is its diffID.
  return verified({ diffId, blobDigest: diffId, bytesIn: ring.bytes, total }, scanner, writer, opts);
}

/** A stream: its first bytes are sniffed; gzip goes through zlib, zstd through `zstd -dc`. */
async function unpackStream(input: NodeJS.ReadableStream, dest: string, opts: UnpackOptions): Promise<UnpackResult> {
  const stream = (input as Readable).read ? (input as Readable) : Readable.from(input);
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytesIn = 0;
  // The blob's own digest, when it is compressed (a plain blob's digest is its diffID).
  let blobHash: Hash | undefined;
  const next = async (): Promise<Buffer | undefined> => {
    const r = await iterator.next();
    if (r.done) return undefined;
    bytesIn += r.value.length;
    opts.onProgress?.(bytesIn);
    blobHash?.update(r.value);
    return r.value;
  };
  let compression: Compression = 'none';
  let first: Buffer;
  let sourceDone = false;
  try {
    const head: Buffer[] = [];
    let headLen = 0;
    while (headLen < SNIFF_BYTES) {
      const chunk = await next();
      if (!chunk) {
        sourceDone = true;
        break;
      }
      head.push(chunk);
      headLen += chunk.length;
    }
    first = head.length === 1 ? head[0] : Buffer.concat(head);
    compression = sniff(first);
    if (opts.mediaType !== undefined) checkMediaType(opts.mediaType, compression);
  } catch (err) {
    stream.destroy();
    throw asReadError(err, compression);
  }
  if (compression !== 'none' && opts.blob) blobHash = sha256().update(first);

  const writer = newWriter(dest, opts);
  const scanner = new TarScanner(writer);
  // A plain stream is hashed by a worker behind this thread; a compressed one here (decompressing, in
  // the thread pool, is the slower half: no copies, no extra thread competing for the CPU, less memory).
  const hasher = compression === 'none' ? new HashRing(RING_SLOTS, SLOT_BYTES) : new LocalHash();
  let total = 0;
  const push = (chunk: Buffer) => {
    hasher.copy(chunk);
    total += chunk.length;
    scanner.push(chunk);
  };
  let child: ChildProcess | undefined;
  let childError = '';
  let plain: Readable | undefined;
  let raw: Readable | undefined;
  try {
    if (compression === 'none') {
      if (first.length) push(first);
      try {
        for (let chunk = sourceDone ? undefined : await next(); chunk; chunk = await next()) push(chunk);
      } catch (err) {
        throw asReadError(err, compression);
      }
    } else {
      raw = Readable.from(
        (async function* () {
          if (first.length) yield first;
          if (sourceDone) return;
          for (let chunk = await next(); chunk; chunk = await next()) yield chunk;
        })(),
        { objectMode: false },
      );
      // zlib and child_process load only for a compressed layer (a worker starts faster without them).
      if (compression === 'gzip') {
        const { createGunzip } = await import('node:zlib');
        plain = raw.pipe(createGunzip({ chunkSize: GUNZIP_CHUNK }));
        raw.on('error', (e) => plain?.destroy(e));
      } else {
        const { spawn } = await import('node:child_process');
        const zstd = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
        child = zstd;
        zstd.stdin.on('error', () => {}); // EPIPE when zstd fails early: its exit status says why
        zstd.stderr.on('data', (d: Buffer) => {
          childError += d.toString();
        });
        raw.pipe(zstd.stdin);
        plain = zstd.stdout;
      }
      const exited = child
        ? new Promise<number | null>((resolve, reject) => {
            child?.on('error', (e) => reject(new LayerError(`cannot run zstd: ${e.message}`, { cause: e })));
            child?.on('close', (code) => resolve(code));
          })
        : Promise.resolve(0);
      exited.catch(() => {});
      try {
        for await (const chunk of plain) push(chunk as Buffer);
      } catch (err) {
        throw asReadError(err, compression);
      }
      const code = await exited;
      if (code !== 0) throw new LayerError(`zstd -dc failed (exit ${code}): ${childError.trim()}`);
    }
    finishUnpack(scanner, writer, total);
  } catch (err) {
    writer.abort();
    void hasher.abort();
    child?.kill();
    raw?.destroy();
    plain?.destroy();
    stream.destroy();
    throw asUnpackError(err);
  }
  const diffId = hasher.digest();
  const blobDigest = blobHash ? digestOf(blobHash) : diffId;
  return verified({ diffId, blobDigest, bytesIn, total }, scanner, writer, opts);
}

function newWriter(dest: string, opts: UnpackOptions): LayerWriter {
  if (opts.lowers?.length && opts.format !== 'overlay') {
    throw new LayerError('lower layer directories only apply to the overlay format');
  }
  return new LayerWriter(dest, opts.format, opts.lowers);
}

/** The end of the tarball: it must have had bytes and ended where an entry ends; directory times last. */
function finishUnpack(scanner: TarScanner, writer: LayerWriter, total: number): void {
  if (total === 0) throw new LayerError('layer tarball is empty (0 bytes after decompression)');
  scanner.finish();
  writer.finish();
}

/** The result, once the blob (digest and size) and the diffID are what the options say. */
function verified(
  got: { diffId: string; blobDigest: string; bytesIn: number; total: number },
  scanner: TarScanner,
  writer: LayerWriter,
  opts: UnpackOptions,
): UnpackResult {
  if (opts.blob) {
    if (got.bytesIn !== opts.blob.size)
      throw new LayerError(`layer blob size mismatch: expected ${opts.blob.size} bytes, read ${got.bytesIn}`);
    if (got.blobDigest !== opts.blob.digest)
      throw new LayerError(`layer blob digest mismatch: expected ${opts.blob.digest}, got ${got.blobDigest}`);
  }
  if (opts.diffId !== undefined && opts.diffId !== got.diffId) {
    throw new LayerError(`layer diffID mismatch: expected ${opts.diffId}, got ${got.diffId}`);
  }
  return { diffId: got.diffId, entries: scanner.entries, size: got.total, copiedUp: writer.copiedUp };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function asReadError(err: unknown, compression: Compression): LayerError {
  if (err instanceof LayerError) return err;
  return new LayerError(`layer tarball cannot be read (${compression}): ${errorText(err)}`, { cause: err });
}

function asUnpackError(err: unknown): LayerError {
  if (err instanceof LayerError) return err;
  return new LayerError(`cannot unpack layer: ${errorText(err)}`, { cause: err });
}
