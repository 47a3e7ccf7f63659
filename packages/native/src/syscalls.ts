// One typed wrapper per system call. Each checks the return value and throws SyscallError.
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import {
  AT_EMPTY_PATH,
  AT_FDCWD,
  AT_RECURSIVE,
  LOCK_EX,
  LOCK_NB,
  PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE,
  POLLIN,
  PR_SET_PDEATHSIG,
  PR_SET_SECCOMP,
  SECCOMP_MODE_FILTER,
  SYS_mount_setattr,
  SYS_pidfd_open,
} from './constants.js';
import { c, errno } from './libc.js';
import { SyscallError } from './syscall-error.js';

function check(rc: number | bigint, syscall: string, path?: string, dest?: string): number {
  const n = Number(rc);
  if (n < 0) throw new SyscallError(syscall, errno(), path, dest);
  return n;
}

export function unshare(flags: number): void {
  check(c.unshare(flags), 'unshare');
}

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check(c.mount(source, target, fstype, flags, data), 'mount', source ?? fstype ?? 'none', target);
}

export function umount2(target: string, flags = 0): void {
  check(c.umount2(target, flags), 'umount2', target);
}

export function pivotRoot(newRoot: string, putOld: string): void {
  check(c.pivot_root(newRoot, putOld), 'pivot_root', newRoot, putOld);
}

export function sethostname(name: string): void {
  check(c.sethostname(name, Buffer.byteLength(name)), 'sethostname', name);
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  return check(c.openat(dirfd, path, flags, 'uint32_t', mode), 'openat', path);
}

export function open(path: string, flags: number, mode = 0): number {
  return openat(AT_FDCWD, path, flags, mode);
}

/**
 * This thread's umask, or undefined when the kernel does not show it. umask(2) cannot read it without
 * setting it (a race with every other thread), so it comes from /proc/thread-self/status.
 */
export function currentUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/thread-self/status', 'latin1'));
    return m ? Number.parseInt(m[1], 8) : undefined;
  } catch {
    return undefined;
  }
}

export function mkdirat(dirfd: number, path: string, mode: number): void {
  check(c.mkdirat(dirfd, path, mode), 'mkdirat', path);
}

export function mknodat(dirfd: number, path: string, mode: number, dev: bigint): void {
  check(c.mknodat(dirfd, path, mode, dev), 'mknodat', path);
}

export function symlinkat(target: string, dirfd: number, linkpath: string): void {
  check(c.symlinkat(target, dirfd, linkpath), 'symlinkat', target, linkpath);
}

const linkBuffer = Buffer.alloc(4096);
export function readlinkat(dirfd: number, path: string): string {
  const n = check(c.readlinkat(dirfd, path, linkBuffer, linkBuffer.length), 'readlinkat', path);
  return linkBuffer.toString('utf8', 0, n);
}

export function unlinkat(dirfd: number, path: string, flags = 0): void {
  check(c.unlinkat(dirfd, path, flags), 'unlinkat', path);
}

/** prctl(2) with integer arguments; its result. */
export function prctl(option: number, ...args: number[]): number {
  return check(c.prctl(option, ...args.flatMap((a) => ['unsigned long', a])), 'prctl');
}

/** Ask the kernel to send `signal` to this process when the thread that forked it exits. */
export function setParentDeathSignal(signal: number): void {
  prctl(PR_SET_PDEATHSIG, signal);
}

/** capset(2) of the calling thread: `header` a __user_cap_header_struct, `data` two __user_cap_data_structs. */
export function capset(header: Buffer, data: Buffer): void {
  check(c.capset(header, data), 'capset');
}

/** struct sock_fprog, declared on first use (only a confined run needs it). */
let sockFprog: ReturnType<typeof koffi.struct> | undefined;
/** One classic BPF instruction: u16 code, u8 jt, u8 jf, u32 k. */
const BPF_INSN = 8;

