// The layer store, under its root (default /var/lib/builder):
//   layers/<key>/diff         a layer unpacked in overlay format: what runs stack as an overlay lowerdir
//   layers/<key>/layer.json   what the layer is (diffID, chainID, size)
//   images/<id>.json          an image: its names, its layers, its run-time config, when it was last used
//                             (its mtime: a run of a known image touches it)
//   blobs/<digest hex>        the diffID a blob turned out to have (for sources that cannot tell it)
//   files/<dev>-<ino>.json    the sha256 of a file a source named (tar:FILE), with the identity the file
//                             had then (device, inode, size, mtime, ctime): unchanged, it is not hashed
//                             again
//   runs/<pid>-<start>.json   the layers a live run uses (removed when it ends)
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
// Runs and prune, without a lock on the run's path (a run on an image it has already unpacked touches
// no flock, so it needs no native code in the CLI process: loading koffi would cost more than the rest
// of the run's image handling): a run writes its registration (the keys it may use), then waits while
// a live prune's marker exists, then looks for its layers. A prune writes its marker, then reads the
// registrations of live runs and removes only layers none of them names. Either the run registered
// before the prune looked (the prune keeps its layers), or the run saw the marker and looks only after
// the prune is over. Registrations and markers of dead processes (kill -9) are recognised by their
// process start time and ignored.
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
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LayerError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { DIGEST_RE, fileDigest as hashFile, sha256Of } from '../digest.js';
import type { ImageConfig, ImageLayer, ImageManifest } from '../formats/image.js';
import { unpackInWorker } from '../unpack/unpack-client.js';
import { visibleLayers } from './visible-layers.js';

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
  /** The layer starts with an opaque marker: it hides every layer below (see opaque-root.ts). */
  opaqueRoot?: boolean;
  /** Uncompressed size of the layer tarball. */
  size: number;
  created: string;
}

type Lock = { release(): void };

/** A layer of the store: its key and its diffID. */
interface Found {
  key: string;
  diffId: string;
}

type StoreDir = 'layers' | 'images' | 'locks' | 'tmp' | 'blobs' | 'runs' | 'pruning' | 'files';

export class LayerStore {
  /** `log` is told, at debug level, of each layer unpacked (the tests count unpacks by it). */
  constructor(
    readonly root: string,
    private readonly log?: Logger,
  ) {}

  private dir(name: StoreDir): string {
    return join(this.root, name);
  }

  private layerDir(key: string): string {
    return join(this.dir('layers'), key);
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
    if (!existsSync(this.dir('runs')))
      for (const d of ['layers', 'images', 'tmp', 'blobs', 'runs'] as const)
        mkdirSync(this.dir(d), { recursive: true, mode: 0o700 });
    const run = new Registration(this.dir('runs'));
    try {
      run.add(this.candidateKeys(image));
      await this.waitForPrune();
      const found: (Found & { record?: LayerRecord })[] = [];
      let parentChain: string | undefined;
      for (const [i, layer] of image.layers.entries()) {
        signal?.throwIfAborted();
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
        let hit = known === undefined ? undefined : this.find(known, parentChain);
        if (hit) progress('cached', layer.size, known);
        else
          hit = await this.unpack(layer, known, parentChain, this.lowers(found), progress, run, signal).catch(
            (err: unknown) => {
              // Name the image and the layer: the unpacker names only the entry.
              if (err instanceof LayerError) throw new LayerError(`${name}: layer ${layer.digest}: ${err.message}`);
              throw err;
            },
          );
        found.push({ ...hit, record: this.readLayerRecord(hit.key) });
        parentChain = chainOf(parentChain, hit.diffId);
      }
      const diffIds = found.map((f) => f.diffId);
      const id = image.id ?? sha256Of(JSON.stringify({ layers: diffIds, config: image.config }));
      const size = found.reduce((sum, f) => sum + (f.record?.size ?? 0), 0);
      await this.record(id, name, diffIds, image.config, size);
      return { id, lowers: this.lowers(found), release: () => run.remove() };
    } catch (err) {
      run.remove();
      throw err;
    }
  }

  /** The keys of the image's layers, as far as their diffIDs are known. */
  private candidateKeys(image: ImageManifest): string[] {
    const keys: string[] = [];
    let parentChain: string | undefined;
    for (const layer of image.layers) {
      const diffId = layer.diffId ?? this.blobDiffId(layer.digest);
      if (diffId === undefined) break;
      parentChain = chainOf(parentChain, diffId);
      keys.push(hexOf(parentChain, 'chainID'));
    }
    return keys;
  }

  /** The layer with this diffID on top of `parentChain`, if the store has it. */
  private find(diffId: string, parentChain: string | undefined): Found | undefined {
    const key = hexOf(chainOf(parentChain, diffId), 'chainID');
    return existsSync(join(this.layerDir(key), 'diff')) ? { key, diffId } : undefined;
  }

