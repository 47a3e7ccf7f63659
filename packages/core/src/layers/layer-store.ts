// The layer store: each layer unpacked once, in overlay format, under <root>/layers/<hex of its diffID>.
// A layer is written into <root>/tmp and renamed into place, so a crash never leaves a half layer
// visible; a per-layer flock (released by the kernel when its holder dies, kill -9 included) makes
// concurrent runs of a new image unpack it once, and lets the next holder remove what a killed
// unpacker left in <root>/tmp.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerError } from '../errors.js';
import type { ImageLayer } from '../images/image.js';
import { unpackLayer } from './unpack.js';

const DIFF_ID = /^sha256:([0-9a-f]{64})$/;

export class LayerStore {
  constructor(readonly root: string) {}

  /** The directory of a layer (whether or not it is there yet). */
  layerPath(diffId: string): string {
    const hex = DIFF_ID.exec(diffId)?.[1];
    if (!hex) throw new LayerError(`invalid diffID "${diffId}"`);
    return join(this.root, 'layers', hex);
  }

  /**
   * The layer's directory, unpacking the layer first if the store does not have it yet. `lowers`: the
   * directories of the image's layers below this one, top first; a hard link to a file of theirs is
   * copied up into this layer. (So the directory's contents can depend on the lowers, while the store
   * keys it by its diffID alone: for now, the first image to unpack a layer decides.)
   */
  async ensure(layer: ImageLayer, lowers: readonly string[] = []): Promise<string> {
    const dest = this.layerPath(layer.diffId);
    if (existsSync(dest)) return dest;
    const hex = dest.slice(dest.lastIndexOf('/') + 1);
    for (const dir of ['layers', 'tmp', 'locks']) mkdirSync(join(this.root, dir), { recursive: true, mode: 0o700 });
    const release = await this.lock(hex);
    try {
      if (existsSync(dest)) return dest; // another run unpacked it while we waited
      const tmpRoot = join(this.root, 'tmp');
      // Whatever an unpacker of this layer left (it was killed: we hold its lock now).
      for (const name of readdirSync(tmpRoot))
        if (name.startsWith(`${hex}-`)) rmSync(join(tmpRoot, name), { recursive: true, force: true });
      const tmp = mkdtempSync(join(tmpRoot, `${hex}-`));
      try {
        const fs = join(tmp, 'fs');
        mkdirSync(fs, { mode: 0o755 });
        await unpackLayer(layer.open(), fs, {
          format: 'overlay',
          diffId: layer.diffId,
          mediaType: layer.mediaType,
          lowers,
        });
        renameSync(fs, dest);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
      return dest;
    } finally {
      release();
    }
  }

  /** Take the layer's lock, waiting for another holder; returns the release function. */
  private async lock(hex: string): Promise<() => void> {
    const { tryLockExclusive } = await import('@builder/native');
    const path = join(this.root, 'locks', hex);
    const fd = openSync(path, 'a', 0o600);
    try {
      while (!tryLockExclusive(fd, path)) await sleep(25);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return () => closeSync(fd);
  }
}
