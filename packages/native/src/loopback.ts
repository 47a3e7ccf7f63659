// The loopback interface of a new network namespace starts down: the stage brings it up, as
// podman and bubblewrap do, so that a `--network none` run still has 127.0.0.1 and ::1.
// Synchronous koffi calls only (it runs in the stage right after unshare).
import {
  AF_INET,
  IFF_UP,
  IFNAMSIZ,
  SIOCGIFFLAGS,
  SIOCSIFFLAGS,
  SIZEOF_IFREQ,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
} from './constants.js';
import { c, errno } from './libc.js';
import { SyscallError } from './syscall-error.js';

/** Set IFF_UP on `lo` of the calling thread's network namespace (SIOCGIFFLAGS, then SIOCSIFFLAGS). */
export function bringLoopbackUp(): void {
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new SyscallError('socket', errno());
  try {
    const ifreq = Buffer.alloc(SIZEOF_IFREQ);
    ifreq.write('lo', 0, IFNAMSIZ - 1, 'latin1');
    if (c.ioctl(fd, SIOCGIFFLAGS, 'void *', ifreq) < 0) throw new SyscallError('ioctl(SIOCGIFFLAGS)', errno(), 'lo');
    ifreq.writeInt16LE(ifreq.readInt16LE(IFNAMSIZ) | IFF_UP, IFNAMSIZ);
    if (c.ioctl(fd, SIOCSIFFLAGS, 'void *', ifreq) < 0) throw new SyscallError('ioctl(SIOCSIFFLAGS)', errno(), 'lo');
  } finally {
    c.close(fd);
  }
}
