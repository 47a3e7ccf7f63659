// What crosses the pipes between the host (core's runner) and the stage process. Pure data.
import type { RunLimits } from '../cgroup.js';
import type { ParentTimes, Stub } from '../in-root.js';
import type { MountOp } from '../mount-op.js';

/**
 * fd on which the stage reads its plan (JSON, one line, then EOF). With `plan.limits`, the host makes
 * the run's cgroup while the stage prepares the run, and before EOF sends its word on it: the
 * CgroupPlan as JSON (made: the stage joins it), CGROUP_SKIP (run without it) or CGROUP_ABORT (the host
 * reports why). The stage waits for the word right before pivot_root.
 */
export const PLAN_FD = 3;
export const CGROUP_SKIP = 's';
export const CGROUP_ABORT = 'x';
/** fd on which the stage writes events (one JSON object per line). */
export const EVENT_FD = 4;
/** Environment variable carrying the pid the stage must be a child of (parent-death race check). */
export const PARENT_ENV = 'BUILDER_STAGE_PARENT';

/**
 * The signals that stop a run: the host's engine stops preparing it on them (unpacking an image)
 * and ends with 128 + N; once the command runs they are passed on to it, and the third SIGINT or
 * SIGTERM kills it.
 */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const satisfies readonly NodeJS.Signals[];
/** The signals the host passes on to the stage, and the stage to the command. */
export const FORWARDED_SIGNALS = [
  ...INTERRUPT_SIGNALS,
  'SIGQUIT',
  'SIGWINCH',
] as const satisfies readonly NodeJS.Signals[];

/** The root filesystem the stage pivots into. */
export type RootfsPlan =
  /** A directory, bind-mounted (recursively) as the root. */
  (
    | { type: 'dir'; path: string }
    /** An overlay of read-only lower directories (top first) and a fresh upper on tmpfs, thrown away after. */
    | { type: 'overlay'; lowers: string[] }
  ) &
    RootfsOptions;

export interface RootfsOptions {
  /**
   * Make the root's own mount read-only once everything is mounted on it and the working directory
   * and the console are made (--read-only); the mounts on it stay as they are.
   */
  readOnly?: boolean;
}

/**
 * How the command is confined (confine.ts): its capabilities, its seccomp filter, no_new_privs.
 * Absent fields mean the least: no filter, no no_new_privs.
 */
export interface SecurityPlan {
  /** --privileged: every capability (all the kernel has), no seccomp filter. */
  privileged?: boolean;
  /**
   * The capabilities kept (`CAP_…` names, capabilities.ts): the bounding set, and a root command's
   * effective and permitted sets (a non-root command's are empty).
   */
  capabilities: string[];
  /**
   * The seccomp filter; absent: none (unconfined). `profile`: `default` or the profile file's path.
   * `bpf`: the profile compiled for this run (classic BPF, base64), filled in by the host's runner;
   * the stage refuses to run without it.
   */
  seccomp?: { profile: string; bpf?: string };
  /** Set no_new_privs for the command (and load the filter after it). */
  noNewPrivileges?: boolean;
}

export interface StagePlan {
  /** The command's confinement. */
  security: SecurityPlan;
  namespaces: { pid: boolean; uts: boolean; ipc: boolean; net: boolean };
  /** Host directory on which the stage mounts its private scratch tmpfs (never visible on the host). */
  runroot: string;
  rootfs: RootfsPlan;
  ops: MountOp[];
  hostname?: string;
  /** The run's resource limits (cgroup.ts); the runner makes a cgroup with them. */
  limits?: RunLimits;
  process: {
    argv: string[];
    /** `KEY=VALUE` strings. */
    env: string[];
    /** Working directory inside the rootfs; created if missing (and then given to `user`, as podman does). */
    cwd: string;
    /**
     * `USER[:GROUP]` to run as (user.ts), looked up in the container's /etc/passwd and /etc/group after
     * the mounts. Absent: root, with the stage's own groups. With a user, `HOME` comes from passwd
     * unless `env` sets it.
     */
    user?: string;
    /** Run on a new pty (bound on /dev/console), relaying this process's stdio to it. */
    terminal?: boolean;
  };
}

export type StageEvent =
  /** The command is running; `pid` is its pid in the host's PID namespace. */
  | { event: 'started'; pid: number }
  | { event: 'exit'; code: number | null; signal: string | null }
  /** The command could not be executed (`code`: ENOENT, EACCES …). */
  | { event: 'exec-error'; file: string; code: string; message: string }
  /** What the mounts created inside the rootfs, to remove after the run. */
  | { event: 'stubs'; stubs: Stub[]; parents: ParentTimes[] }
  /** The engine failed before the command ran. */
  | { event: 'error'; message: string; code?: string }
  | { event: 'log'; level: 'debug' | 'info' | 'warn'; message: string };