  /**
   * The directories of these layers (bottom first) as overlayfs takes them, top first, down to the
   * first whose root is opaque (the kernel ignores that xattr on a lowerdir's root).
   */
  private lowers(layers: readonly (Found & { record?: LayerRecord })[]): string[] {
    return visibleLayers(layers.toReversed(), (l) => l.record?.opaqueRoot === true).map((l) =>
      join(this.layerDir(l.key), 'diff'),
    );
  }

  /** Wait while a live prune is at work (see the top of this file). */
  private async waitForPrune(): Promise<void> {
    for (;;) {
      let markers: string[];
      try {
        markers = readdirSync(this.dir('pruning'));
      } catch {
        return; // no prune ever ran here
      }
      if (!markers.some(isLive)) return;
      await sleep(20);
    }
  }

  /**
   * Unpack a layer the store does not have (unless another run did so meanwhile): into tmp/, then
   * renamed into layers/ under its key, registered for this run first. The unpack lock is named after
   * the diffID when it is known, else after the blob's digest.
   */
  private async unpack(
    layer: ImageLayer,
    known: string | undefined,
    parentChain: string | undefined,
    lowers: string[],
    progress: (phase: LayerProgress['phase'], bytes: number, diffId?: string) => void,
    run: Registration,
    signal?: AbortSignal,
  ): Promise<Found> {
    const name = known === undefined ? hexOf(layer.digest, 'digest') : hexOf(chainOf(parentChain, known), 'chainID');
    const unpacking = await this.lock(`${name}.unpack`);
    try {
      // Another run may have unpacked it while we waited for the lock; a blob whose diffID was unknown
      // is then known by it too.
      const diffId = known ?? this.blobDiffId(layer.digest);
      const again = diffId === undefined ? undefined : this.find(diffId, parentChain);
      if (again) {
        run.add([again.key]);
        progress('cached', layer.size, diffId);
        return again;
      }
      for (const d of ['layers', 'tmp', 'blobs'] as const) mkdirSync(this.dir(d), { recursive: true, mode: 0o700 });
      // Whatever an unpacker of this layer left (it was killed: we hold its lock now).
      this.removeStaleTemps(name);
      const tmp = mkdtempSync(join(this.dir('tmp'), `${name}-`));
      try {
        const diff = join(tmp, 'diff');
        mkdirSync(diff, { mode: 0o755 });
        progress('unpacking', 0);
        const t0 = Date.now();
        // A blob that is a file is read by the worker itself, its digest checked there.
        const result = await unpackInWorker(
          layer.file === undefined ? layer.open() : { file: layer.file },
          diff,
          {
            format: 'overlay',
            ...(known === undefined ? {} : { diffId: known }),
            ...(layer.file === undefined ? {} : { blob: { digest: layer.digest, size: layer.size } }),
            mediaType: layer.mediaType,
            lowers,
            onProgress: (bytes) => progress('unpacking', bytes),
          },
          signal,
        );
        const chainId = chainOf(parentChain, result.diffId);
        const key = hexOf(chainId, 'chainID');
        run.add([key]);
        const { hasOpaqueRoot } = await import('./opaque-root.js');
        const record: LayerRecord = {
          diffId: result.diffId,
          chainId,
          ...(hasOpaqueRoot(diff) ? { opaqueRoot: true } : {}),
          size: result.size,
          created: new Date().toISOString(),
        };
        writeFileSync(join(tmp, 'layer.json'), `${JSON.stringify(record, null, 2)}\n`);
        try {
          renameSync(tmp, this.layerDir(key));
        } catch (err) {
          // The same layer arrived meanwhile through another blob (another compression): use that.
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        }
        if (layer.diffId === undefined) this.noteBlob(layer.digest, result.diffId);
        this.log?.debug('layer unpacked', {
          digest: layer.digest,
          diffId: result.diffId,
          bytes: result.size,
          ms: Date.now() - t0,
        });
        progress('done', layer.size, result.diffId);
        return { key, diffId: result.diffId };
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    } finally {
      unpacking.release();
    }
  }

  /**
   * The sha256 of `file`, read once and remembered under files/ with the file's identity: device,
   * inode, size, mtime and ctime to the nanosecond. Any write to the file moves its ctime, which only
   * the kernel sets, so a remembered digest is used only for the same unchanged file. A digest is
   * remembered only when the file did not change while it was read; a store that cannot be written
   * to just does not remember.
   */
  async fileDigest(file: string): Promise<string> {
    const before = fileIdentity(file);
    const memo = join(this.dir('files'), `${before.replace(/:.*$/, '')}.json`);
    try {
      const m = JSON.parse(readFileSync(memo, 'utf8')) as { identity?: unknown; digest?: unknown };
      if (m.identity === before && typeof m.digest === 'string' && DIGEST_RE.test(m.digest)) return m.digest;
    } catch {
      // none yet (or unreadable): hash
    }
    const digest = await hashFile(file);
    try {
      if (fileIdentity(file) === before) {
        mkdirSync(this.dir('files'), { recursive: true, mode: 0o700 });
        writeAtomic(memo, `${JSON.stringify({ path: file, identity: before, digest })}\n`);
      }
    } catch {
      // gone meanwhile, or a store not ours to write: the next run hashes again
    }
    return digest;
  }

  /** Remembered file digests whose file is gone or has changed. */
  private pruneFileDigests(): void {
    const dir = this.dir('files');
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      let keep = false;
      try {
        const m = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { path?: unknown; identity?: unknown };
        keep = typeof m.path === 'string' && fileIdentity(m.path) === m.identity;
      } catch {
        // unreadable, or its file is gone
      }
      if (!keep) rmSync(join(dir, name), { force: true });
    }
  }

