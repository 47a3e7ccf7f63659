// The one interpreter of MountOps. It runs in the stage process, inside the new mount namespace.
// Every target is resolved inside the rootfs by fd (in-root.ts) and mounted on through /proc/self/fd.
import { closeSync, fstatSync } from 'node:fs';
import { MS_BIND, MS_REC, MS_REMOUNT, O_CLOEXEC, O_PATH, S_IFBLK, S_IFCHR, S_IFDIR, S_IFMT } from './constants.js';
import { fdPath, joinPath, resolveInRoot, resolveParentInRoot } from './in-root.js';
import { mountFlags, PROPAGATION_FLAGS } from './mount-flags.js';
import { describeOp, type MountOp } from './mount-op.js';
import { hasCode, SyscallError } from './syscall-error.js';
import { makedev, mknodat, mount, open, readlinkat, symlinkat } from './syscalls.js';

export interface InterpreterContext {
  /** O_PATH fd of the rootfs directory; every target is resolved inside it. */
  rootFd: number;
  /** fd of the container's PID namespace: proc mounts show that namespace's processes. */
  pidnsFd?: number;
}

/** An op that failed; the message names the op and the kernel's reason. */
export class MountOpError extends Error {
  readonly op: MountOp;
  constructor(op: MountOp, cause: unknown) {
    super(`${describeOp(op)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MountOpError';
    this.op = op;
  }
  get code(): string | undefined {
    return (this.cause as { code?: string } | undefined)?.code;
  }
}

/**
 * Execute ops in order. Returns the paths inside the rootfs that had to be created (parents first),
 * so that they can be removed after the run.
 */
export function executeOps(ops: readonly MountOp[], ctx: InterpreterContext): string[] {
  const created: string[] = [];
  for (const op of ops) {
    try {
      executeOp(op, ctx, created);
    } catch (err) {
      throw new MountOpError(op, err);
    }
  }
  return created;
}

function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

function executeOp(op: MountOp, ctx: InterpreterContext, created: string[]): void {
  const { rootFd } = ctx;
  switch (op.op) {
    case 'mkdir': {
      const r = resolveInRoot(rootFd, op.target, { kind: 'dir', mode: op.mode });
      created.push(...r.created);
      closeSync(r.fd);
      return;
    }
    case 'mount': {
      const r = resolveInRoot(rootFd, op.target, { kind: 'dir', mode: 0o755 });
      created.push(...r.created);
      const data = [...(op.data ?? [])];
      if (op.fstype === 'proc' && ctx.pidnsFd !== undefined) data.push(`pidns=${fdPath(ctx.pidnsFd)}`);
      withFd(r.fd, (fd) =>
        mount(op.source, fdPath(fd), op.fstype, mountFlags(op.flags ?? []), data.length ? data.join(',') : null),
      );
      return;
    }
    case 'bind': {
      withFd(open(op.source, O_PATH | O_CLOEXEC), (src) => {
        const isDir = (fstatSync(src).mode & S_IFMT) === S_IFDIR;
        bindOn(src, op.target, isDir, op.recursive ?? true, ctx, created);
      });
      const flags = mountFlags(op.flags ?? []);
      if (flags || op.propagation) {
        // Re-resolve: the fd taken before the bind points at the mountpoint under it, not at the new mount.
        withFd(resolveInRoot(rootFd, op.target).fd, (fd) => {
          if (flags) mount(null, fdPath(fd), null, MS_BIND | MS_REMOUNT | flags);
          if (op.propagation) mount(null, fdPath(fd), null, PROPAGATION_FLAGS[op.propagation]);
        });
      }
      return;
    }
    case 'mknod': {
      const parent = resolveParentInRoot(rootFd, op.target, true);
      created.push(...parent.created);
      const type = op.kind === 'char' ? S_IFCHR : S_IFBLK;
      withFd(parent.fd, (dirfd) => {
        try {
          mknodat(dirfd, parent.name, type | op.mode, makedev(op.major, op.minor));
          created.push(joinPath(parent.path, parent.name));
        } catch (err) {
          if (hasCode(err, 'EEXIST')) {
            const st = withFd(resolveInRoot(rootFd, op.target).fd, (fd) => fstatSync(fd));
            if ((st.mode & S_IFMT) === type && st.rdev === Number(makedev(op.major, op.minor))) return;
            throw err;
          }
          if (!(hasCode(err, 'EPERM') && op.fallback)) throw err;
          const fallback = op.fallback;
          withFd(open(fallback, O_PATH | O_CLOEXEC), (src) => bindOn(src, op.target, false, false, ctx, created));
        }
      });
      return;
    }
    case 'symlink': {
      const parent = resolveParentInRoot(rootFd, op.target, true);
      created.push(...parent.created);
      withFd(parent.fd, (dirfd) => {
        try {
          symlinkat(op.link, dirfd, parent.name);
          created.push(joinPath(parent.path, parent.name));
        } catch (err) {
          // Already there with the same text is fine (as bubblewrap's --symlink).
          if (!hasCode(err, 'EEXIST') || safeReadlink(dirfd, parent.name) !== op.link) throw err;
        }
      });
      return;
    }
    default:
      throw new SyscallError('interpret', 22 /* EINVAL */, JSON.stringify(op));
  }
}

function bindOn(
  srcFd: number,
  target: string,
  isDir: boolean,
  recursive: boolean,
  ctx: InterpreterContext,
  created: string[],
): void {
  const r = resolveInRoot(ctx.rootFd, target, { kind: isDir ? 'dir' : 'file', mode: isDir ? 0o755 : 0o644 });
  created.push(...r.created);
  withFd(r.fd, (fd) => mount(fdPath(srcFd), fdPath(fd), null, MS_BIND | (recursive ? MS_REC : 0)));
}

function safeReadlink(dirfd: number, name: string): string | undefined {
  try {
    return readlinkat(dirfd, name);
  } catch {
    return undefined;
  }
}
