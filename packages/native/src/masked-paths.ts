// Masked and read-only paths (the OCI runtime spec's maskedPaths and readonlyPaths, done as runc
// does them), and the read-only root of --read-only. The interpreter's `mask` and `readonly` ops call
// these; the stage makes the root read-only once everything is mounted on it. A path that does not
// exist is skipped: nothing is ever created in the rootfs.
import { closeSync, fstatSync } from 'node:fs';
import { MS_BIND, MS_RDONLY, MS_REC, S_IFCHR, S_IFDIR, S_IFMT } from './constants.js';
import { fdPath, resolveInRoot } from './in-root.js';
import { mountAttr } from './mount-flags.js';
import { hasCode, SyscallError } from './syscall-error.js';
import { makedev, mount, mountSetattr } from './syscalls.js';

/** `ro`, from the one table of mount words. */
const READ_ONLY = { ...mountAttr(['ro']), propagation: 0 };

/** O_PATH fd of `path` resolved inside the root, or undefined when it does not exist. */
function openExisting(rootFd: number, path: string): number | undefined {
  try {
    return resolveInRoot(rootFd, path).fd;
  } catch (err) {
    if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * Hide `target`: an empty read-only tmpfs on a directory, the container's /dev/null bound on
 * anything else (runc's maskPath). Skipped when `target` does not exist.
 */
export function maskPath(rootFd: number, target: string): void {
  const fd = openExisting(rootFd, target);
  if (fd === undefined) return;
  try {
    if ((fstatSync(fd).mode & S_IFMT) === S_IFDIR) {
      mount('tmpfs', fdPath(fd), 'tmpfs', MS_RDONLY, null);
      return;
    }
    const devNull = openExisting(rootFd, '/dev/null');
    if (devNull === undefined) throw new SyscallError('mask', 2 /* ENOENT */, '/dev/null');
    try {
      const st = fstatSync(devNull);
      if ((st.mode & S_IFMT) !== S_IFCHR || st.rdev !== Number(makedev(1, 3)))
        throw new Error("the container's /dev/null is not the null device (char 1:3)");
      mount(fdPath(devNull), fdPath(fd), null, MS_BIND);
    } finally {
      closeSync(devNull);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Make `target` read-only: bound on itself, recursively, then that bind and every mount under it made
 * read-only (runc's readonlyPath, failing closed on submounts). Skipped when `target` does not exist.
 */
export function readonlyPath(rootFd: number, target: string): void {
  const fd = openExisting(rootFd, target);
  if (fd === undefined) return;
  try {
    mount(fdPath(fd), fdPath(fd), null, MS_BIND | MS_REC);
  } finally {
    closeSync(fd);
  }
  // Re-resolve: the fd taken before the bind points at the mountpoint under it, not at the new mount.
  const top = resolveInRoot(rootFd, target).fd;
  try {
    mountSetattr(top, READ_ONLY, true, target);
  } finally {
    closeSync(top);
  }
}

/**
 * Make the root's own mount read-only (--read-only), not the mounts on it: /dev, /proc, /tmp … stay
 * as they are (runc's read-only rootfs). `rootFd` is an O_PATH fd of the root of that mount.
 */
export function makeRootReadOnly(rootFd: number): void {
  mountSetattr(rootFd, READ_ONLY, false, '/');
}
