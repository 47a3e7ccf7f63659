import { SpecError } from '../errors.js';
import type { MountSpec } from './mount-spec.js';

/** BenchExec's directory access modes (container mode), for runs that see the host's own tree. */
export type DirMode = 'hidden' | 'read-only' | 'overlay' | 'full-access';

export interface DirModeSpec {
  mode: DirMode;
  /** Absolute host directory; it appears at the same path inside the container. */
  path: string;
}

const MODES: Record<DirMode, (dir: string) => MountSpec> = {
  // An empty directory: whatever was there is not visible, writes are thrown away.
  hidden: (dir) => ({ type: 'tmpfs', destination: dir, options: ['mode=755'] }),
  // The host's directory, read-only, submounts included.
  'read-only': (dir) => ({ type: 'bind', source: dir, destination: dir, options: ['ro'] }),
  // The host's directory, writable; writes go to a throw-away layer.
  overlay: (dir) => ({ type: 'overlay', source: dir, destination: dir, options: ['tmpfs-upper'] }),
  // The host's directory, writable; writes reach the host.
  'full-access': (dir) => ({ type: 'bind', source: dir, destination: dir, options: ['rw'] }),
};

const normalize = (path: string) => path.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');

/** The host's kernel interfaces: never given to the command writable, whole or in part (BenchExec's rule). */
const KERNEL_DIRS = ['/dev', '/proc', '/sys'];
const WRITABLE: readonly DirMode[] = ['overlay', 'full-access'];

/**
 * The mounts that give each directory its mode, parents before children (a mode applies to a
 * directory's whole subtree unless a subdirectory has its own, as in BenchExec). The root `/` is the
 * run's rootfs: without --rootfs it already has the overlay mode, and can have no other.
 */
export function dirModeMounts(specs: readonly DirModeSpec[]): MountSpec[] {
  const seen = new Map<string, DirMode>();
  for (const { mode, path } of specs) {
    if (!Object.hasOwn(MODES, mode)) throw new SpecError(`unknown directory mode "${mode}"`);
    if (!path.startsWith('/')) throw new SpecError(`--${mode}-dir "${path}": must be an absolute path`);
    const dir = normalize(path);
    const other = seen.get(dir);
    if (other && other !== mode) throw new SpecError(`directory "${dir}" is given two modes: ${other} and ${mode}`);
    if (dir === '/' && mode !== 'overlay')
      throw new SpecError(`--${mode}-dir /: the root directory is always an overlay of the host root`);
    const kernel = KERNEL_DIRS.find((k) => dir === k || dir.startsWith(`${k}/`));
    if (kernel && WRITABLE.includes(mode))
      throw new SpecError(
        `--${mode}-dir ${dir}: the host's ${kernel} is never made writable in the container; use another directory mode (--read-only-dir or --hidden-dir)`,
      );
    seen.set(dir, mode);
  }
  return [...seen]
    .filter(([dir]) => dir !== '/')
    .sort(([a], [b]) => a.split('/').length - b.split('/').length || a.localeCompare(b))
    .map(([dir, mode]) => MODES[mode](dir));
}
