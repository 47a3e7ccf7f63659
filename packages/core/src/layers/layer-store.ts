// The layer store, under its root (default /var/lib/builder):
//   layers/<key>/diff         a layer unpacked in overlay format: what runs stack as an overlay lowerdir
//   layers/<key>/layer.json   what the layer is (diffID, chainID, size)
//   images/<id>.json          an image: its names, its layers, its run-time config, when it was last used
//   locks/<key>               "in use": shared by every run (and unpacker) of the layer, exclusive for prune
//   locks/<hex>.unpack        exclusive while a layer is being unpacked (hex of its diffID, or of its
//                             blob's digest when the source could not tell the diffID)
//   blobs/<digest hex>        the diffID a blob turned out to have (for sources that cannot tell it)
//   tmp/                      layers being unpacked, and layers being pruned
//
// A layer's key is the hex of its diffID: each distinct layer is unpacked once, whatever image it is
// in. The exception is a layer with hard links to files of lower layers: unpacking copies those files
// up into the layer (overlayfs layers cannot link across layers), so its directory depends on the
// layers below it and its key is its chainID instead (equal to the diffID for a bottom layer).
//
// A layer is written into tmp/ and renamed into layers/ in one step, so a crash never leaves a half
// layer visible; the unpack lock (flock, released by the kernel when its holder dies, kill -9
// included) makes concurrent runs of a new image unpack it once and lets the next holder remove what a
// killed unpacker left in tmp/. Prune takes a layer's "in use" lock without waiting, so a layer that a
// run is using is never removed under it.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerError } from '../errors.js';
import type { ImageConfig, ImageLayer, ImageManifest } from '../images/image.js';
import { unpackInWorker } from './unpack-client.js';

const DIGEST = /^sha256:([0-9a-f]{64})$/;

/** Progress of one layer of an image being prepared. */
export interface LayerProgress {
  /** 1 for the bottom layer. */
  index: number;
  /** How many layers the image has. */
  count: number;
  /** The layer blob's digest, and its diffID (empty until unpacking tells it, for a source that cannot). */
  digest: string;
  diffId: string;
  /** `cached`: the store has it; `unpacking`: `bytes` of `total` blob bytes read; `done`: unpacked. */
  phase: 'cached' | 'unpacking' | 'done';
  bytes: number;
  total: number;
}

export type ProgressListener = (progress: LayerProgress) => void;

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

export interface PruneResult {
  /** IDs of the images removed. */
  images: string[];
  /** diffIDs of the layers removed. */
  layers: string[];
  /** Uncompressed bytes of the layers removed. */
  bytes: number;
  /** diffIDs of layers kept because a run is using them. */
  inUse: string[];
}

/** An image ready to run: its layer directories, held until `release()`. */
export interface PreparedImage {
  id: string;
  /** Layer directories, top first (the order of overlayfs' lowerdir). */
  lowers: string[];
  release(): void;
}

interface LayerRecord {
  diffId: string;
  chainId: string;
  /** Uncompressed size of the layer tarball. */
  size: number;
  created: string;
}

type Lock = { release(): void };

/** A layer of the store, held by a shared lock. */
interface Found {
  key: string;
  diffId: string;
  lock: Lock;
}

export class LayerStore {
  constructor(readonly root: string) {}

  private dir(name: 'layers' | 'images' | 'locks' | 'tmp' | 'blobs'): string {
    return join(this.root, name);
  }

  private layerDir(key: string): string {
    return join(this.dir('layers'), key);
  }

