// A progress line per layer while the store unpacks an image, on a terminal only: piped or
// redirected, stderr gets nothing (the command's own output stays clean for scripts).
import type { LayerProgress, ProgressListener } from '@builder/core';

const WIDTH = 24;
const EVERY_MS = 100;

/** A listener drawing on `out` when it is a terminal; undefined otherwise. */
export function layerProgress(out: NodeJS.WriteStream): ProgressListener | undefined {
  if (!out.isTTY) return undefined;
  let last = 0;
  let started = 0;
  return (p: LayerProgress) => {
    if (p.phase === 'cached') return; // nothing to wait for: stay quiet, as podman does
    const now = Date.now();
    if (p.phase === 'unpacking') {
      if (p.bytes === 0) started = now;
      else if (now - last < EVERY_MS) return;
      last = now;
      out.write(`\r\x1b[2K${progressLine(p, out.columns || 80)}`);
    } else {
      out.write(`\r\x1b[2K${doneLine(p, now - started)}\n`);
    }
  };
}

function name(p: LayerProgress): string {
  return `layer ${p.index}/${p.count} ${p.digest.replace(/^sha256:/, '').slice(0, 12)}`;
}

/** `Unpacking layer 2/5 0123456789ab [#####-------]  12.3 / 45.6 MiB`, cut to the terminal's width. */
export function progressLine(p: LayerProgress, columns = 80): string {
  const frac = p.total > 0 ? Math.min(1, p.bytes / p.total) : 0;
  const filled = Math.round(frac * WIDTH);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`;
  const line = `Unpacking ${name(p)} ${bar} ${mib(p.bytes)} / ${mib(p.total)} MiB`;
  return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1));
}

/** `Unpacked  layer 2/5 0123456789ab  45.6 MiB in 1.2s`. */
export function doneLine(p: LayerProgress, ms: number): string {
  return `Unpacked  ${name(p)} ${mib(p.total)} MiB in ${(ms / 1000).toFixed(1)}s`;
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}
