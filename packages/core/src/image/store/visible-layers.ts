// Pure, so that a run's path needs no native code: the store records which layers have an opaque
// root when it unpacks them (opaque-root.ts).

/** The layers (top first) down to the first whose root is opaque. */
export function visibleLayers<T>(layers: readonly T[], opaqueRoot: (layer: T) => boolean): T[] {
  const i = layers.findIndex(opaqueRoot);
  return i < 0 ? [...layers] : layers.slice(0, i + 1);
}