  /**
   * Unpack what the store does not have yet, record the image under `name`, and hold its layers until
   * the returned image is released (prune leaves them alone meanwhile).
   */
  async prepare(image: ImageManifest, name: string, onProgress?: ProgressListener): Promise<PreparedImage> {
    for (const d of ['layers', 'images', 'locks', 'tmp', 'blobs'] as const)
      mkdirSync(this.dir(d), { recursive: true, mode: 0o700 });
    const held: Lock[] = [];
    const release = () => {
      for (const lock of held.splice(0)) lock.release();
    };
    try {
      const dirs: string[] = [];
      const diffIds: string[] = [];
      let parentChain: string | undefined;
      for (const [i, layer] of image.layers.entries()) {
        const progress = (phase: LayerProgress['phase'], bytes: number, diffId?: string) =>
          onProgress?.({
            index: i + 1,
            count: image.layers.length,
            digest: layer.digest,
            diffId: diffId ?? layer.diffId ?? '',
            phase,
            bytes,
            total: layer.size,
          });
        const known = layer.diffId ?? this.blobDiffId(layer.digest);
        let found = known === undefined ? undefined : await this.find(known, parentChain);
        if (found) progress('cached', layer.size, known);
        else found = await this.unpack(layer, known, parentChain, dirs.toReversed(), progress);
        held.push(found.lock);
        dirs.push(join(this.layerDir(found.key), 'diff'));
        diffIds.push(found.diffId);
        parentChain = chainOf(parentChain, found.diffId);
      }
      const id = image.id ?? `sha256:${sha256(JSON.stringify({ layers: diffIds, config: image.config }))}`;
      await this.record(id, name, diffIds, image.config);
      return { id, lowers: dirs.reverse(), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * The layer with this diffID on top of `parentChain`, if the store has it, held by a shared lock.
   * Both of its possible keys are held while looking, so prune cannot take it between look and use.
   */
  private async find(diffId: string, parentChain: string | undefined): Promise<Found | undefined> {
    const keys = [...new Set([hexOf(chainOf(parentChain, diffId), 'chainID'), hexOf(diffId, 'diffID')])];
    const locks = await Promise.all(keys.map((k) => this.lock(k, 'shared')));
    const key = keys.find((k) => existsSync(join(this.layerDir(k), 'diff')));
    for (const [j, k] of keys.entries()) if (k !== key) locks[j].release();
    return key === undefined ? undefined : { key, diffId, lock: locks[keys.indexOf(key)] };
  }

  /**
   * Unpack a layer the store does not have (unless another run did so meanwhile): into tmp/, then
   * renamed into layers/ under its key. The unpack lock is named after the diffID when it is known,
   * else after the blob's digest.
   */
  private async unpack(
    layer: ImageLayer,
    known: string | undefined,
    parentChain: string | undefined,
    lowers: string[],
    progress: (phase: LayerProgress['phase'], bytes: number, diffId?: string) => void,
  ): Promise<Found> {
    const name = known === undefined ? hexOf(layer.digest, 'digest') : hexOf(known, 'diffID');
    const unpacking = await this.lock(`${name}.unpack`, 'exclusive');
    try {
      const again = known === undefined ? undefined : await this.find(known, parentChain);
      if (again) return again;
      // Whatever an unpacker of this layer left (it was killed: we hold its lock now).
      this.removeStaleTemps(name);
      const tmp = mkdtempSync(join(this.dir('tmp'), `${name}-`));
      try {
        const diff = join(tmp, 'diff');
        mkdirSync(diff, { mode: 0o755 });
        progress('unpacking', 0);
        const result = await unpackInWorker(layer.open(), diff, {
          format: 'overlay',
          ...(known === undefined ? {} : { diffId: known }),
          mediaType: layer.mediaType,
          lowers,
          onProgress: (bytes) => progress('unpacking', bytes),
        });
        const chainId = chainOf(parentChain, result.diffId);
        const key = hexOf(result.copiedUp ? chainId : result.diffId, 'diffID');
        const lock = await this.lock(key, 'shared');
        try {
          // The same layer may have arrived meanwhile through another blob (another compression).
          if (!existsSync(join(this.layerDir(key), 'diff'))) {
            const record: LayerRecord = {
              diffId: result.diffId,
              chainId,
              size: result.size,
              created: new Date().toISOString(),
            };
            writeFileSync(join(tmp, 'layer.json'), `${JSON.stringify(record, null, 2)}\n`);
            renameSync(tmp, this.layerDir(key));
          }
          if (layer.diffId === undefined) this.noteBlob(layer.digest, result.diffId);
        } catch (err) {
          lock.release();
          throw err;
        }
        progress('done', layer.size, result.diffId);
        return { key, diffId: result.diffId, lock };
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    } finally {
      unpacking.release();
    }
  }

  /** The diffID a blob was found to have when it was unpacked (blobs/<digest hex>). */
  private blobDiffId(digest: string): string | undefined {
    try {
      const diffId = readFileSync(join(this.dir('blobs'), hexOf(digest, 'digest')), 'utf8').trim();
      return DIGEST.test(diffId) ? diffId : undefined;
    } catch {
      return undefined;
    }
  }

  private noteBlob(digest: string, diffId: string): void {
    const file = join(this.dir('blobs'), hexOf(digest, 'digest'));
    writeFileSync(`${file}.tmp`, `${diffId}\n`);
    renameSync(`${file}.tmp`, file);
  }

  private removeStaleTemps(name: string): void {
    for (const entry of readdirSync(this.dir('tmp')))
      if (entry.startsWith(`${name}-`)) rmSync(join(this.dir('tmp'), entry), { recursive: true, force: true });
  }

  /** Add `name` to the image's record (taking it from any other image) and note the use. */
  private async record(id: string, name: string, diffIds: string[], config: ImageConfig): Promise<void> {
    const lock = await this.lock('images', 'exclusive');
    try {
      const now = new Date().toISOString();
      for (const other of this.readImages()) {
        if (other.id === id || !other.names.includes(name)) continue;
        this.writeImage({ ...other, names: other.names.filter((n) => n !== name) });
      }
      const old = this.readImage(hexOf(id, 'image ID'));
      const size = diffIds.reduce((sum, d) => sum + (this.layerRecord(d)?.size ?? 0), 0);
      this.writeImage({
        id,
        names: old?.names.includes(name) ? old.names : [...(old?.names ?? []), name],
        layers: diffIds,
        size,
        created: old?.created ?? now,
        lastUsed: now,
        config,
      });
    } finally {
      lock.release();
    }
  }

  /** The images in the store, most recently used first. */
  images(): ImageInfo[] {
    return this.readImages().sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
  }

  /**
   * Remove images without a name (or, with `all`, every image), then every layer no remaining image
   * needs, except layers a run is using; and what killed unpackers left in tmp/.
   */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const result: PruneResult = { images: [], layers: [], bytes: 0, inUse: [] };
    if (!existsSync(this.root)) return result;
    const lock = await this.lock('images', 'exclusive');
    try {
      const keep = new Set<string>();
      for (const image of this.readImages()) {
        if (options.all || image.names.length === 0) {
          rmSync(join(this.dir('images'), `${hexOf(image.id, 'image ID')}.json`), { force: true });
          result.images.push(image.id);
        } else for (const l of image.layers) keep.add(l);
      }
      for (const key of this.layerKeys()) {
        const record = this.readLayerRecord(key);
        if (record && keep.has(record.diffId)) continue;
        const inUse = await this.tryLock(key);
        if (!inUse) {
          result.inUse.push(record?.diffId ?? `sha256:${key}`);
          continue;
        }
        try {
          // Out of layers/ in one step, then removed: a half-removed layer is never visible.
          const doomed = mkdtempSync(join(this.dir('tmp'), 'prune-'));
          renameSync(this.layerDir(key), join(doomed, key));
          rmSync(doomed, { recursive: true, force: true });
          result.layers.push(record?.diffId ?? `sha256:${key}`);
          result.bytes += record?.size ?? 0;
        } finally {
          inUse.release();
        }
      }
      await this.pruneTemps();
      this.pruneBlobHints();
    } finally {
      lock.release();
    }
    return result;
  }

  /** tmp/ entries whose unpacker is gone (its unpack lock is free), and leftovers of an interrupted prune. */
  private async pruneTemps(): Promise<void> {
    for (const name of existsSync(this.dir('tmp')) ? readdirSync(this.dir('tmp')) : []) {
      const path = join(this.dir('tmp'), name);
      if (name.startsWith('prune-')) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      const unpacking = await this.tryLock(`${name.split('-')[0]}.unpack`);
      if (!unpacking) continue;
      try {
        rmSync(path, { recursive: true, force: true });
      } finally {
        unpacking.release();
      }
    }
  }

  /** blobs/ entries whose layer is gone. */
  private pruneBlobHints(): void {
    const dir = this.dir('blobs');
    if (!existsSync(dir)) return;
    const have = new Set(this.layerKeys().map((k) => this.readLayerRecord(k)?.diffId));
    for (const name of readdirSync(dir)) {
      const diffId = /^[0-9a-f]{64}$/.test(name) ? this.blobDiffId(`sha256:${name}`) : undefined;
      if (diffId === undefined || !have.has(diffId)) rmSync(join(dir, name), { force: true });
    }
  }

  private layerKeys(): string[] {
    const dir = this.dir('layers');
    return existsSync(dir) ? readdirSync(dir).filter((k) => /^[0-9a-f]{64}$/.test(k)) : [];
  }

  private readLayerRecord(key: string): LayerRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.layerDir(key), 'layer.json'), 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
  }

  /** The record of a layer by diffID, under either of its possible keys. */
  private layerRecord(diffId: string): LayerRecord | undefined {
    const direct = this.readLayerRecord(hexOf(diffId, 'diffID'));
    if (direct) return direct;
    for (const key of this.layerKeys()) {
      const r = this.readLayerRecord(key);
      if (r?.diffId === diffId) return r;
    }
    return undefined;
  }

  private readImages(): ImageInfo[] {
    const dir = this.dir('images');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^[0-9a-f]{64}\.json$/.test(f))
      .map((f) => this.readImage(f.slice(0, 64)))
      .filter((i): i is ImageInfo => i !== undefined);
  }

