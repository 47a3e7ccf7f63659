// The media types of image manifests, configs and layers, and what each layer type says of its compression.
import type { Compression } from '../compression.js';

export const MEDIA_TYPE = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const LAYER_TYPES: ReadonlyMap<string, Compression> = new Map([
  [MEDIA_TYPE.ociLayer, 'none'],
  [MEDIA_TYPE.ociLayerGzip, 'gzip'],
  [MEDIA_TYPE.ociLayerZstd, 'zstd'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar', 'none'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
  ['application/vnd.oci.image.layer.nondistributable.v1.tar+zstd', 'zstd'],
  [MEDIA_TYPE.dockerLayer, 'none'],
  [MEDIA_TYPE.dockerLayerGzip, 'gzip'],
  ['application/vnd.docker.image.rootfs.diff.tar.zstd', 'zstd'],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
  ['application/vnd.docker.image.rootfs.foreign.diff.tar', 'none'],
]);

/** How a layer of this media type is compressed, or undefined for a media type that is not a layer we know. */
export function layerCompression(mediaType: string): Compression | undefined {
  return LAYER_TYPES.get(mediaType);
}

/** The OCI layer media type for a compression. */
export function ociLayerMediaType(c: Compression): string {
  return c === 'gzip' ? MEDIA_TYPE.ociLayerGzip : c === 'zstd' ? MEDIA_TYPE.ociLayerZstd : MEDIA_TYPE.ociLayer;
}
