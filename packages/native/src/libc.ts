// The only file that declares native functions. Prototypes are C strings, as in the man pages.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');

export const c = {
  unshare: libc.func('int unshare(int flags)'),
  mount: libc.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: libc.func('int umount2(const char *target, int flags)'),
  pivot_root: libc.func('int pivot_root(const char *new_root, const char *put_old)'),
  sethostname: libc.func('int sethostname(const char *name, size_t len)'),
  openat: libc.func('int openat(int dirfd, const char *path, int flags, ...)'),
  mkdirat: libc.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  mknodat: libc.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
  symlinkat: libc.func('int symlinkat(const char *target, int dirfd, const char *linkpath)'),
  readlinkat: libc.func('long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)'),
  unlinkat: libc.func('int unlinkat(int dirfd, const char *path, int flags)'),
  prctl: libc.func('int prctl(int option, ...)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
  syscall: libc.func('long syscall(long number, ...)'),
  utimensat: libc.func('int utimensat(int dirfd, const char *path, _In_ uint8_t *times, int flags)'),
  poll: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
};

/** errno of the last native call on this thread (positive, as koffi reports it). */
export const errno = (): number => koffi.errno();