  private readImage(hex: string): ImageInfo | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir('images'), `${hex}.json`), 'utf8')) as ImageInfo;
    } catch {
      return undefined;
    }
  }

  private writeImage(info: ImageInfo): void {
    const file = join(this.dir('images'), `${hexOf(info.id, 'image ID')}.json`);
    writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
  }

  /** Take a lock, polling (a blocking flock would stall the event loop); returns its release. */
  private async lock(name: string, mode: 'shared' | 'exclusive'): Promise<Lock> {
    for (;;) {
      const lock = await this.tryLock(name, mode);
      if (lock) return lock;
      await sleep(20);
    }
  }

  /** Take a lock if nobody holds it in a conflicting mode; undefined when someone does. */
  private async tryLock(name: string, mode: 'shared' | 'exclusive' = 'exclusive'): Promise<Lock | undefined> {
    // Loaded lazily: koffi stays off the start-up path of runs that need no image.
    const native = await import('@builder/native');
    const path = join(this.dir('locks'), name);
    mkdirSync(this.dir('locks'), { recursive: true, mode: 0o700 });
    const fd = openSync(path, 'a', 0o600);
    try {
      if ((mode === 'shared' ? native.tryLockShared : native.tryLockExclusive)(fd, path))
        return { release: () => closeSync(fd) };
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    closeSync(fd);
    return undefined;
  }
}

function hexOf(digest: string, what: string): string {
  const hex = DIGEST.exec(digest)?.[1];
  if (!hex) throw new LayerError(`invalid ${what} "${digest}"`);
  return hex;
}

/** The OCI chainID of a layer: its diffID at the bottom, else sha256 of "<parent chainID> <diffID>". */
function chainOf(parentChain: string | undefined, diffId: string): string {
  return parentChain === undefined ? diffId : `sha256:${sha256(`${parentChain} ${diffId}`)}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
