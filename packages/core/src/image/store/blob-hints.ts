// blobs/<digest hex>: the diffID a blob turned out to have when it was unpacked, for the sources that
// cannot tell it without decompressing the blob (a lone compressed tarball).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DIGEST_RE } from '../digest.js';
import { hexOf, type StoreDirs, writeAtomic } from './store-dirs.js';

export class BlobHints {
  constructor(private readonly dirs: StoreDirs) {}

  /** The diffID the blob was found to have, if it was unpacked here. */
  diffId(digest: string): string | undefined {
    try {
      const diffId = readFileSync(join(this.dirs.dir('blobs'), hexOf(digest, 'digest')), 'utf8').trim();
      return DIGEST_RE.test(diffId) ? diffId : undefined;
    } catch {
      return undefined;
    }
  }

  note(digest: string, diffId: string): void {
    writeAtomic(join(this.dirs.dir('blobs'), hexOf(digest, 'digest')), `${diffId}\n`);
  }

  /** Remove the hints whose layer is gone: those not naming one of `have` (the diffIDs of the store's layers). */
  prune(have: ReadonlySet<string | undefined>): void {
    const dir = this.dirs.dir('blobs');
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      const diffId = /^[0-9a-f]{64}$/.test(name) ? this.diffId(`sha256:${name}`) : undefined;
      if (diffId === undefined || !have.has(diffId)) rmSync(join(dir, name), { force: true });
    }
  }
}
