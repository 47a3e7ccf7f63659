// The one interpreter of MountOps. It runs in the stage process, inside the new mount namespace.
// Every target is resolved inside the rootfs by fd (in-root.ts) and mounted on through /proc/self/fd.
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { MS_BIND, MS_REC, O_CLOEXEC, O_PATH, S_IFBLK, S_IFCHR, S_IFDIR, S_IFMT, S_IFREG } from './constants.js';
import { fdPath, joinPath, resolveInRoot, resolveParentInRoot, type StubLog } from './in-root.js';
import { maskPath, readonlyPath } from './masked-paths.js';
import { type MountAttrWord, mountAttr, mountFlags, PROPAGATION_FLAGS } from './mount-flags.js';
import { type BindOp, describeOp, type MountOp } from './mount-op.js';
import { overlayData } from './overlay.js';
import { hasCode, SyscallError } from './syscall-error.js';
import { makedev, mknodat, mount, mountSetattr, open, readlinkat, symlinkat } from './syscalls.js';

export interface InterpreterContext {
  /** O_PATH fd of the rootfs directory; every target is resolved inside it. */
  rootFd: number;
  /** fd of the container's PID namespace: proc mounts show that namespace's processes. */
  pidnsFd?: number;
  /** A host directory on the run's private tmpfs, for throw-away overlay uppers and file copies. */
  scratchDir: string;
  /** Receives what the ops create inside the rootfs. */
  stubs: StubLog;
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

/** Execute ops in order; what they create inside the rootfs is logged in `ctx.stubs`. */
export function executeOps(ops: readonly MountOp[], ctx: InterpreterContext): void {
  let scratchCount = 0;
  const scratch = (prefix: string) => {
    const dir = `${ctx.scratchDir}/${prefix}-${scratchCount++}`;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  };
  for (const op of ops) {
    try {
      executeOp(op, ctx, scratch);
    } catch (err) {
      throw new MountOpError(op, err);
    }
  }
}

function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

function executeOp(op: MountOp, ctx: InterpreterContext, scratch: (prefix: string) => string): void {
  const { rootFd, stubs } = ctx;
  switch (op.op) {
    case 'mkdir':
      closeSync(resolveInRoot(rootFd, op.target, { kind: 'dir', mode: op.mode }, stubs).fd);
      return;
    case 'mount': {
      const data = [...(op.data ?? [])];
      if (op.fstype === 'proc' && ctx.pidnsFd !== undefined) data.push(`pidns=${fdPath(ctx.pidnsFd)}`);
      withFd(resolveInRoot(rootFd, op.target, { kind: 'dir', mode: 0o755 }, stubs).fd, (fd) =>
        mount(op.source, fdPath(fd), op.fstype, mountFlags(op.flags ?? []), data.length ? data.join(',') : null),
      );
      return;
    }
    case 'bind': {
      const recursive = op.recursive ?? true;
      if (op.chown) chownTree(op.source, op.chown.uid, op.chown.gid);
      withFd(open(op.source, O_PATH | O_CLOEXEC), (src) => {
        const isDir = (fstatSync(src).mode & S_IFMT) === S_IFDIR;
        bindOn(src, op.target, isDir, recursive, ctx);
      });
      setAttributes(rootFd, op.target, op.flags ?? [], op.propagation, recursive);
      return;
    }
    case 'overlay': {
      let upper: { upperdir: string; workdir: string } | undefined;
      if (op.upperdir !== undefined && op.workdir !== undefined) upper = { upperdir: op.upperdir, workdir: op.workdir };
      if (op.scratchUpper) {
        const dir = scratch('overlay');
        upper = { upperdir: `${dir}/upper`, workdir: `${dir}/work` };
        mkdirSync(upper.upperdir, { mode: 0o755 });
        mkdirSync(upper.workdir, { mode: 0o700 });
      }
      // Without an upper layer overlayfs wants two lower layers: an empty one below changes nothing.
      const lowers = !upper && op.lowerdirs.length === 1 ? [...op.lowerdirs, scratch('empty')] : op.lowerdirs;
      withFd(resolveInRoot(rootFd, op.target, { kind: 'dir', mode: 0o755 }, stubs).fd, (fd) =>
        mount('overlay', fdPath(fd), 'overlay', mountFlags(op.flags ?? []), overlayData(lowers, upper)),
      );
      return;
    }
    case 'file': {
      const copy = `${scratch('file')}/data`;
      const { source } = op;
      if (source === undefined) writeFileSync(copy, op.content ?? '', { flag: 'wx', mode: 0o600 });
      else
        withFd(open(source, O_PATH | O_CLOEXEC), (src) => {
          if ((fstatSync(src).mode & S_IFMT) !== S_IFREG) throw new SyscallError('copy', 22 /* EINVAL */, source);
          copyFileSync(fdPath(src), copy);
        });
      withFd(open(copy, O_PATH | O_CLOEXEC), (src) => {
        chmodPath(src, op.mode);
        bindOn(src, op.target, false, false, ctx);
      });
      setAttributes(rootFd, op.target, ['ro', 'nosuid', 'nodev', 'noexec'], undefined, false);
      return;
    }
    case 'mknod': {
      const type = op.kind === 'char' ? S_IFCHR : S_IFBLK;
      const parent = resolveParentInRoot(rootFd, op.target, true, stubs);
      withFd(parent.fd, (dirfd) => {
        try {
          stubs.noteParent(dirfd, parent.path);
          mknodat(dirfd, parent.name, type | op.mode, makedev(op.major, op.minor));
          stubs.add(dirfd, joinPath(parent.path, parent.name), 'node');
        } catch (err) {
          if (hasCode(err, 'EEXIST')) {
            const st = withFd(resolveInRoot(rootFd, op.target).fd, (fd) => fstatSync(fd));
            if ((st.mode & S_IFMT) === type && st.rdev === Number(makedev(op.major, op.minor))) return;
            throw err;
          }
          if (!(hasCode(err, 'EPERM') && op.fallback)) throw err;
          const fallback = op.fallback;
          withFd(open(fallback, O_PATH | O_CLOEXEC), (src) => bindOn(src, op.target, false, false, ctx));
        }
      });
      return;
    }
    case 'symlink': {
      const parent = resolveParentInRoot(rootFd, op.target, true, stubs);
      withFd(parent.fd, (dirfd) => {
        try {
          stubs.noteParent(dirfd, parent.path);
          symlinkat(op.link, dirfd, parent.name);
          stubs.add(dirfd, joinPath(parent.path, parent.name), 'symlink');
        } catch (err) {
          // Already there with the same text is fine (as bubblewrap's --symlink).
          if (!hasCode(err, 'EEXIST') || safeReadlink(dirfd, parent.name) !== op.link) throw err;
        }
      });
      return;
    }
    case 'mask':
      maskPath(rootFd, op.target);
      return;
    case 'readonly':
      readonlyPath(rootFd, op.target);
      return;
    default: {
      // Every kind has its case: a new kind of MountOp without one does not compile.
      const unknown: never = op;
      throw new SyscallError('interpret', 22 /* EINVAL */, JSON.stringify(unknown));
    }
  }
}

function bindOn(srcFd: number, target: string, isDir: boolean, recursive: boolean, ctx: InterpreterContext): void {
  const create = { kind: isDir ? 'dir' : 'file', mode: isDir ? 0o755 : 0o644 } as const;
  withFd(resolveInRoot(ctx.rootFd, target, create, ctx.stubs).fd, (fd) =>
    mount(fdPath(srcFd), fdPath(fd), null, MS_BIND | (recursive ? MS_REC : 0)),
  );
}

/**
 * Per-mount flags and propagation of the mount now on `target`, with mount_setattr(2): recursive
 * binds get them on every submount too, so `ro` can never leave a writable submount (fails closed).
 */
function setAttributes(
  rootFd: number,
  target: string,
  flags: readonly MountAttrWord[],
  propagation: BindOp['propagation'],
  recursive: boolean,
): void {
  const { set, clear } = mountAttr(flags);
  if (!set && !clear && !propagation) return;
  // Re-resolve: the fd taken before the mount points at the mountpoint under it, not at the new mount.
  withFd(resolveInRoot(rootFd, target).fd, (fd) => {
    if (set || clear) mountSetattr(fd, { set, clear, propagation: 0 }, recursive, target);
    if (propagation) {
      const flag = PROPAGATION_FLAGS[propagation];
      mountSetattr(fd, { set: 0, clear: 0, propagation: flag & ~MS_REC }, (flag & MS_REC) !== 0, target);
    }
  });
}

/** lchown a tree, depth first, never following a symlink and never leaving the source's filesystem. */
function chownTree(path: string, uid: number, gid: number, dev = lstatSync(path).dev): void {
  const st = lstatSync(path);
  if (st.dev !== dev) return;
  if (st.isDirectory()) for (const name of readdirSync(path)) chownTree(`${path}/${name}`, uid, gid, dev);
  lchownSync(path, uid, gid);
}

function chmodPath(fd: number, mode: number): void {
  // fchmod does not work on O_PATH fds; the magic link does.
  chmodSync(fdPath(fd), mode);
}

function safeReadlink(dirfd: number, name: string): string | undefined {
  try {
    return readlinkat(dirfd, name);
  } catch {
    return undefined;
  }
}
