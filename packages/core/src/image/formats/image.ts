// What an image is once read, whatever its format: its layers (blobs to unpack) and its run-time config.
import type { Compression } from '../compression.js';

/** The run-time part of an image's config (the `config` section of an OCI or docker image config). */
export interface ImageConfig {
  Env?: string[];
  Cmd?: string[];
  Entrypoint?: string[];
  WorkingDir?: string;
  User?: string;
}

export interface ImageLayer {
  /** `sha256:<hex>` of the blob as stored (compressed if it is). */
  digest: string;
  /**
   * `sha256:<hex>` of the uncompressed tar (from the config's `rootfs.diff_ids`). A source that cannot
   * know it without decompressing the blob (a lone compressed tarball) leaves it out: the store then
   * finds the layer by the blob's digest, or learns the diffID by unpacking it.
   */
  diffId?: string;
  mediaType: string;
  compression: Compression;
  /** Size of the blob as stored, in bytes. */
  size: number;
  /**
   * The blob as stored. The stream checks the blob's size and sha256 against `size` and `digest`
   * and ends with an ImageError instead of its last chunk's end when they do not match.
   */
  open(): NodeJS.ReadableStream;
  /**
   * The blob as a file on this machine, when it is one: the store's unpacker then reads the file itself
   * (faster than through `open()`), checking its size and digest all the same.
   */
  file?: string;
}

export interface ImageManifest {
  /** The image's ID, `sha256:<hex>` of its config blob (as podman shows it); absent for a lone rootfs tarball. */
  id?: string;
  /** Bottom layer first. */
  layers: ImageLayer[];
  config: ImageConfig;
}

/** An image being read; `close()` removes what reading it needed (an extracted archive), and is idempotent. */
export interface OpenImage extends ImageManifest {
  close(): Promise<void>;
}
