// What the benchmark scripts share: their error type, option checks and the PATH lookup.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A problem the benchmark reports as one line (exit 1), not as a stack trace. */
export class BenchError extends Error {}

/** An integer option of at least `min`. */
export function toCount(text, flag, min) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new BenchError(`${flag} must be an integer >= ${min}, got '${text}'`);
  return n;
}

/** The executable `bin` on PATH, or undefined. */
export function findOnPath(bin) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, bin);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