/** Load a compiled seccomp filter (classic BPF) on the calling thread: prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER). */
export function loadSeccompFilter(bpf: Buffer): void {
  if (bpf.length === 0 || bpf.length % BPF_INSN !== 0) throw new Error('seccomp: the compiled filter is malformed');
  sockFprog ??= koffi.struct('builder_sock_fprog', { len: 'uint16_t', filter: 'void *' });
  const prog = { len: bpf.length / BPF_INSN, filter: bpf };
  check(c.prctl(PR_SET_SECCOMP, 'unsigned long', SECCOMP_MODE_FILTER, koffi.pointer(sockFprog), prog), 'prctl');
}

export function pidfdOpen(pid: number): number {
  return check(c.syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0), 'pidfd_open');
}

/** An fd of the PID namespace that this process's next children are born in (after unshare(CLONE_NEWPID)). */
export function pidNamespaceForChildren(pidfd: number): number {
  return check(
    c.ioctl(pidfd, PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE, 'unsigned long', 0),
    'ioctl(PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE)',
  );
}

const pollBuffer = Buffer.alloc(8);
/** Whether fd is readable (or hung up) within `timeoutMs` (-1: wait as long as it takes). */
export function pollReadable(fd: number, timeoutMs: number): boolean {
  pollBuffer.writeInt32LE(fd, 0);
  pollBuffer.writeInt16LE(POLLIN, 4);
  pollBuffer.writeInt16LE(0, 6);
  for (;;) {
    const rc = c.poll(pollBuffer, 1, timeoutMs);
    if (rc >= 0) return rc > 0;
    if (errno() !== 4 /* EINTR */) throw new SyscallError('poll', errno());
  }
}

/** Block until fd is readable (or hung up). */
export function waitReadable(fd: number): void {
  pollReadable(fd, -1);
}

/** glibc's makedev(). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

export interface MountAttr {
  /** MOUNT_ATTR_* bits to set. */
  set: number;
  /** MOUNT_ATTR_* bits to clear. */
  clear: number;
  /** MS_PRIVATE, MS_SHARED, MS_SLAVE or MS_UNBINDABLE; 0 leaves propagation alone. */
  propagation: number;
}

/** mount_setattr(2) on the mount open as `fd`; with `recursive`, on every mount below it too. */
export function mountSetattr(fd: number, attr: MountAttr, recursive: boolean, path?: string): void {
  const buf = Buffer.alloc(32);
  buf.writeBigUInt64LE(BigInt(attr.set), 0);
  buf.writeBigUInt64LE(BigInt(attr.clear), 8);
  buf.writeBigUInt64LE(BigInt(attr.propagation), 16);
  const flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
  check(
    c.syscall(SYS_mount_setattr, 'int', fd, 'const char *', '', 'unsigned int', flags, 'void *', buf, 'size_t', 32),
    'mount_setattr',
    path,
  );
}

const timesBuffer = Buffer.alloc(32);
/** The same memory as two `struct timespec` of int64 fields (faster than Buffer's writeBigInt64LE). */
const timespecs = new BigInt64Array(timesBuffer.buffer, timesBuffer.byteOffset, 4);
const NS = 1_000_000_000n;
/** The `struct timespec` `i`; times before 1970 get a negative tv_sec and a tv_nsec in [0, 1e9), as the kernel wants. */
function putTimespec(i: number, ns: bigint): void {
  let nsec = ns % NS;
  if (nsec < 0n) nsec += NS;
  timespecs[2 * i] = (ns - nsec) / NS;
  timespecs[2 * i + 1] = nsec;
}

function packTimes(atimeNs: bigint, mtimeNs: bigint): Buffer {
  putTimespec(0, atimeNs);
  putTimespec(1, mtimeNs);
  return timesBuffer;
}

/** Set access and modification times (nanoseconds since the epoch) of `path` relative to `dirfd`. */
export function utimensat(dirfd: number, path: string, atimeNs: bigint, mtimeNs: bigint, flags = 0): void {
  check(c.utimensat(dirfd, path, packTimes(atimeNs, mtimeNs), flags), 'utimensat', path);
}

