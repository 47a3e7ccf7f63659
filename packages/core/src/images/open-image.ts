import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ImageError } from '../errors.js';
import { extractToTemp, removeDir } from './archive.js';
import { fileDigest, fileSize, openVerified } from './blob.js';
import { readDockerArchive } from './docker-archive.js';
import type { ImageManifest, OpenImage } from './image.js';
import type { ImageRef } from './image-ref.js';
import { type Compression, ociLayerMediaType, sniffCompression } from './media-types.js';
import { OciLayout } from './oci-layout.js';

/**
 * Opens an image reference: reads its manifest and config and checks every blob's presence and size;
 * layer blobs are read (and their digest checked) when their `open()` stream is consumed. `close()`
 * removes the temp directory an archive was extracted into. A `dir:` reference is a root filesystem,
 * not an image: an ImageError.
 */
export async function openImage(ref: ImageRef): Promise<OpenImage> {
  const what = ref.text;
  switch (ref.transport) {
    case 'oci':
      return withClose(await new OciLayout(ref.path, what).read(ref.tag), async () => {});
    case 'oci-archive':
    case 'docker-archive': {
      const dir = await extractToTemp(ref.path, what);
      try {
        const m =
          ref.transport === 'oci-archive'
            ? await new OciLayout(dir, what).read(ref.tag)
            : await readDockerArchive(dir, ref.ref, what);
        return withClose(m, () => removeDir(dir));
      } catch (e) {
        await removeDir(dir);
        throw e;
      }
    }
    case 'tar':
      return withClose(await readRootfsTar(ref.path, what), async () => {});
    case 'dir':
      throw new ImageError(`${what}: a dir: reference is a prepared root filesystem, not an image`);
  }
}

/** Opens an image, hands it to `fn`, and closes it whatever happens. */
export async function withImage<T>(ref: ImageRef, fn: (image: ImageManifest) => Promise<T>): Promise<T> {
  const image = await openImage(ref);
  try {
    return await fn(image);
  } finally {
    await image.close();
  }
}

function withClose(m: ImageManifest, close: () => Promise<void>): OpenImage {
  let closed: Promise<void> | undefined;
  return { ...m, close: () => (closed ??= close()) };
}

/** A lone rootfs tarball as a one-layer image with an empty config. */
async function readRootfsTar(file: string, what: string): Promise<ImageManifest> {
  const size = await fileSize(file, what);
  const fh = await open(file, 'r');
  let compression: Compression;
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    compression = sniffCompression(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
  const digest = await fileDigest(file);
  const diffId = compression === 'none' ? digest : await decompressedDigest(file, compression, what);
  return {
    layers: [
      {
        digest,
        diffId,
        mediaType: ociLayerMediaType(compression),
        compression,
        size,
        open: () => openVerified(file, digest, size, what),
      },
    ],
    config: {},
  };
}

/** sha256 of a compressed file's contents (gzip with zlib, zstd with the `zstd` program). */
async function decompressedDigest(file: string, compression: Compression, what: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    if (compression === 'gzip') {
      await pipeline(createReadStream(file), createGunzip(), async (src: AsyncIterable<Buffer>) => {
        for await (const chunk of src) hash.update(chunk);
      });
    } else {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('zstd', ['-dcq', file], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stdout.on('data', (b: Buffer) => hash.update(b));
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          err += s;
        });
        child.on('error', (e: NodeJS.ErrnoException) =>
          reject(e.code === 'ENOENT' ? new Error('the zstd program is needed (apt-get install zstd)') : e),
        );
        child.on('close', (code) =>
          code === 0 ? resolve() : reject(new Error(err.trim().split('\n')[0] || `zstd exit ${code}`)),
        );
      });
    }
  } catch (e) {
    throw new ImageError(`${what}: cannot decompress (${compression}): ${(e as Error).message}`, { cause: e });
  }
  return `sha256:${hash.digest('hex')}`;
}
