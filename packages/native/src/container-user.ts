// Looking a user up in the container's own /etc/passwd and /etc/group. The rootfs may be an overlay
// that exists only in the stage's mount namespace, so this runs in the stage, after the mounts, on
// the fd of the container's root: every path component is resolved inside it (in-root.ts), so a
// symlinked /etc/passwd never leads to the host's file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDONLY } from './constants.js';
import { fdPath, resolveInRoot } from './in-root.js';
import { hasCode } from './syscall-error.js';
import {
  type ExecUser,
  type GroupEntry,
  type PasswdEntry,
  parseGroup,
  parsePasswd,
  resolveUser,
  UserLookupError,
  type UserSpec,
} from './user.js';

/** More than any real passwd or group file; a bigger one is refused rather than read into memory. */
const MAX_FILE_SIZE = 16 * 1024 * 1024;

/**
 * The text of a regular file at `path` inside the root open as `rootFd`; undefined when it does not
 * exist. Anything but a regular file (a fifo would block the stage, a device could be anything) is
 * refused.
 */
export function readFileInRoot(rootFd: number, path: string): string | undefined {
  let resolved: ReturnType<typeof resolveInRoot>;
  try {
    resolved = resolveInRoot(rootFd, path);
  } catch (err) {
    if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return undefined;
    throw err;
  }
  let fd = -1;
  try {
    if (!fstatSync(resolved.fd).isFile()) {
      throw new UserLookupError(`${path} in the container is not a regular file`);
    }
    // Reopening the O_PATH fd opens that very inode, wherever it is.
    fd = openSync(fdPath(resolved.fd), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserLookupError(`${path} in the container is not a regular file`);
    if (st.size > MAX_FILE_SIZE) throw new UserLookupError(`${path} in the container is too big (${st.size} bytes)`);
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) throw new UserLookupError(`${path} in the container grew while it was read`);
    }
    return buf.toString('utf8', 0, n);
  } finally {
    if (fd >= 0) closeSync(fd);
    closeSync(resolved.fd);
  }
}

/** The passwd and group entries of the container (undefined for a missing file). */
export function containerAccounts(rootFd: number): { passwd?: PasswdEntry[]; group?: GroupEntry[] } {
  const passwd = readFileInRoot(rootFd, '/etc/passwd');
  const group = readFileInRoot(rootFd, '/etc/group');
  return {
    ...(passwd === undefined ? {} : { passwd: parsePasswd(passwd) }),
    ...(group === undefined ? {} : { group: parseGroup(group) }),
  };
}

/** Resolve `spec` against the container's /etc/passwd and /etc/group (podman's rules, user.ts). */
export function lookupContainerUser(rootFd: number, spec: UserSpec): ExecUser {
  const { passwd, group } = containerAccounts(rootFd);
  return resolveUser(spec, passwd, group);
}
