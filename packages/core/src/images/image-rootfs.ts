import { hasCode, lgetxattr } from '@builder/native';
import type { RootfsPlan } from '@builder/native/ops';
import { ImageError, SpecError } from '../errors.js';
import type { LayerStore } from '../layers/layer-store.js';
import type { RunSpec } from '../spec/run-spec.js';
import { applyImageConfig } from './image-config.js';
import { parseImageRef } from './image-ref.js';
import { withImage } from './open-image.js';

/**
 * The rootfs of a run on `spec.image`: every layer in the store (unpacked once), stacked as overlay
 * lowers under a throw-away upper, and the spec with the image's config applied (as podman does).
 * A `dir:` reference is a plain rootfs directory.
 */
export async function resolveImage(spec: RunSpec, store: LayerStore): Promise<{ spec: RunSpec; rootfs?: RootfsPlan }> {
  if (spec.image === undefined) return { spec };
  if (spec.rootfs !== undefined) throw new SpecError('give a rootfs or an image, not both');
  const ref = parseImageRef(spec.image);
  if (ref.transport === 'dir') return { spec: { ...spec, image: undefined, rootfs: ref.path } };
  return withImage(ref, async (image) => {
    if (image.layers.length === 0) throw new ImageError(`${ref.text}: the image has no layers`);
    // overlayfs takes lowerdirs top first; an image lists its layers bottom first.
    const lowers: string[] = [];
    for (const layer of image.layers) lowers.unshift(await store.ensure(layer, [...lowers]));
    return { spec: applyImageConfig(spec, image.config), rootfs: { type: 'overlay', lowers: visibleLayers(lowers) } };
  });
}

/**
 * The layers (top first) down to the first whose root is opaque: a layer that starts with `.wh..wh..opq`
 * hides everything below it (OCI), but overlayfs ignores the opaque xattr on a layer's root directory,
 * so the layers below are left out of the mount instead.
 */
export function visibleLayers(dirs: readonly string[]): string[] {
  const i = dirs.findIndex((dir) => {
    try {
      return lgetxattr(dir, 'trusted.overlay.opaque').toString() === 'y';
    } catch (err) {
      if (hasCode(err, 'ENODATA')) return false;
      throw err;
    }
  });
  return i < 0 ? [...dirs] : dirs.slice(0, i + 1);
}
