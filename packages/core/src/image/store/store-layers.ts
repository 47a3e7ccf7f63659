// layers/<key>/: the store's layers, each unpacked once per stack below it (see layer-store.ts), and
// tmp/, where they are unpacked and from where they are renamed into layers/ in one step.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../logging/logger.js';
import type { ImageLayer, ImageManifest } from '../formats/image.js';
import { unpackInWorker } from '../unpack/unpack-client.js';
import type { BlobHints } from './blob-hints.js';
import type { Registration } from './runs.js';
import { chainKeys, chainOf, hexOf, type StoreDirs } from './store-dirs.js';
import { visibleLayers } from './visible-layers.js';

/** layers/<key>/layer.json: what the layer is. */
export interface LayerRecord {
  diffId: string;
  chainId: string;
  /** The layer starts with an opaque marker: it hides every layer below (see opaque-root.ts). */
  opaqueRoot?: boolean;
  /** Uncompressed size of the layer tarball. */
  size: number;
  created: string;
}

/** A layer of the store: its key and its diffID. */
export interface Found {
  key: string;
  diffId: string;
}

/** Where a layer of an image being prepared is: `cached` (the store has it), `unpacking`, `done`. */
export type LayerPhase = 'cached' | 'unpacking' | 'done';

export type Progress = (phase: LayerPhase, bytes: number, diffId?: string) => void;

export class StoreLayers {
  constructor(
    private readonly dirs: StoreDirs,
    private readonly hints: BlobHints,
    private readonly log?: Logger,
  ) {}

  /** The keys of the image's layers, as far as their diffIDs are known. */
  candidateKeys(image: ImageManifest): string[] {
    const known: string[] = [];
    for (const layer of image.layers) {
      const diffId = layer.diffId ?? this.hints.diffId(layer.digest);
      if (diffId === undefined) break;
      known.push(diffId);
    }
    return chainKeys(known);
  }

  /** The layer with this diffID on top of `parentChain`, if the store has it. */
  find(diffId: string, parentChain: string | undefined): Found | undefined {
    const key = hexOf(chainOf(parentChain, diffId), 'chainID');
    return existsSync(join(this.dirs.layerDir(key), 'diff')) ? { key, diffId } : undefined;
  }

  /**
   * The directories of these layers (bottom first) as overlayfs takes them, top first, down to the
   * first whose root is opaque (the kernel ignores that xattr on a lowerdir's root).
   */
  lowers(layers: readonly (Found & { record?: LayerRecord })[]): string[] {
    return visibleLayers(layers.toReversed(), (l) => l.record?.opaqueRoot === true).map((l) =>
      join(this.dirs.layerDir(l.key), 'diff'),
    );
  }

  /**
   * Unpack a layer the store does not have (unless another run did so meanwhile): into tmp/, then
   * renamed into layers/ under its key, registered for this run first. The unpack lock is named after
   * the diffID when it is known, else after the blob's digest.
   */
  async unpack(
    layer: ImageLayer,
    known: string | undefined,
    parentChain: string | undefined,
    lowers: string[],
    progress: Progress,
    run: Registration,
    signal?: AbortSignal,
  ): Promise<Found> {
    const name = known === undefined ? hexOf(layer.digest, 'digest') : hexOf(chainOf(parentChain, known), 'chainID');
    const unpacking = await this.dirs.lock(`${name}.unpack`);
    try {
      // Another run may have unpacked it while we waited for the lock; a blob whose diffID was unknown
      // is then known by it too.
      const diffId = known ?? this.hints.diffId(layer.digest);
      const again = diffId === undefined ? undefined : this.find(diffId, parentChain);
      if (again) {
        run.add([again.key]);
        progress('cached', layer.size, diffId);
        return again;
      }
      for (const d of ['layers', 'tmp', 'blobs'] as const)
        mkdirSync(this.dirs.dir(d), { recursive: true, mode: 0o700 });
      // Whatever an unpacker of this layer left (it was killed: we hold its lock now).
      this.removeStaleTemps(name);
      const tmp = mkdtempSync(join(this.dirs.dir('tmp'), `${name}-`));
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
          renameSync(tmp, this.dirs.layerDir(key));
        } catch (err) {
          // The same layer arrived meanwhile through another blob (another compression): use that.
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        }
        if (layer.diffId === undefined) this.hints.note(layer.digest, result.diffId);
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

  /** The keys of every layer in the store. */
  keys(): string[] {
    const dir = this.dirs.dir('layers');
    return existsSync(dir) ? readdirSync(dir).filter((k) => /^[0-9a-f]{64}$/.test(k)) : [];
  }

  record(key: string): LayerRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dirs.layerDir(key), 'layer.json'), 'utf8')) as LayerRecord;
    } catch {
      return undefined;
    }
  }

  /** Remove a layer: out of layers/ in one step, then removed (a half-removed layer is never visible). */
  remove(key: string): void {
    const doomed = mkdtempSync(join(this.dirs.dir('tmp'), 'prune-'));
    renameSync(this.dirs.layerDir(key), join(doomed, key));
    rmSync(doomed, { recursive: true, force: true });
  }

  /** tmp/ entries whose unpacker is gone (its unpack lock is free), and leftovers of an interrupted prune. */
  async pruneTemps(): Promise<void> {
    for (const name of existsSync(this.dirs.dir('tmp')) ? readdirSync(this.dirs.dir('tmp')) : []) {
      const path = join(this.dirs.dir('tmp'), name);
      if (name.startsWith('prune-')) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      const unpacking = await this.dirs.tryLock(`${name.split('-')[0]}.unpack`);
      if (!unpacking) continue;
      try {
        rmSync(path, { recursive: true, force: true });
      } finally {
        unpacking.release();
      }
    }
  }

  private removeStaleTemps(name: string): void {
    for (const entry of readdirSync(this.dirs.dir('tmp')))
      if (entry.startsWith(`${name}-`)) rmSync(join(this.dirs.dir('tmp'), entry), { recursive: true, force: true });
  }
}
