// The limits' flags as podman reads them: --memory sizes, --pids-limit and --cpus (plan/limits.ts turns
// them into the plan's limits).
import { SpecError } from '../errors.js';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A size as docker and podman read one (go-units RAMInBytes): a number, a fraction too, then
 * optionally b, k, m, g, t or p (powers of 1024), any case, with an optional `b` or `ib` after the unit:
 * `64m`, `1g`, `1.5GiB`, `1024`. Throws SpecError naming `what`.
 */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new SpecError(`${what} "${text}": not a size (a number of bytes, or with a unit: 64m, 1g, 512k)`);
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]);
  if (!Number.isSafeInteger(bytes)) throw new SpecError(`${what} "${text}": too large`);
  return bytes;
}

/** `--pids-limit N`: an integer (≤ 0: no limit, as podman). */
export function parsePidsLimit(text: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new SpecError(`--pids-limit "${text}": not an integer`);
  return Number(text);
}

/** `--cpus N`: a number of CPUs, a fraction too (0: no limit). */
export function parseCpus(text: string): number {
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (!Number.isFinite(n)) throw new SpecError(`--cpus "${text}": not a number`);
  return n;
}
