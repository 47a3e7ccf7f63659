// Reading an extracted `docker save` archive (skopeo's docker-archive too): manifest.json, the chosen
// image's config, and its layer files, each sniffed for its compression.
import { basename, dirname } from 'node:path';
import { ImageError } from '../../errors.js';
import { type Compression, sniffFile } from '../compression.js';
import { DIGEST_RE, fileDigest } from '../digest.js';
import { resolveInside } from './archive.js';
import { fileSize, isObject, openVerified, parseJson, readJsonFile, readVerified } from './blob.js';
import { diffIdsFromJson, imageConfigFromJson } from './config-json.js';
import type { ImageLayer, ImageManifest } from './image.js';
import { layerCompression, MEDIA_TYPE } from './media-types.js';

interface Entry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, { mediaType?: string; size?: number; digest?: string }>;
}

const HEX_NAME = /^([0-9a-f]{64})(\.tar|\.json)?$/;

/** The digest a file's name claims (`<hex>.tar`, `<hex>.json`, `blobs/sha256/<hex>`), if any. */
function digestFromName(rel: string): string | undefined {
  const m = HEX_NAME.exec(basename(rel));
  if (!m) return undefined;
  const parent = dirname(rel);
  if (parent === '.' || parent === 'blobs/sha256') return `sha256:${m[1]}`;
  return undefined;
}

function dockerMediaType(c: Compression): string {
  return c === 'gzip' ? MEDIA_TYPE.dockerLayerGzip : c === 'zstd' ? MEDIA_TYPE.ociLayerZstd : MEDIA_TYPE.dockerLayer;
}

function tagMatches(repoTag: string, ref: string): boolean {
  const want = /:[^/]*$/.test(ref) ? ref : `${ref}:latest`;
  return repoTag === want || repoTag === `docker.io/library/${want}` || repoTag === `docker.io/${want}`;
}

/** Reads an extracted `docker save` archive (the classic layout and the OCI-layout variant both carry manifest.json). */
export async function readDockerArchive(dir: string, ref: string | undefined, what: string): Promise<ImageManifest> {
  const manifestJson = await readJsonFile(`${dir}/manifest.json`, `${what}: not a docker archive`);
  if (!Array.isArray(manifestJson) || manifestJson.length === 0) {
    throw new ImageError(`${what}: manifest.json is not a non-empty list`);
  }
  const entries = manifestJson.map((e, i) => {
    if (!isObject(e) || typeof e.Config !== 'string' || !Array.isArray(e.Layers)) {
      throw new ImageError(`${what}: manifest.json entry ${i} has no Config and Layers`);
    }
    return e as unknown as Entry;
  });
  const tags = () => {
    const all = entries.flatMap((e, i) => (e.RepoTags?.length ? e.RepoTags : [`@${i}`]));
    return all.join(', ');
  };
  let entry: Entry;
  if (ref === undefined) {
    if (entries.length !== 1) {
      throw new ImageError(`${what}: the archive holds ${entries.length} images; name one (available: ${tags()})`);
    }
    entry = entries[0];
  } else if (/^@\d+$/.test(ref)) {
    const i = Number(ref.slice(1));
    if (i >= entries.length) throw new ImageError(`${what}: no image ${ref} (the archive holds ${entries.length})`);
    entry = entries[i];
  } else {
    const hits = entries.filter((e) => (e.RepoTags ?? []).some((t) => tagMatches(t, ref)));
    if (hits.length === 0) throw new ImageError(`${what}: no such tag "${ref}" (available: ${tags()})`);
    entry = hits[0];
  }

  const configFile = await resolveInside(dir, entry.Config, what);
  const configDigest = digestFromName(entry.Config);
  const configWhat = `${what}: config ${entry.Config}`;
  const configJson =
    configDigest === undefined
      ? await readJsonFile(configFile, what)
      : parseJson(await readVerified(configFile, configDigest, undefined, configWhat), configWhat);
  const config = imageConfigFromJson(configJson, what);
  const diffIds = diffIdsFromJson(configJson, configWhat);
  if (diffIds.length !== entry.Layers.length) {
    throw new ImageError(
      `${what}: manifest.json lists ${entry.Layers.length} layers but the config ${diffIds.length} diff_ids`,
    );
  }
  const layers: ImageLayer[] = [];
  for (const [i, rel] of entry.Layers.entries()) {
    const diffId = diffIds[i];
    if (!DIGEST_RE.test(diffId)) throw new ImageError(`${configWhat}: malformed diff_id ${JSON.stringify(diffId)}`);
    const layerWhat = `${what}: layer ${rel}`;
    const file = await resolveInside(dir, rel, layerWhat);
    const size = await fileSize(file, layerWhat);
    const compression = sniffFile(file);
    const source = entry.LayerSources?.[diffId];
    let digest =
      typeof source?.digest === 'string' && DIGEST_RE.test(source.digest) ? source.digest : digestFromName(rel);
    if (digest === undefined && compression === 'none') digest = diffId;
    if (digest === undefined || (compression !== 'none' && digest === diffId)) digest = await fileDigest(file);
    const d = digest;
    layers.push({
      digest: d,
      diffId,
      mediaType:
        typeof source?.mediaType === 'string' && layerCompression(source.mediaType) === compression
          ? source.mediaType
          : dockerMediaType(compression),
      compression,
      size,
      open: () => openVerified(file, d, size, layerWhat),
      file,
    });
  }
  return { id: configDigest ?? (await fileDigest(configFile)), layers, config };
}