/** Set access and modification times (nanoseconds since the epoch) of the file open as `fd`. */
export function futimens(fd: number, atimeNs: bigint, mtimeNs: bigint): void {
  check(c.futimens(fd, packTimes(atimeNs, mtimeNs)), 'futimens');
}

/** linkat(2): `flags` 0 never follows a symlink named by `oldpath` (the link names the symlink itself). */
export function linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags = 0): void {
  check(c.linkat(olddirfd, oldpath, newdirfd, newpath, flags), 'linkat', oldpath, newpath);
}

/** fchownat(2); pass AT_SYMLINK_NOFOLLOW to change a symlink itself (lchown). */
export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags = 0): void {
  check(c.fchownat(dirfd, path, uid, gid, flags), 'fchownat', path);
}

/** fchmodat(2) without flags (glibc refuses AT_SYMLINK_NOFOLLOW for anything but symlinks). Follows a final symlink. */
export function fchmodat(dirfd: number, path: string, mode: number): void {
  check(c.fchmodat(dirfd, path, mode, 0), 'fchmodat', path);
}

/** Set an extended attribute of `path` without following a final symlink; the value is taken byte for byte. */
export function lsetxattr(path: string, name: string, value: Buffer, flags = 0): void {
  check(c.lsetxattr(path, name, value, value.length, flags), 'lsetxattr', path, name);
}

/** An extended attribute of `path` (a final symlink is not followed), byte for byte. */
export function lgetxattr(path: string, name: string): Buffer {
  for (;;) {
    const size = check(c.lgetxattr(path, name, null, 0), 'lgetxattr', path, name);
    const buf = Buffer.alloc(size);
    const rc = Number(c.lgetxattr(path, name, buf, size));
    if (rc >= 0) return buf.subarray(0, rc);
    if (errno() !== 34 /* ERANGE: it grew meanwhile */) throw new SyscallError('lgetxattr', errno(), path, name);
  }
}

/** Names of the extended attributes of `path` (a final symlink is not followed). */
export function llistxattr(path: string): string[] {
  for (;;) {
    const size = check(c.llistxattr(path, null, 0), 'llistxattr', path);
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const rc = Number(c.llistxattr(path, buf, size));
    if (rc >= 0) {
      return buf
        .subarray(0, rc)
        .toString('utf8')
        .split('\0')
        .filter((n) => n !== '');
    }
    if (errno() !== 34 /* ERANGE */) throw new SyscallError('llistxattr', errno(), path);
  }
}

/** Remove an extended attribute of `path` (a final symlink is not followed). */
export function lremovexattr(path: string, name: string): void {
  check(c.lremovexattr(path, name), 'lremovexattr', path, name);
}

/** flock(fd, LOCK_EX | LOCK_NB): true when the lock was taken, false when another holds it. */
export function tryLockExclusive(fd: number, path?: string): boolean {
  if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  if (errno() === 11 /* EWOULDBLOCK */) return false;
  throw new SyscallError('flock', errno(), path);
}

/**
 * close(2) for an fd that a native call opened. Node's fs.closeSync works too, but in a worker thread
 * it warns about every fd it did not open itself.
 */
export function closeFd(fd: number): void {
  if (c.close(fd) !== 0) throw new SyscallError('close', errno());
}

/**
 * setgroups(2), setresgid(2), setresuid(2): glibc applies each to every thread of the process (its
 * setxid broadcast), so all of Node's threads change with the main thread.
 */
export function setgroups(gids: readonly number[]): void {
  check(c.setgroups(gids.length, Uint32Array.from(gids)), 'setgroups');
}

export function setresgid(rgid: number, egid: number, sgid: number): void {
  check(c.setresgid(rgid, egid, sgid), 'setresgid');
}

export function setresuid(ruid: number, euid: number, suid: number): void {
  check(c.setresuid(ruid, euid, suid), 'setresuid');
}
