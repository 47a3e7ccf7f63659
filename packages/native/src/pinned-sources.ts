// Pinned bind sources (buildah's bind.SetupIntermediateMountNamespace, which calls it staging): before
// anything is mounted into the rootfs, each bind source is bind-mounted into <bundle>/mnt, a 0100
// directory of the run's private tmpfs, so the source is pinned; the container's mount is then made
// from the pinned copy. Binds with `pin: false` (`nobind`) are made straight from the host path.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, rmdirSync, unlinkSync } from 'node:fs';
import { MNT_DETACH, MS_BIND, MS_REC, O_CLOEXEC, O_PATH, S_IFDIR, S_IFMT, UMOUNT_NOFOLLOW } from './constants.js';
import { fdPath } from './in-root.js';
import { MountOpError } from './interpreter.js';
import type { MountOp } from './mount-op.js';
import { readMountInfo } from './mountinfo.js';
import { hasCode } from './syscall-error.js';
import { mount, open, umount2 } from './syscalls.js';

/** Pin every bind source that asks for it; returns the ops with sources rewritten, and the pinned paths. */
export function pinBindSources(ops: readonly MountOp[], mntDir: string): { ops: MountOp[]; pinned: string[] } {
  const pinned: string[] = [];
  const out = ops.map((op): MountOp => {
    if (op.op !== 'bind' || op.pin === false) return op;
    try {
      if (pinned.length === 0) mkdirSync(mntDir, { mode: 0o100 });
      const path = `${mntDir}/bind-${pinned.length}`;
      const src = open(op.source, O_PATH | O_CLOEXEC);
      try {
        if ((fstatSync(src).mode & S_IFMT) === S_IFDIR) mkdirSync(path, { mode: 0 });
        else closeSync(openSync(path, 'wx', 0));
        pinned.push(path);
        mount(fdPath(src), path, null, MS_BIND | MS_REC);
      } finally {
        closeSync(src);
      }
      return { ...op, source: path };
    } catch (err) {
      throw new MountOpError(op, err);
    }
  });
  return { ops: out, pinned };
}

/**
 * Unmount everything at and below each path (leaves first; a busy mount is detached), then remove
 * the mountpoints. Goes on after an error and throws the first one at the end.
 */
export function unmountAll(paths: readonly string[]): void {
  let first: unknown;
  for (const path of [...paths].reverse()) {
    try {
      const below = readMountInfo()
        .map((m) => m.mountPoint)
        .filter((p) => p === path || p.startsWith(`${path}/`))
        .sort((a, b) => b.length - a.length);
      for (const point of below) {
        try {
          umount2(point, UMOUNT_NOFOLLOW);
        } catch (err) {
          if (hasCode(err, 'EBUSY')) umount2(point, MNT_DETACH | UMOUNT_NOFOLLOW);
          else if (!hasCode(err, 'EINVAL')) throw err; // EINVAL: already gone with its parent
        }
      }
      if (lstatSync(path).isDirectory()) rmdirSync(path);
      else unlinkSync(path);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