  /** The diffID a blob was found to have when it was unpacked (blobs/<digest hex>). */
  private blobDiffId(digest: string): string | undefined {
    try {
      const diffId = readFileSync(join(this.dir('blobs'), hexOf(digest, 'digest')), 'utf8').trim();
      return DIGEST_RE.test(diffId) ? diffId : undefined;
    } catch {
      return undefined;
    }
  }

  private noteBlob(digest: string, diffId: string): void {
    writeAtomic(join(this.dir('blobs'), hexOf(digest, 'digest')), `${diffId}\n`);
  }

  private removeStaleTemps(name: string): void {
    for (const entry of readdirSync(this.dir('tmp')))
      if (entry.startsWith(`${name}-`)) rmSync(join(this.dir('tmp'), entry), { recursive: true, force: true });
  }

  /**
   * Note the use in the image's record. A name new to the image is taken from any other image that
   * had it, under the images lock; a known name only updates the time, without a lock.
   */
  private async record(id: string, name: string, diffIds: string[], config: ImageConfig, size: number): Promise<void> {
    const hex = hexOf(id, 'image ID');
    const now = new Date().toISOString();
    const old = this.readImage(hex);
    if (old?.names.includes(name)) {
      // The record's mtime says when it was last used: a touch, not a rewrite (on ext4, a file renamed
      // over another has its data flushed first: a few ms on every run).
      const at = new Date(now);
      utimesSync(this.imageFile(hex), at, at);
      return;
    }
    const lock = await this.lock('images');
    try {
      for (const other of this.readImages()) {
        if (other.id === id || !other.names.includes(name)) continue;
        this.writeImage({ ...other, names: other.names.filter((n) => n !== name) });
      }
      const current = this.readImage(hex);
      this.writeImage({
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

  /** The images in the store, most recently used first. */
  images(): ImageInfo[] {
    return this.readImages().sort((a, b) => b.lastUsed.localeCompare(a.lastUsed));
  }

  /**
   * Remove images without a name (or, with `all`, every image), then every layer no remaining image
   * needs, except layers a live run uses; and what killed unpackers left in tmp/.
   */
  async prune(options: { all?: boolean } = {}): Promise<PruneResult> {
    const result: PruneResult = { images: [], layers: [], bytes: 0, inUse: [] };
    if (!existsSync(this.root)) return result;
    const pruneLock = await this.lock('prune');
    const imagesLock = await this.lock('images');
    mkdirSync(this.dir('pruning'), { recursive: true, mode: 0o700 });
    const marker = join(this.dir('pruning'), processId(process.pid) ?? String(process.pid));
    writeFileSync(marker, '');
    try {
      const keep = new Set<string>();
      for (const image of this.readImages()) {
        if (options.all || image.names.length === 0) {
          rmSync(join(this.dir('images'), `${hexOf(image.id, 'image ID')}.json`), { force: true });
          result.images.push(image.id);
        } else for (const key of chainKeys(image.layers)) keep.add(key);
      }
      const used = this.liveRunKeys();
      for (const key of this.layerKeys()) {
        if (keep.has(key)) continue;
        const record = this.readLayerRecord(key);
        const diffId = record?.diffId ?? `sha256:${key}`;
        if (used.has(key)) {
          result.inUse.push(diffId);
          continue;
        }
        // Out of layers/ in one step, then removed: a half-removed layer is never visible.
        const doomed = mkdtempSync(join(this.dir('tmp'), 'prune-'));
        renameSync(this.layerDir(key), join(doomed, key));
        rmSync(doomed, { recursive: true, force: true });
        result.layers.push(diffId);
        result.bytes += record?.size ?? 0;
      }
      await this.pruneTemps();
      this.pruneBlobHints();
      this.pruneFileDigests();
      // Stale markers of killed prunes.
      for (const m of readdirSync(this.dir('pruning'))) if (!isLive(m)) rmSync(join(this.dir('pruning'), m));
    } finally {
      rmSync(marker, { force: true });
      imagesLock.release();
      pruneLock.release();
    }
    return result;
  }

  /** The keys that live runs registered; registrations of dead runs are removed. */
  private liveRunKeys(): Set<string> {
    const keys = new Set<string>();
    const dir = this.dir('runs');
    for (const file of existsSync(dir) ? readdirSync(dir) : []) {
      if (!file.endsWith('.json')) continue;
      if (!isLive(file.slice(0, -'.json'.length))) {
        rmSync(join(dir, file), { force: true });
        continue;
      }
      try {
        for (const k of JSON.parse(readFileSync(join(dir, file), 'utf8')).keys as string[]) keys.add(k);
      } catch {
        // being written (renamed in whole, so only a vanished file): nothing to add
      }
    }
    return keys;
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

  private readImages(): ImageInfo[] {
    const dir = this.dir('images');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^[0-9a-f]{64}\.json$/.test(f))
      .map((f) => this.readImage(f.slice(0, 64)))
      .filter((i): i is ImageInfo => i !== undefined);
  }

  private imageFile(hex: string): string {
    return join(this.dir('images'), `${hex}.json`);
  }

  /** An image's record; its last use is its mtime (record() touches it) when that is later. */
  private readImage(hex: string): ImageInfo | undefined {
    try {
      const file = this.imageFile(hex);
      const info = JSON.parse(readFileSync(file, 'utf8')) as ImageInfo;
      const touched = new Date(statSync(file).mtimeMs).toISOString();
      return touched > info.lastUsed ? { ...info, lastUsed: touched } : info;
    } catch {
      return undefined;
    }
  }

  /** Write a record; its mtime is its last use (a record rewritten for a name it lost was not used). */
  private writeImage(info: ImageInfo): void {
    const file = this.imageFile(hexOf(info.id, 'image ID'));
    writeAtomic(file, `${JSON.stringify(info, null, 2)}\n`, new Date(info.lastUsed));
  }

  /** Take a lock, polling (a blocking flock would stall the event loop); returns its release. */
  private async lock(name: string): Promise<Lock> {
    for (;;) {
      const lock = await this.tryLock(name);
      if (lock) return lock;
      await sleep(20);
    }
  }

  /** Take a lock if nobody holds it; undefined when someone does. */
  private async tryLock(name: string): Promise<Lock | undefined> {
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

/** What a run registers: the layer keys it may use, in runs/<pid>-<start>.json while it lasts. */
class Registration {
  private static count = 0;
  private readonly file: string;
  private readonly keys = new Set<string>();

  constructor(dir: string) {
    // Unique within the process too (a library may prepare several images at once).
    this.file = join(dir, `${processId(process.pid) ?? process.pid}-${++Registration.count}.json`);
  }

  add(keys: string[]): void {
    for (const k of keys) this.keys.add(k);
    writeAtomic(this.file, JSON.stringify({ keys: [...this.keys] }));
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * `<pid>-<start time>` of a process (its start time in clock ticks since boot, /proc/PID/stat field 22),
 * which no later process with a recycled pid shares; undefined when there is no such process.
 */
function processId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

/** Whether a `<pid>-<start>[-…]` name belongs to a process that is still running. */
function isLive(name: string): boolean {
  const [pid, start] = name.split('-');
  return processId(Number(pid)) === `${pid}-${start}`;
}

/** `dev-ino:size:mtime:ctime` of a file (nanoseconds): what changes whenever its contents may have. */
function fileIdentity(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}-${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Write a file whole, through a temp file of this process renamed over it. */
function writeAtomic(file: string, text: string, mtime?: Date): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  if (mtime) utimesSync(tmp, mtime, mtime);
  renameSync(tmp, file);
}

/** The store keys of a stack of layers (diffIDs, bottom first): the hex of each one's chainID. */
function chainKeys(diffIds: readonly string[]): string[] {
  let chain: string | undefined;
  return diffIds.map((d) => {
    chain = chainOf(chain, d);
    return hexOf(chain, 'chainID');
  });
}

function hexOf(digest: string, what: string): string {
  const hex = DIGEST_RE.exec(digest)?.[1];
  if (!hex) throw new LayerError(`invalid ${what} "${digest}"`);
  return hex;
}

/** The OCI chainID of a layer: its diffID at the bottom, else sha256 of "<parent chainID> <diffID>". */
function chainOf(parentChain: string | undefined, diffId: string): string {
  return parentChain === undefined ? diffId : sha256Of(`${parentChain} ${diffId}`);
}
