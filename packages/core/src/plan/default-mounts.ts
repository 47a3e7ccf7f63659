// The mounts every container gets unless the user mounts something else on their destination.
import type { MountSpec } from '../request/mount-spec.js';

/**
 * The mounts every container gets, in order: those of the OCI runtime spec and of runc's default
 * spec. A user mount on the same destination replaces one of these.
 */
export const DEFAULT_MOUNTS: readonly MountSpec[] = [
  { type: 'proc', source: 'proc', destination: '/proc', options: ['nosuid', 'noexec', 'nodev'] },
  // The dev kind's own defaults are runc's /dev options (nosuid, strictatime, mode=755, size=65536k).
  { type: 'dev', source: 'tmpfs', destination: '/dev' },
  {
    type: 'devpts',
    source: 'devpts',
    destination: '/dev/pts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  {
    type: 'tmpfs',
    source: 'shm',
    destination: '/dev/shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { type: 'mqueue', source: 'mqueue', destination: '/dev/mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { type: 'sysfs', source: 'sysfs', destination: '/sys', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];
