// Whether an unpacked layer's root is opaque; native code, loaded by the store only after an unpack.
import { hasCode, lgetxattr } from '@builder/native';

/**
 * Whether a layer directory's root is opaque (the layer starts with `.wh..wh..opq`: it hides every
 * layer below it, OCI). overlayfs ignores the opaque xattr on a lowerdir's root, so the store records
 * it when it unpacks the layer and leaves the layers below out of the mount (visible-layers.ts).
 */
export function hasOpaqueRoot(dir: string): boolean {
  try {
    return lgetxattr(dir, 'trusted.overlay.opaque').toString() === 'y';
  } catch (err) {
    if (hasCode(err, 'ENODATA')) return false;
    throw err;
  }
}
