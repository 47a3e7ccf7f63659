// images/<id>.json: the images in the store, their names, layers and run-time config, and when they
// were last used (the record's mtime: a run of a known image touches it).
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageConfig } from '../formats/image.js';
import { hexOf, type StoreDirs, writeAtomic } from './store-dirs.js';

/** An image in the store (`builder images`). */
export interface ImageInfo {
  /** `sha256:<hex>`: the config digest, or for an image without a config, a digest of its layers. */
  id: string;
  /** The references it was last run as; empty when every name has moved to another image. */
  names: string[];
  /** diffIDs, bottom first. */
  layers: string[];
  /** Uncompressed bytes of its layers. */
  size: number;
  /** When it came into the store, and when a run last used it (ISO 8601). */
  created: string;
  lastUsed: string;
  config: ImageConfig;
}

export class ImageRecords {
  constructor(private readonly dirs: StoreDirs) {}

  /**
   * Note the use in the image's record. A name new to the image is taken from any other image that
   * had it, under the images lock; a known name only updates the time, without a lock.
   */
  async record(id: string, name: string, diffIds: string[], config: ImageConfig, size: number): Promise<void> {
    const hex = hexOf(id, 'image ID');
    const now = new Date().toISOString();
    const old = this.read(hex);
    if (old?.names.includes(name)) {
      // The record's mtime says when it was last used: a touch, not a rewrite (on ext4, a file renamed
      // over another has its data flushed first: a few ms on every run).
      const at = new Date(now);
      utimesSync(this.file(hex), at, at);
      return;
    }
    const lock = await this.dirs.lock('images');
    try {
      for (const other of this.all()) {
        if (other.id === id || !other.names.includes(name)) continue;
        this.write({ ...other, names: other.names.filter((n) => n !== name) });
      }
      const current = this.read(hex);
      this.write({
        id,
        names: [...(current?.names ?? []).filter((n) => n !== name), name],
        layers: diffIds,
        size,
        created: current?.created ?? now,
        lastUsed: now,
        config,
      });
    } finally {
      lock.release();
    }
  }

  /** Every image in the store, in no particular order. */
  all(): ImageInfo[] {
    const dir = this.dirs.dir('images');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^[0-9a-f]{64}\.json$/.test(f))
      .map((f) => this.read(f.slice(0, 64)))
      .filter((i): i is ImageInfo => i !== undefined);
  }

  remove(id: string): void {
    rmSync(this.file(hexOf(id, 'image ID')), { force: true });
  }

  private file(hex: string): string {
    return join(this.dirs.dir('images'), `${hex}.json`);
  }

  /** An image's record; its last use is its mtime (record() touches it) when that is later. */
  private read(hex: string): ImageInfo | undefined {
    try {
      const file = this.file(hex);
      const info = JSON.parse(readFileSync(file, 'utf8')) as ImageInfo;
      const touched = new Date(statSync(file).mtimeMs).toISOString();
      return touched > info.lastUsed ? { ...info, lastUsed: touched } : info;
    } catch {
      return undefined;
    }
  }

  /** Write a record; its mtime is its last use (a record rewritten for a name it lost was not used). */
  private write(info: ImageInfo): void {
    writeAtomic(this.file(hexOf(info.id, 'image ID')), `${JSON.stringify(info, null, 2)}\n`, new Date(info.lastUsed));
  }
}
