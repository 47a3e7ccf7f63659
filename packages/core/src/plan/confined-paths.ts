// What the planner adds for the confinement of paths: the masked and read-only paths of the OCI
// runtime spec's defaults (podman's and runc's lists), and the read-write tmpfs mounts of --read-only.
import type { MountOp } from '@builder/native/pure';
import type { MountSpec } from '../request/mount-spec.js';
import type { RunSpec } from '../request/run-spec.js';

/** Hidden from the command: an empty read-only tmpfs on a directory, /dev/null on a file. */
const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
];

/** Read-only for the command (bound on themselves, then made read-only). */
const READONLY_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/**
 * The ops that confine the paths, planned after every mount (as runc does them after the mounts:
 * the read-only paths, then the masks). None with `privileged`.
 */
export function confinedPathOps(spec: RunSpec): MountOp[] {
  if (spec.privileged) return [];
  return [
    ...READONLY_PATHS.map((target): MountOp => ({ op: 'readonly', target })),
    ...MASKED_PATHS.map((target): MountOp => ({ op: 'mask', target })),
  ];
}

/**
 * With `readOnly` (and `readOnlyTmpfs` not false): a read-write tmpfs on /tmp, /var/tmp and /run,
 * with podman's options (rw, nosuid, nodev, no size limit). They come after the default mounts, and a
 * user mount on the same destination replaces one, as it replaces a default mount.
 */
export function readOnlyTmpfsMounts(spec: RunSpec): MountSpec[] {
  if (!spec.readOnly || spec.readOnlyTmpfs === false) return [];
  return [
    { type: 'tmpfs', source: 'tmpfs', destination: '/tmp', options: ['rw', 'nosuid', 'nodev', 'mode=1777'] },
    { type: 'tmpfs', source: 'tmpfs', destination: '/var/tmp', options: ['rw', 'nosuid', 'nodev', 'mode=1777'] },
    { type: 'tmpfs', source: 'tmpfs', destination: '/run', options: ['rw', 'nosuid', 'nodev', 'mode=755'] },
  ];
}
