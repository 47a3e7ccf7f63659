/** Escape a path for overlayfs options: `\`, `:` and `,` are special in lowerdir/upperdir/workdir. */
export const escapeOverlayPath = (path: string): string => path.replace(/[\\:,]/g, (ch) => `\\${ch}`);

/** The data string of an overlay mount. `lowers` are top first, as overlayfs expects. */
export function overlayData(lowers: string[], upper?: { upperdir: string; workdir: string }): string {
  const parts = [`lowerdir=${lowers.map(escapeOverlayPath).join(':')}`];
  if (upper) parts.push(`upperdir=${escapeOverlayPath(upper.upperdir)}`, `workdir=${escapeOverlayPath(upper.workdir)}`);
  return parts.join(',');
}
