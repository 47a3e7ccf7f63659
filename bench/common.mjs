// What the benchmark scripts share: their error type, option checks, the PATH lookup, the median and
// a busybox rootfs.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';

// Every case runs without NODE_EXTRA_CA_CERTS: Node reads and parses that certificate bundle when it
// starts, before any of builder's code runs (about 50-60 ms on the machine the docs' numbers come
// from), and builder makes no TLS connection; a user's machine rarely sets it. The report says when it
// was set, and what it costs (docs/performance.md, "Measuring on this kind of machine").
const { NODE_EXTRA_CA_CERTS: extraCaCerts, ...childEnv } = process.env;

/** The environment of every timed process: ours, without NODE_EXTRA_CA_CERTS. */
export const CHILD_ENV = childEnv;

/** What NODE_EXTRA_CA_CERTS, removed from the cases' environment, costs a Node start here; undefined when unset. */
export function caCertsNote() {
  if (extraCaCerts === undefined) return undefined;
  const start = (env) => {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0'], { env, stdio: 'ignore' });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return times.sort((a, b) => a - b)[2];
  };
  const withCerts = start(process.env);
  const without = start(CHILD_ENV);
  return `NODE_EXTRA_CA_CERTS is set here and removed for every case: \`node -e 0\` takes ${withCerts.toFixed(0)} ms with it, ${without.toFixed(0)} ms without (median of 5)`;
}

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

/** The median of the per-round differences a[i] - b[i] of two cases timed in the same rounds. */
export const pairedMedian = (a, b) => median(a.map((t, i) => t - b[i]));

/** A difference in ms with its sign: +1.25, -0.40. */
export const signedMs = (ms) => `${ms >= 0 ? '+' : ''}${ms.toFixed(2)}`;

/** The median of a list of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const BUSYBOX = '/bin/busybox';

/**
 * A busybox-static root filesystem in the new directory `dir` (its parent must exist): /bin/busybox,
 * a link per applet, /proc /sys /dev and a world-writable /tmp. Returns `dir`.
 */
export function busyboxRootfs(dir, applets) {
  try {
    accessSync(BUSYBOX, constants.X_OK);
  } catch {
    throw new BenchError(`${BUSYBOX} not found: apt-get install busybox-static`);
  }
  mkdirSync(join(dir, 'bin'), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const applet of applets) symlinkSync('busybox', join(dir, 'bin', applet));
  for (const sub of ['proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, sub));
  chmodSync(join(dir, 'tmp'), 0o1777);
  return dir;
}
