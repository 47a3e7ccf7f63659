export type Compression = 'none' | 'gzip' | 'zstd';

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

/**
 * The compression of a blob, from its first 4 bytes: gzip 1f 8b; zstd 28 b5 2f fd, or a zstd skippable
 * frame (5X 2a 4d 18); anything else: none (the unpacker refuses bzip2 and xz by their magic).
 */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 4 && (head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) {
    return 'zstd';
  }
  return 'none';
}

/** The OCI layer media type for a compression. */
export function ociLayerMediaType(c: Compression): string {
  return c === 'gzip' ? MEDIA_TYPE.ociLayerGzip : c === 'zstd' ? MEDIA_TYPE.ociLayerZstd : MEDIA_TYPE.ociLayer;
}
