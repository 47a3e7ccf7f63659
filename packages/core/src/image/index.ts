// The image room: reading images (OCI layouts, oci-archive, docker-archive, rootfs tarballs), unpacking
// their layers, and the layer store that keeps them (docs/layers.md). The rest of core reaches the room
// only through this file, and the room uses nothing of the engine: node built-ins, @builder/native,
// errors.ts and the Logger type (packages/core/test/image-room-boundary.test.ts keeps it so).
//
// Nothing exported here loads native code: the unpacker and the kernel calls it makes load in the
// unpack worker, or through `@builder/core/unpack` (unpack-entry.ts).

export type { Compression } from './compression.js';
export { fileDigest } from './digest.js';
export type { ImageConfig, ImageLayer, ImageManifest, OpenImage } from './formats/image.js';
export { layerCompression, MEDIA_TYPE } from './formats/media-types.js';
export { openDockerArchive, openOciArchive, openOciLayout, openRootfsTar } from './formats/open-image.js';
export {
  type ImageInfo,
  type LayerProgress,
  LayerStore,
  type PreparedImage,
  type ProgressListener,
  type PruneResult,
} from './store/layer-store.js';
