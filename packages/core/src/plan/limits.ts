// A run's resource limits: RunSpec's pidsLimit, memory and cpus checked and turned into the plan's
// limits (the cgroup files' values), with podman's defaults and rules, and the device rules.
import { DEFAULT_DEVICE_RULES, type RunLimits } from '@builder/native/pure';
import { SpecError } from '../errors.js';
import { parseSize } from '../request/limits.js';
import type { RunSpec } from '../request/run-spec.js';

/** pids.max of a run that does not say (podman's default). */
export const DEFAULT_PIDS_LIMIT = 2048;
/** The CFS period, in µs (podman's, runc's). */
const CPU_PERIOD = 100_000;
/** The most pids.max takes (the kernel's PID_MAX_LIMIT). */
const MAX_PIDS = 4_194_304;
/** docker's minimum memory limit: below it the command cannot even start. */
const MIN_MEMORY = 6 * 1024 * 1024;

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
