// sha256 digests, `sha256:<hex>`, as images name their blobs, layers and configs: the one pattern they
// match and the one way they are computed, for the image readers, the unpacker and the layer store.
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** A digest as builder takes it: `sha256:` and 64 lower-case hex digits (the hex is group 1). */
export const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

/**
 * A new sha256. node:crypto loads on first use: the threads that only hand slots over or take them
 * (the main thread, the unpack worker of a plain file) never load it, and start sooner.
 */
export function sha256(): Hash {
  return process.getBuiltinModule('node:crypto').createHash('sha256');
}

/** `sha256:<hex>` of a hash fed to its end. */
export function digestOf(hash: Hash): string {
  return `sha256:${hash.digest('hex')}`;
}

/** `sha256:<hex>` of bytes or of a string's UTF-8. */
export function sha256Of(data: Buffer | string): string {
  return digestOf(sha256().update(data));
}

/** sha256 of a file, as `sha256:<hex>`. */
export async function fileDigest(file: string): Promise<string> {
  const hash = sha256();
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return digestOf(hash);
}
