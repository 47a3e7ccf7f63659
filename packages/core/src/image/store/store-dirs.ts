// The layer store's directories under its root, how its records are written, its flock locks, and the
// keys it files layers under (the hex of their OCI chainIDs). See layer-store.ts for the layout.
import { closeSync, mkdirSync, openSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerError } from '../../errors.js';
import { DIGEST_RE, sha256Of } from '../digest.js';

export type StoreDir = 'layers' | 'images' | 'locks' | 'tmp' | 'blobs' | 'runs' | 'pruning' | 'files';

export type Lock = { release(): void };

/** The store's directories, and its locks (flock files in locks/). */
export class StoreDirs {
  constructor(readonly root: string) {}

  dir(name: StoreDir): string {
    return join(this.root, name);
  }

  layerDir(key: string): string {
    return join(this.dir('layers'), key);
  }

  /** Take a lock, polling (a blocking flock would stall the event loop); returns its release. */
  async lock(name: string): Promise<Lock> {
    for (;;) {
      const lock = await this.tryLock(name);
      if (lock) return lock;
      await sleep(20);
    }
  }

  /** Take a lock if nobody holds it; undefined when someone does. */
  async tryLock(name: string): Promise<Lock | undefined> {
    // Loaded lazily: koffi stays off the start-up path of runs that need no image.
    const native = await import('@builder/native');
    const path = join(this.dir('locks'), name);
    mkdirSync(this.dir('locks'), { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'a', 0o600);
    try {
      if (native.tryLockExclusive(fd, path)) return { release: () => closeSync(fd) };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    closeSync(fd);
    return undefined;
  }
}

/** Write a file whole, through a temp file of this process renamed over it. */
export function writeAtomic(file: string, text: string, mtime?: Date): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  if (mtime) utimesSync(tmp, mtime, mtime);
  renameSync(tmp, file);
}

/** The store keys of a stack of layers (diffIDs, bottom first): the hex of each one's chainID. */
export function chainKeys(diffIds: readonly string[]): string[] {
  let chain: string | undefined;
  return diffIds.map((d) => {
    chain = chainOf(chain, d);
    return hexOf(chain, 'chainID');
  });
}

export function hexOf(digest: string, what: string): string {
  const hex = DIGEST_RE.exec(digest)?.[1];
  if (!hex) throw new LayerError(`invalid ${what} "${digest}"`);
  return hex;
}

/** The OCI chainID of a layer: its diffID at the bottom, else sha256 of "<parent chainID> <diffID>". */
export function chainOf(parentChain: string | undefined, diffId: string): string {
  return parentChain === undefined ? diffId : sha256Of(`${parentChain} ${diffId}`);
}
