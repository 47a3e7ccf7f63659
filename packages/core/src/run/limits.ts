// The host's side of a run's limits: where the run's cgroup goes is planned before the plan goes to
// the stage; the cgroup is made (and the limits written) while the stage prepares the run, and the
// stage waits for the word before it opens it; it is removed once the stage has exited. The driver
// is native's cgroup.ts.
import { randomBytes } from 'node:crypto';
import {
  type CgroupPlan,
  type CreatedCgroup,
  MissingControllerError,
  makeRunCgroup,
  planRunCgroup,
  type RunLimits,
  removeRunCgroup,
  removeStaleRunCgroups,
  runCgroupName,
} from '@builder/native/pure';
import { RunError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

/** How long the removal waits for the command's last processes to be reaped before it gives up. */
const REMOVE_WITHIN_MS = 10_000;

/**
 * Where the run's cgroup goes. The defaults alone never stop a run: on a machine without the pids
 * controller the default pids limit is dropped with a debug line, as podman drops limits the kernel
 * does not support; so are the device rules on a v1 machine without the devices controller (v2 has
 * no such controller: the stage attaches an eBPF program instead). A controller that was asked for and is missing
 * is a RunError naming it.
 */
export function planCgroup(limits: RunLimits, log: Logger): CreatedCgroup | undefined {
  const name = runCgroupName(randomBytes(6).toString('hex'));
  try {
    return planRunCgroup(limits, name);
  } catch (err) {
    if (err instanceof MissingControllerError && err.controller === 'pids' && limits.pidsDefault) {
      log.debug(`no default pids limit: ${err.message}`);
      const { pids: _p, pidsDefault: _d, ...rest } = limits;
      return Object.keys(rest).length ? planCgroup(rest, log) : undefined;
    }
    if (err instanceof MissingControllerError && err.controller === 'devices') {
      log.debug(`device access not restricted: ${err.message}`);
      const { devices: _d, ...rest } = limits;
      return Object.keys(rest).length ? planCgroup(rest, log) : undefined;
    }
    if (err instanceof MissingControllerError) throw new RunError(`cannot limit the run: ${err.message}`);
    throw new RunError(`cannot find the run's cgroups: ${(err as Error).message}`, { cause: err });
  }
}

/** True when nothing but defaults (the pids limit, the device rules) asks for a cgroup. */
const onlyDefaults = (limits: RunLimits): boolean =>
  (limits.pids === undefined || limits.pidsDefault === true) &&
  limits.memory === undefined &&
  limits.cpuQuota === undefined;

/**
 * Make the planned cgroup: 'ready', or 'skip' when it cannot be made and only defaults (the pids
 * limit, the device rules) wanted it (where builder cannot make cgroups: a read-only /sys/fs/cgroup
 * in a container). Throws a
 * RunError when a limit that was asked for cannot be set. Then removes a killed builder's leftovers.
 */
export function makeCgroup(cgroup: CreatedCgroup, log: Logger): 'ready' | 'skip' {
  let made: 'ready' | 'skip' = 'ready';
  try {
    makeRunCgroup(cgroup);
  } catch (err) {
    if (!onlyDefaults(cgroup.limits))
      throw new RunError(`cannot make the run's cgroup: ${(err as Error).message}`, { cause: err });
    log.debug(`no default limits (pids, devices): cannot make the run's cgroup: ${(err as Error).message}`);
    made = 'skip';
  }
  try {
    const removed = removeStaleRunCgroups(cgroup);
    if (removed.length) log.debug('removed stale run cgroups', { dirs: removed });
  } catch (err) {
    log.debug(`could not look for stale run cgroups: ${(err as Error).message}`);
  }
  return made;
}

/**
 * Remove the run's cgroup once the stage has exited. The command's last processes (killed with the
 * PID namespace) may still be on their way out: rmdir is retried until they are gone. One that
 * stays is left to the next run, which removes it (its maker is dead by then).
 */
export async function removeCgroup(cgroup: CgroupPlan, log: Logger): Promise<void> {
  const start = Date.now();
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const left = removeRunCgroup(cgroup);
    if (left.length === 0) return;
    if (Date.now() - start > REMOVE_WITHIN_MS) {
      log.warn(`could not remove the run's cgroup ${left.join(', ')}: processes are still in it`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
