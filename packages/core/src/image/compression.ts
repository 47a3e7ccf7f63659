// What a blob is compressed with: sniffed from its first bytes, checked against its media type. Kept
// apart from the unpacker so that the main thread can sniff a file without loading it.
import { closeSync, openSync, readSync } from 'node:fs';
import { LayerError } from '../errors.js';

export type Compression = 'none' | 'gzip' | 'zstd';

/** Bytes the sniffing needs (xz's magic is the longest). */
export const SNIFF_BYTES = 6;

/**
 * The compression of a blob, from its first 4 bytes: gzip 1f 8b; zstd 28 b5 2f fd, or a zstd skippable
 * frame (5X 2a 4d 18); anything else: none (the unpacker refuses bzip2 and xz by their magic, sniff).
 */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 4 && (head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) {
    return 'zstd';
  }
  return 'none';
}

/** The compression of a layer blob from its first bytes; throws for the ones we do not read (bzip2, xz). */
export function sniff(b: Buffer): Compression {
  if (b.length >= 3 && b.toString('latin1', 0, 3) === 'BZh') throw new LayerError('bzip2 layers are not supported');
  if (b.length >= 6 && b.toString('latin1', 0, 6) === '\xfd7zXZ\0') throw new LayerError('xz layers are not supported');
  return sniffCompression(b);
}

/** Throws unless the media type names the compression found (or is not a layer type we read). */
export function checkMediaType(mediaType: string, found: Compression): void {
  const base = mediaType.split(';')[0].trim();
  let want: Compression;
  if (/[+.]gzip$/.test(base)) want = 'gzip';
  else if (/[+.]zstd$/.test(base)) want = 'zstd';
  else if (/[.+]tar$/.test(base)) want = 'none';
  else throw new LayerError(`unsupported layer media type '${mediaType}'`);
  if (want !== found) {
    throw new LayerError(
      `layer media type '${mediaType}' says ${want}, but the data is ${found === 'none' ? 'not compressed' : found}`,
    );
  }
}

/** The first SNIFF_BYTES of an open file (fewer when it is shorter). */
function headOf(fd: number): Buffer {
  const head = Buffer.alloc(SNIFF_BYTES);
  return head.subarray(0, readSync(fd, head, 0, head.length, 0));
}

/** The compression of a blob file, sniffCompression of its first bytes (a few bytes: a synchronous read). */
export function sniffFile(file: string): Compression {
  const fd = openSync(file, 'r');
  try {
    return sniffCompression(headOf(fd));
  } finally {
    closeSync(fd);
  }
}

/** Open a layer blob file and sniff it (bzip2 and xz refused); the fd is the caller's to close. */
export function openBlob(path: string): { fd: number; compression: Compression } {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    return { fd, compression: sniff(headOf(fd)) };
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    if (err instanceof LayerError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new LayerError(`layer tarball ${path} cannot be read: ${why}`, { cause: err });
  }
}
