// Pseudo-terminals for `--terminal`, from the container's own devpts instance.
import { closeSync, openSync } from 'node:fs';
import { O_CLOEXEC, O_NOCTTY, O_RDWR, TIOCGPTPEER, TIOCGWINSZ, TIOCSPTLCK, TIOCSWINSZ } from './constants.js';
import { fdPath, resolveInRoot } from './in-root.js';
import { c, errno } from './libc.js';
import { SyscallError } from './syscall-error.js';

function ioctl(fd: number, request: number, arg: Buffer, what: string): void {
  if (c.ioctl(fd, request, 'void *', arg) < 0) throw new SyscallError(what, errno());
}

/**
 * A new pty pair from the rootfs's /dev/ptmx (resolved inside the root, so it is the container's
 * devpts). The slave is taken from the master with TIOCGPTPEER, never looked up by name.
 */
export function openPty(rootFd: number): { master: number; slave: number } {
  const ptmx = resolveInRoot(rootFd, '/dev/ptmx');
  let master: number;
  try {
    master = openSync(fdPath(ptmx.fd), O_RDWR | O_NOCTTY | O_CLOEXEC);
  } finally {
    closeSync(ptmx.fd);
  }
  try {
    ioctl(master, TIOCSPTLCK, Buffer.alloc(4), 'ioctl(TIOCSPTLCK)');
    const slave = c.ioctl(master, TIOCGPTPEER, 'unsigned long', O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) throw new SyscallError('ioctl(TIOCGPTPEER)', errno());
    return { master, slave };
  } catch (err) {
    closeSync(master);
    throw err;
  }
}

/** Give the terminal `to` the window size of the terminal `from`; false when `from` is no terminal. */
export function copyWindowSize(from: number, to: number): boolean {
  const size = Buffer.alloc(8);
  if (c.ioctl(from, TIOCGWINSZ, 'void *', size) < 0) return false;
  ioctl(to, TIOCSWINSZ, size, 'ioctl(TIOCSWINSZ)');
  return true;
}
