// The layer store, under its root (default /var/lib/builder):
//   layers/<key>/diff         a layer unpacked in overlay format: what runs stack as an overlay lowerdir
//   layers/<key>/layer.json   what the layer is (diffID, chainID, size)
//   images/<id>.json          an image: its names, its layers, its run-time config, when it was last used
//                             (its mtime: a run of a known image touches it)
//   blobs/<digest hex>        the diffID a blob turned out to have (for sources that cannot tell it)
//   files/<dev>-<ino>.json    the sha256 of a file a source named (tar:FILE), with the identity the file
//                             had then (device, inode, size, mtime, ctime): unchanged, it is not hashed
//                             again
//   runs/<pid>-<start>-<n>.json   the layers a live run uses (removed when it ends)
//   pruning/<pid>-<start>     present while a prune is choosing and removing layers
//   locks/                    flock files: <hex>.unpack (one unpacker per layer), prune, images
//   tmp/                      layers being unpacked, and layers being pruned
//
// A layer's key is the hex of its chainID (its diffID for a bottom layer): a layer directory can
// depend on the layers below it, since unpacking resolves parents through them (a layer's `lib/x`
// over a lower `lib -> usr/lib` lands in `usr/lib`), copies up the files its hard links point to
// (overlayfs layers cannot link across layers) and gives implied directories the lower directory's
// metadata. So each layer is unpacked once per stack below it; images that share a base share it.
//
// Unpacking: into tmp/, then renamed into layers/ in one step, so a crash never leaves a half layer
// visible. The unpack lock (flock, released by the kernel when its holder dies, kill -9 included) makes
// concurrent runs of a new image unpack it once and lets the next holder remove what a killed unpacker
// left in tmp/.
//
// Runs and prune keep out of each other's way without a lock on the run's path (runs.ts).
//
// The pieces: store-dirs.ts (directories, locks, keys), store-layers.ts (finding and unpacking
// layers), image-records.ts, runs.ts (registrations of runs, markers of prunes), file-digests.ts,
// blob-hints.ts. LayerStore puts them together.
import { existsSync, mkdirSync } from 'node:fs';
import { LayerError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { sha256Of } from '../digest.js';
import type { ImageManifest } from '../formats/image.js';
import { BlobHints } from './blob-hints.js';
import { FileDigests } from './file-digests.js';
import { type ImageInfo, ImageRecords } from './image-records.js';
import { Runs } from './runs.js';
import { chainKeys, chainOf, StoreDirs } from './store-dirs.js';
import { type Found, type LayerPhase, type LayerRecord, StoreLayers } from './store-layers.js';

export type { ImageInfo } from './image-records.js';

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
  phase: LayerPhase;
  bytes: number;
  total: number;
}

export type ProgressListener = (progress: LayerProgress) => void;

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

export class LayerStore {
  private readonly dirs: StoreDirs;
  private readonly hints: BlobHints;
  private readonly layers: StoreLayers;
  private readonly imageRecords: ImageRecords;
  private readonly runs: Runs;
  private readonly fileDigests: FileDigests;

  /** `log` is told, at debug level, of each layer unpacked (the tests count unpacks by it). */
  constructor(
    readonly root: string,
    log?: Logger,
  ) {
    this.dirs = new StoreDirs(root);
    this.hints = new BlobHints(this.dirs);
    this.layers = new StoreLayers(this.dirs, this.hints, log);
    this.imageRecords = new ImageRecords(this.dirs);
    this.runs = new Runs(this.dirs);
    this.fileDigests = new FileDigests(this.dirs);
  }

  /**
   * Unpack what the store does not have yet, record the image under `name`, and keep its layers until
   * the returned image is released (prune leaves them alone meanwhile).
   */
  async prepare(
    image: ImageManifest,
    name: string,
    onProgress?: ProgressListener,
    signal?: AbortSignal,
  ): Promise<PreparedImage> {
    if (!existsSync(this.dirs.dir('runs')))
      for (const d of ['layers', 'images', 'tmp', 'blobs', 'runs'] as const)
        mkdirSync(this.dirs.dir(d), { recursive: true, mode: 0o700 });
    const run = this.runs.register();
    try {
      run.add(this.layers.candidateKeys(image));
      await this.runs.waitForPrune();
      const found: (Found & { record?: LayerRecord })[] = [];
      let parentChain: string | undefined;
      for (const [i, layer] of image.layers.entries()) {
        signal?.throwIfAborted();
        const progress = (phase: LayerPhase, bytes: number, diffId?: string) =>
          onProgress?.({
            index: i + 1,
            count: image.layers.length,
            digest: layer.digest,
            diffId: diffId ?? layer.diffId ?? '',
            phase,
            bytes,
            total: layer.size,
          });
        const known = layer.diffId ?? this.hints.diffId(layer.digest);
        let hit = known === undefined ? undefined : this.layers.find(known, parentChain);
        if (hit) progress('cached', layer.size, known);
        else
          hit = await this.layers
            .unpack(layer, known, parentChain, this.layers.lowers(found), progress, run, signal)
            .catch((err: unknown) => {
              // Name the image and the layer: the unpacker names only the entry.
              if (err instanceof LayerError) throw new LayerError(`${name}: layer ${layer.digest}: ${err.message}`);
              throw err;
            });
        found.push({ ...hit, record: this.layers.record(hit.key) });
        parentChain = chainOf(parentChain, hit.diffId);
      }
      const diffIds = found.map((f) => f.diffId);
      const id = image.id ?? sha256Of(JSON.stringify({ layers: diffIds, config: image.config }));
      const size = found.reduce((sum, f) => sum + (f.record?.size ?? 0), 0);
      await this.imageRecords.record(id, name, diffIds, image.config, size);
      return { id, lowers: this.layers.lowers(found), release: () => run.remove() };
    } catch (err) {
      run.remove();
      throw err;
    }
  }

  /** The sha256 of `file`, remembered while the file is unchanged (file-digests.ts). */
  fileDigest(file: string): Promise<string> {
    return this.fileDigests.digest(file);
  }

  /** The images in the store, most recently used first. */
  images(): ImageInfo[] {
    return this.imageRecords.all().sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
  }

  /**
   * Remove images without a name (or, with `all`, every image), then every layer no remaining image
   * needs, except layers a live run uses; and what killed unpackers left in tmp/.
   */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const result: PruneResult = { images: [], layers: [], bytes: 0, inUse: [] };
    if (!existsSync(this.root)) return result;
    const pruneLock = await this.dirs.lock('prune');
    const imagesLock = await this.dirs.lock('images');
    const marker = this.runs.markPrune();
    try {
      const keep = new Set<string>();
      for (const image of this.imageRecords.all()) {
        if (options.all || image.names.length === 0) {
          this.imageRecords.remove(image.id);
          result.images.push(image.id);
        } else for (const key of chainKeys(image.layers)) keep.add(key);
      }
      const used = this.runs.liveKeys();
      for (const key of this.layers.keys()) {
        if (keep.has(key)) continue;
        const record = this.layers.record(key);
        const diffId = record?.diffId ?? `sha256:${key}`;
        if (used.has(key)) {
          result.inUse.push(diffId);
          continue;
        }
        this.layers.remove(key);
        result.layers.push(diffId);
        result.bytes += record?.size ?? 0;
      }
      await this.layers.pruneTemps();
      this.hints.prune(new Set(this.layers.keys().map((k) => this.layers.record(k)?.diffId)));
      this.fileDigests.prune();
      this.runs.removeDeadMarkers();
    } finally {
      marker.remove();
      imagesLock.release();
      pruneLock.release();
    }
    return result;
  }
}
