// Reading an OCI image layout directory: oci-layout, index.json, the chosen manifest (through nested
// indexes, by platform), its config, and its layers' descriptors.
import { join } from 'node:path';
import { ImageError } from '../../errors.js';
import { digestHex, fileSize, isObject, openVerified, parseJson, readJsonFile, readVerified } from './blob.js';
import { diffIdsFromJson, imageConfigFromJson } from './config-json.js';
import type { ImageLayer, ImageManifest } from './image.js';
import { layerCompression, MEDIA_TYPE } from './media-types.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

function descriptor(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new ImageError(`${what}: descriptor is not an object`);
  if (typeof v.mediaType !== 'string') throw new ImageError(`${what}: descriptor has no mediaType`);
  digestHex(v.digest, what);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw new ImageError(`${what}: descriptor of ${String(v.digest)} has no valid size`);
  }
  return v as unknown as Descriptor;
}

function descriptors(v: unknown, field: string, what: string): Descriptor[] {
  if (!Array.isArray(v)) throw new ImageError(`${what}: "${field}" is not a list`);
  return v.map((d, i) => descriptor(d, `${what}: ${field}[${i}]`));
}

const ARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
};

/** Reads an OCI image layout directory. `what` names the reference in errors. */
export class OciLayout {
  constructor(
    readonly dir: string,
    readonly what: string,
  ) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest, this.what));
  }

  private async readBlobJson(d: Descriptor, kind: string): Promise<unknown> {
    const what = `${this.what}: ${kind} ${d.digest}`;
    const data = await readVerified(this.blobPath(d.digest), d.digest, d.size, what);
    return parseJson(data, what);
  }

  /** Checks the `oci-layout` file, reads `index.json` and picks a manifest (by tag, or the only one). */
  async read(tag?: string): Promise<ImageManifest> {
    const layout = await readJsonFile(join(this.dir, 'oci-layout'), `${this.what}: not an OCI image layout`);
    if (!isObject(layout) || typeof layout.imageLayoutVersion !== 'string') {
      throw new ImageError(`${this.what}: oci-layout has no imageLayoutVersion`);
    }
    const index = await readJsonFile(join(this.dir, 'index.json'), this.what);
    const top = descriptors(isObject(index) ? index.manifests : undefined, 'manifests', `${this.what}: index.json`);
    let chosen: Descriptor;
    if (tag !== undefined) {
      const hits = top.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === tag);
      if (hits.length === 0) throw new ImageError(`${this.what}: no such tag "${tag}" (available: ${this.tags(top)})`);
      if (hits.length > 1) throw new ImageError(`${this.what}: tag "${tag}" names ${hits.length} manifests`);
      chosen = hits[0];
    } else {
      if (top.length !== 1) {
        throw new ImageError(
          `${this.what}: the layout holds ${top.length} manifests; name one with a tag (available: ${this.tags(top)})`,
        );
      }
      chosen = top[0];
    }
    return this.readManifest(chosen, 0);
  }

  private tags(ds: Descriptor[]): string {
    const tags = ds.map((d) => d.annotations?.[REF_NAME_ANNOTATION]).filter((t): t is string => t !== undefined);
    return tags.length === 0 ? 'none' : tags.join(', ');
  }

  private async readManifest(d: Descriptor, depth: number): Promise<ImageManifest> {
    if (d.mediaType === MEDIA_TYPE.ociIndex || d.mediaType === MEDIA_TYPE.dockerList) {
      if (depth >= 4) throw new ImageError(`${this.what}: image indexes nested too deep`);
      const nested = await this.readBlobJson(d, 'index');
      const list = descriptors(
        isObject(nested) ? nested.manifests : undefined,
        'manifests',
        `${this.what}: index ${d.digest}`,
      );
      return this.readManifest(this.pickPlatform(list, d.digest), depth + 1);
    }
    if (d.mediaType !== MEDIA_TYPE.ociManifest && d.mediaType !== MEDIA_TYPE.dockerManifest) {
      throw new ImageError(`${this.what}: unsupported manifest media type "${d.mediaType}"`);
    }
    const m = await this.readBlobJson(d, 'manifest');
    if (!isObject(m)) throw new ImageError(`${this.what}: manifest ${d.digest} is not a JSON object`);
    const configDesc = descriptor(m.config, `${this.what}: manifest ${d.digest}: config`);
    const layerDescs = descriptors(m.layers, 'layers', `${this.what}: manifest ${d.digest}`);
    const configJson = await this.readBlobJson(configDesc, 'config');
    const config = imageConfigFromJson(configJson, this.what);
    const diffIds = diffIdsFromJson(configJson, `${this.what}: config ${configDesc.digest}`);
    if (diffIds.length !== layerDescs.length) {
      throw new ImageError(
        `${this.what}: manifest ${d.digest} has ${layerDescs.length} layers but its config lists ${diffIds.length} diff_ids`,
      );
    }
    const layers: ImageLayer[] = [];
    for (const [i, ld] of layerDescs.entries()) {
      const compression = layerCompression(ld.mediaType);
      if (compression === undefined) {
        throw new ImageError(`${this.what}: layer ${ld.digest} has unsupported media type "${ld.mediaType}"`);
      }
      digestHex(diffIds[i], `${this.what}: diff_id of layer ${i}`);
      const file = this.blobPath(ld.digest);
      const what = `${this.what}: layer ${ld.digest}`;
      const size = await fileSize(file, what);
      if (size !== ld.size) throw new ImageError(`${what}: size mismatch: expected ${ld.size} bytes, found ${size}`);
      layers.push({
        digest: ld.digest,
        diffId: diffIds[i],
        mediaType: ld.mediaType,
        compression,
        size: ld.size,
        open: () => openVerified(file, ld.digest, ld.size, what),
        file,
      });
    }
    return { id: configDesc.digest, layers, config };
  }

  private pickPlatform(list: Descriptor[], indexDigest: string): Descriptor {
    if (list.length === 1) return list[0];
    const arch = ARCH[process.arch] ?? process.arch;
    const hits = list.filter((d) => (d.platform?.os ?? 'linux') === 'linux' && d.platform?.architecture === arch);
    if (hits.length === 0) {
      const have = list.map((d) => `${d.platform?.os ?? '?'}/${d.platform?.architecture ?? '?'}`).join(', ');
      throw new ImageError(`${this.what}: index ${indexDigest} has no manifest for linux/${arch} (has ${have})`);
    }
    return hits[0];
  }
}
