// A run's resource limits: RunSpec's pidsLimit, memory and cpus checked and turned into the plan's
// limits (the cgroup files' values), with podman's defaults and rules.
import { DEFAULT_DEVICE_RULES, type RunLimits } from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { RunSpec } from './run-spec.js';

/** pids.max of a run that does not say (podman's default). */
export const DEFAULT_PIDS_LIMIT = 2048;
/** The CFS period, in µs (podman's, runc's). */
const CPU_PERIOD = 100_000;
/** The most pids.max takes (the kernel's PID_MAX_LIMIT). */
const MAX_PIDS = 4_194_304;
/** docker's minimum memory limit: below it the command cannot even start. */
const MIN_MEMORY = 6 * 1024 * 1024;

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

/** The limits of a run (undefined when it has none): what engine.plan() shows, and the cgroup gets. */
export function planLimits(spec: Pick<RunSpec, 'pidsLimit' | 'memory' | 'cpus' | 'privileged'>): RunLimits | undefined {
  const limits: RunLimits = {};
  const pids = spec.pidsLimit ?? DEFAULT_PIDS_LIMIT;
  if (!Number.isSafeInteger(pids)) throw new SpecError(`pids limit ${pids}: not an integer`);
  if (pids > MAX_PIDS) throw new SpecError(`pids limit ${pids}: above the kernel's most, ${MAX_PIDS}`);
  // The stage's spawning thread is in the cgroup while it starts the command: with 1, it cannot.
  if (pids === 1) throw new SpecError('pids limit 1: too low to start the command (use 2 or more, or 0 for no limit)');
  if (pids > 0) {
    limits.pids = pids;
    if (spec.pidsLimit === undefined) limits.pidsDefault = true;
  }
  if (spec.memory !== undefined) {
    const memory = typeof spec.memory === 'number' ? spec.memory : parseSize(spec.memory, 'memory');
    if (!Number.isSafeInteger(memory) || memory < 0)
      throw new SpecError(
        `memory ${JSON.stringify(spec.memory)}: not a size (a whole number of bytes, or a string such as 64m)`,
      );
    if (memory > 0 && memory < MIN_MEMORY)
      throw new SpecError(
        `memory ${JSON.stringify(spec.memory)}: below the minimum of 6 MiB (docker's), the command could not even start`,
      );
    if (memory > 0) {
      limits.memory = memory;
      limits.memorySwap = 2 * memory;
    }
  }
  if (spec.cpus !== undefined) {
    if (typeof spec.cpus !== 'number' || !Number.isFinite(spec.cpus) || spec.cpus < 0)
      throw new SpecError(`cpus ${spec.cpus}: not a number of CPUs (0 or more)`);
    if (spec.cpus > 0) {
      const quota = Math.round(spec.cpus * CPU_PERIOD);
      if (quota < 1000) throw new SpecError(`cpus ${spec.cpus}: below the minimum of 0.01 (a CFS quota of 1 ms)`);
      limits.cpuQuota = quota;
      limits.cpuPeriod = CPU_PERIOD;
    }
  }
  // The devices cgroup: only the safe devices may be opened (all of them with --privileged, as podman).
  if (spec.privileged !== true) limits.devices = [...DEFAULT_DEVICE_RULES];
  return Object.keys(limits).length ? limits : undefined;
}
