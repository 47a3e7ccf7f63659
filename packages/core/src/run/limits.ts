// The host's side of a run's limits: the run's cgroup made (and the limits written) before the plan
// goes to the stage, and removed once the stage has exited. The driver is native's cgroup.ts.
import { randomBytes } from 'node:crypto';
import {
  type CgroupPlan,
  createRunCgroup,
  MissingControllerError,
  type RunLimits,
  removeRunCgroup,
  runCgroupName,
} from '@builder/native/pure';
import { RunError } from '../errors.js';
import type { Logger } from '../logging/logger.js';

/** How long the removal waits for the command's last processes to be reaped before it gives up. */
const REMOVE_WITHIN_MS = 10_000;

/**
 * Make the run's cgroup with `limits`. The default pids limit alone never stops a run: on a machine
 * without the pids controller (or where builder cannot make cgroups) it is dropped with a debug line,
 * as podman drops limits the kernel does not support. A limit that was asked for and cannot be set
 * is a RunError naming why.
 */
export function makeRunCgroup(limits: RunLimits, log: Logger): CgroupPlan | undefined {
  const name = runCgroupName(randomBytes(6).toString('hex'));
  const onlyDefault = limits.pidsDefault === true && neededOtherThanPids(limits) === false;
  try {
    const { plan, staleRemoved } = createRunCgroup(limits, name);
    if (staleRemoved.length) log.debug('removed stale run cgroups', { dirs: staleRemoved });
    return plan;
  } catch (err) {
    if (err instanceof MissingControllerError && err.controller === 'pids' && limits.pidsDefault) {
      log.debug(`no default pids limit: ${err.message}`);
      const { pids: _p, pidsDefault: _d, ...rest } = limits;
      return Object.keys(rest).length ? makeRunCgroup(rest, log) : undefined;
    }
    if (onlyDefault) {
      log.debug(`no default pids limit: cannot make the run's cgroup: ${(err as Error).message}`);
      return undefined;
    }
    if (err instanceof MissingControllerError) throw new RunError(`cannot limit the run: ${err.message}`);
    throw new RunError(`cannot make the run's cgroup: ${(err as Error).message}`, { cause: err });
  }
}

const neededOtherThanPids = (limits: RunLimits): boolean =>
  limits.memory !== undefined || limits.cpuQuota !== undefined;

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
