// The image formats builder reads, each opened into an OpenImage: manifest and config read, every
// blob's presence and size checked; layer blobs are read (and their digests checked) when their
// `open()` streams are consumed. The rootfs sources (plugins) map their transports onto these.

import { sniffFile } from '../compression.js';
import { fileDigest } from '../digest.js';
import { extractToTemp, removeDir } from './archive.js';
import { fileSize, openVerified } from './blob.js';
import { readDockerArchive } from './docker-archive.js';
import type { ImageManifest, OpenImage } from './image.js';
import { ociLayerMediaType } from './media-types.js';
import { OciLayout } from './oci-layout.js';

/** An OCI image layout directory; `tag` picks a manifest by its ref.name annotation (else the only one). */
export async function openOciLayout(dir: string, tag: string | undefined, what: string): Promise<OpenImage> {
  return withClose(await new OciLayout(dir, what).read(tag), async () => {});
}

/** A tar of an OCI image layout, extracted to a temp directory that `close()` removes. */
export function openOciArchive(file: string, tag: string | undefined, what: string): Promise<OpenImage> {
  return fromArchive(file, what, (dir) => new OciLayout(dir, what).read(tag));
}

/**
 * A `docker save` archive (or skopeo's docker-archive), extracted to a temp directory that `close()`
 * removes; `ref` is a repo tag (`name:tag`) or `@N`, the N-th image (else the only one).
 */
export function openDockerArchive(file: string, ref: string | undefined, what: string): Promise<OpenImage> {
  return fromArchive(file, what, (dir) => readDockerArchive(dir, ref, what));
}

/** One root filesystem tarball (plain, gzip or zstd) as a one-layer image with an empty config. */
/**
 * A lone rootfs tarball (plain, gzip or zstd) as a one-layer image. `digestOf` gives the file's
 * sha256 (SourceContext.fileDigest: the store remembers it; default, the file is read).
 */
export async function openRootfsTar(
  file: string,
  what: string,
  digestOf: (file: string) => Promise<string> = fileDigest,
): Promise<OpenImage> {
  return withClose(await readRootfsTar(file, what, digestOf), async () => {});
}

async function fromArchive(
  file: string,
  what: string,
  read: (dir: string) => Promise<ImageManifest>,
): Promise<OpenImage> {
  const dir = await extractToTemp(file, what);
  try {
    return withClose(await read(dir), () => removeDir(dir));
  } catch (e) {
    await removeDir(dir);
    throw e;
  }
}

function withClose(m: ImageManifest, close: () => Promise<void>): OpenImage {
  let closed: Promise<void> | undefined;
  return { ...m, close: () => (closed ??= close()) };
}

/** A lone rootfs tarball as a one-layer image with an empty config. */
async function readRootfsTar(
  file: string,
  what: string,
  digestOf: (file: string) => Promise<string>,
): Promise<ImageManifest> {
  const size = await fileSize(file, what);
  const compression = sniffFile(file);
  const digest = await digestOf(file);
  return {
    layers: [
      {
        digest,
        // A plain tar's diffID is its digest; a compressed one's is learnt by unpacking it, once.
        ...(compression === 'none' ? { diffId: digest } : {}),
        mediaType: ociLayerMediaType(compression),
        compression,
        size,
        open: () => openVerified(file, digest, size, what),
        file,
      },
    ],
    config: {},
  };
}
