// Symlink-safe path resolution inside a root directory, by file descriptors.
//
// Every component is opened with O_PATH|O_NOFOLLOW relative to the fd of its parent. Symlinks are
// read and followed by hand with chroot rules: an absolute target restarts at the root, `..` never
// climbs above the root. Nothing is ever resolved by a path string that the rootfs could redirect,
// so a destination like `/tmp -> /etc` or `/x -> ../../..` stays inside the root.
import { fstatSync } from 'node:fs';
import {
  ELOOP,
  MAXSYMLINKS,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_WRONLY,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
} from './constants.js';
import { hasCode, SyscallError } from './syscall-error.js';
import { closeFd, fchmodat, mkdirat, openat, readlinkat } from './syscalls.js';

const ENOTDIR = 20;
const EEXIST = 17;

export interface CreateSpec {
  /** What to create when the final component is missing. Parents are always created as directories. */
  kind: 'dir' | 'file';
  /** Mode of the final component (parents get 0755). */
  mode?: number;
}

/** What a run created inside a rootfs for its mounts, and the times of the directories it created them in. */
export interface Stub {
  path: string;
  kind: 'dir' | 'file' | 'node' | 'symlink';
}

export interface ParentTimes {
  path: string;
  /** Nanoseconds since the epoch, as decimal strings (they cross a pipe as JSON). */
  atimeNs: string;
  mtimeNs: string;
}

/**
 * Records the stubs a run creates in its rootfs, so that they can be removed after it (stubs.ts).
 * Entries made on another filesystem (inside a tmpfs mounted on /dev, say) vanish with their mount
 * and are not recorded.
 */
export class StubLog {
  readonly stubs: Stub[] = [];
  private readonly parentTimes = new Map<string, ParentTimes>();

  /** `rootFd`: the rootfs directory; only entries on its filesystem are recorded. */
  constructor(private readonly rootDev?: bigint) {}

  static forRoot(rootFd: number): StubLog {
    return new StubLog(fstatSync(rootFd, { bigint: true }).dev);
  }

  private onRootfs(fd: number): { atimeNs: bigint; mtimeNs: bigint } | undefined {
    const st = fstatSync(fd, { bigint: true });
    return this.rootDev === undefined || st.dev === this.rootDev ? st : undefined;
  }

  /** Call before creating an entry in the directory open as `fd` at `path`. */
  noteParent(fd: number, path: string): void {
    if (this.parentTimes.has(path) || this.stubs.some((s) => s.path === path)) return;
    const st = this.onRootfs(fd);
    if (st) this.parentTimes.set(path, { path, atimeNs: String(st.atimeNs), mtimeNs: String(st.mtimeNs) });
  }

  /** Call after creating `path` in the directory open as `parentFd`. */
  add(parentFd: number, path: string, kind: Stub['kind']): void {
    if (this.onRootfs(parentFd)) this.stubs.push({ path, kind });
  }

  get parents(): ParentTimes[] {
    return [...this.parentTimes.values()];
  }
}

export interface Resolved {
  /** O_PATH fd of the resolved object; the caller closes it. */
  fd: number;
  /** Path of the object inside the root after following symlinks, e.g. `/etc/x` for `/tmp/x` with `/tmp -> /etc`. */
  path: string;
  /** Paths inside the root that were created (parents first). */
  created: string[];
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

const openPath = (dirfd: number, name: string) => openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

/**
 * Resolve `path` inside the directory open as `rootFd`, creating what is missing when `create` is given.
 * Returns an O_PATH fd that is safe to use as a mount target through `/proc/self/fd/<fd>`.
 */
export function resolveInRoot(rootFd: number, path: string, create?: CreateSpec, log?: StubLog): Resolved {
  const created: string[] = [];
  const stack: { fd: number; name: string }[] = [];
  const current = () => (stack.length ? stack[stack.length - 1].fd : rootFd);
  const here = () => `/${stack.map((s) => s.name).join('/')}`;
  const closeAll = () => {
    for (const s of stack.splice(0)) closeFd(s.fd);
  };
  const parts = splitPath(path);
  let links = 0;
  try {
    while (parts.length) {
      const name = parts.shift() as string;
      if (name === '..') {
        const top = stack.pop();
        if (top) closeFd(top.fd);
        continue;
      }
      const last = parts.length === 0;
      let fd: number;
      try {
        fd = openPath(current(), name);
      } catch (err) {
        if (!create || !hasCode(err, 'ENOENT')) throw err;
        const spec: CreateSpec = last ? create : { kind: 'dir' };
        log?.noteParent(current(), here());
        fd = createEntry(current(), name, spec);
        created.push(joinPath(here(), name));
        log?.add(current(), joinPath(here(), name), spec.kind);
      }
      const type = fstatSync(fd).mode & S_IFMT;
      if (type === S_IFLNK) {
        if (++links > MAXSYMLINKS) {
          closeFd(fd);
          throw new SyscallError('resolve', ELOOP, path);
        }
        const target = readlinkat(fd, '');
        closeFd(fd);
        if (target.startsWith('/')) closeAll();
        parts.unshift(...splitPath(target));
        continue;
      }
      if (!last && type !== S_IFDIR) {
        closeFd(fd);
        throw new SyscallError('resolve', ENOTDIR, joinPath(here(), name));
      }
      stack.push({ fd, name });
    }
    const resolvedPath = here();
    const top = stack.pop();
    closeAll();
    return { fd: top ? top.fd : openPath(rootFd, '.'), path: resolvedPath, created };
  } catch (err) {
    closeAll();
    throw err;
  }
}

/** Resolve the parent of `path` inside the root (creating it if asked) and return it with the final name. */
export function resolveParentInRoot(
  rootFd: number,
  path: string,
  createParents: boolean,
  log?: StubLog,
): Resolved & { name: string } {
  const parts = splitPath(path);
  const name = parts.pop();
  if (name === undefined || name === '..') throw new SyscallError('resolve', 22 /* EINVAL */, path);
  const parent = resolveInRoot(rootFd, `/${parts.join('/')}`, createParents ? { kind: 'dir' } : undefined, log);
  return { ...parent, name };
}

function createEntry(dirfd: number, name: string, spec: CreateSpec): number {
  try {
    if (spec.kind === 'dir') {
      // The mode exactly, whatever the umask (which a worker thread cannot change).
      mkdirat(dirfd, name, spec.mode ?? 0o755);
      fchmodat(dirfd, name, spec.mode ?? 0o755);
    } else {
      closeFd(openat(dirfd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_NOCTTY | O_CLOEXEC, spec.mode ?? 0o644));
    }
  } catch (err) {
    // Lost a race with someone creating the same name: use what is there now.
    if (!(err instanceof SyscallError && err.errno === -EEXIST)) throw err;
  }
  return openPath(dirfd, name);
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Path of an fd that the kernel accepts wherever a path is expected (mount targets and sources). */
export const fdPath = (fd: number): string => `/proc/self/fd/${fd}`;
