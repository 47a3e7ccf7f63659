// What a layer blob is compressed with: sniffed from its first bytes, checked against its media type.
// Kept apart from the unpacker so that the main thread can sniff a file without loading it.
import { closeSync, openSync, readSync } from 'node:fs';
import { LayerError } from '../errors.js';
import { type Compression, sniffCompression } from '../images/media-types.js';

export type { Compression } from '../images/media-types.js';

/** Bytes sniff() needs. */
export const SNIFF_BYTES = 6;

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

/** Open a layer blob file and sniff it; the fd is the caller's to close. */
export function openBlob(path: string): { fd: number; compression: Compression } {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(SNIFF_BYTES);
    return { fd, compression: sniff(head.subarray(0, readSync(fd, head, 0, head.length, 0))) };
  } catch (err) {
    if (fd >= 0) closeSync(fd);
    if (err instanceof LayerError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new LayerError(`layer tarball ${path} cannot be read: ${why}`, { cause: err });
  }
}
