// Removing what a run created inside a rootfs directory for its mounts (mountpoints, device nodes,
// symlinks), so that it never leaks into an image (buildah #4242, BuildKit's stub cleaner). Runs on
// the host after the run, where none of them is a mountpoint. Everything is resolved inside the root
// by fd, so a container that replaced a stub by a symlink cannot make this touch anything outside.
import { closeSync, fstatSync } from 'node:fs';
import {
  AT_REMOVEDIR,
  O_CLOEXEC,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
} from './constants.js';
import { fdPath, type ParentTimes, resolveInRoot, resolveParentInRoot, type Stub } from './in-root.js';
import { open, openat, unlinkat, utimensat } from './syscalls.js';

const TYPES: Record<Stub['kind'], number[]> = {
  dir: [S_IFDIR],
  file: [S_IFREG],
  node: [S_IFCHR, S_IFBLK],
  symlink: [S_IFLNK],
};

const dirname = (path: string) => path.slice(0, path.lastIndexOf('/')) || '/';

/**
 * Remove the stubs (last created first) that are still what the run made: an empty directory, an
 * empty file, a device node, a symlink. Then give the directories they were made in their times back.
 * Returns the paths removed and the paths kept (changed by the command, or gone).
 */
export function removeStubs(
  rootPath: string,
  stubs: Stub[],
  parents: ParentTimes[],
): { removed: string[]; kept: string[] } {
  const removed: string[] = [];
  const kept: string[] = [];
  const rootFd = open(rootPath, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    for (const stub of [...stubs].reverse()) {
      try {
        const parent = resolveParentInRoot(rootFd, stub.path, false);
        try {
          const fd = openat(parent.fd, parent.name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
          const st = fstatSync(fd);
          closeSync(fd);
          const unchanged = TYPES[stub.kind].includes(st.mode & S_IFMT) && (stub.kind !== 'file' || st.size === 0);
          if (!unchanged) throw new Error('changed');
          unlinkat(parent.fd, parent.name, stub.kind === 'dir' ? AT_REMOVEDIR : 0);
          removed.push(stub.path);
        } finally {
          closeSync(parent.fd);
        }
      } catch {
        kept.push(stub.path);
      }
    }
    for (const p of parents) {
      if (kept.some((k) => dirname(k) === p.path) || removed.includes(p.path)) continue;
      try {
        const r = resolveInRoot(rootFd, p.path);
        try {
          utimensat(-100 /* AT_FDCWD */, fdPath(r.fd), BigInt(p.atimeNs), BigInt(p.mtimeNs));
        } finally {
          closeSync(r.fd);
        }
      } catch {
        // the directory is gone or changed: nothing to give back
      }
    }
  } finally {
    closeSync(rootFd);
  }
  return { removed, kept };
}
