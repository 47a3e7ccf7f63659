// The only file that declares libc's functions (libseccomp's, loaded only by the host: seccomp.ts).
// Prototypes are C strings, as in the man pages.
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
  linkat: libc.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
  fchownat: libc.func('int fchownat(int dirfd, const char *path, uint32_t owner, uint32_t group, int flags)'),
  fchmodat: libc.func('int fchmodat(int dirfd, const char *path, uint32_t mode, int flags)'),
  lsetxattr: libc.func(
    'int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)',
  ),
  lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
  llistxattr: libc.func('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
  lremovexattr: libc.func('int lremovexattr(const char *path, const char *name)'),
  prctl: libc.func('int prctl(int option, ...)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  syscall: libc.func('long syscall(long number, ...)'),
  utimensat: libc.func('int utimensat(int dirfd, const char *path, _In_ uint8_t *times, int flags)'),
  futimens: libc.func('int futimens(int fd, _In_ uint8_t *times)'),
  posix_spawn: libc.func(
    'int posix_spawn(_Out_ int32_t *pid, const char *path, void *actions, void *attr, const char **argv, const char **envp)',
  ),
  posix_spawn_file_actions_init: libc.func('int posix_spawn_file_actions_init(void *actions)'),
  posix_spawn_file_actions_destroy: libc.func('int posix_spawn_file_actions_destroy(void *actions)'),
  posix_spawn_file_actions_addopen: libc.func(
    'int posix_spawn_file_actions_addopen(void *actions, int fd, const char *path, int oflag, uint32_t mode)',
  ),
  posix_spawn_file_actions_adddup2: libc.func('int posix_spawn_file_actions_adddup2(void *actions, int fd, int newfd)'),
  posix_spawn_file_actions_addchdir_np: libc.func(
    'int posix_spawn_file_actions_addchdir_np(void *actions, const char *path)',
  ),
  posix_spawn_file_actions_addclosefrom_np: libc.func(
    'int posix_spawn_file_actions_addclosefrom_np(void *actions, int from)',
  ),
  posix_spawnattr_init: libc.func('int posix_spawnattr_init(void *attr)'),
  posix_spawnattr_destroy: libc.func('int posix_spawnattr_destroy(void *attr)'),
  posix_spawnattr_setflags: libc.func('int posix_spawnattr_setflags(void *attr, short flags)'),
  posix_spawnattr_setsigmask: libc.func('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  posix_spawnattr_setsigdefault: libc.func('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
  sigemptyset: libc.func('int sigemptyset(void *set)'),
  sigfillset: libc.func('int sigfillset(void *set)'),
  waitpid: libc.func('int waitpid(int pid, _Out_ int32_t *status, int options)'),
  flock: libc.func('int flock(int fd, int operation)'),
  close: libc.func('int close(int fd)'),
  setgroups: libc.func('int setgroups(size_t size, const uint32_t *list)'),
  setresgid: libc.func('int setresgid(uint32_t rgid, uint32_t egid, uint32_t sgid)'),
  setresuid: libc.func('int setresuid(uint32_t ruid, uint32_t euid, uint32_t suid)'),
  poll: libc.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)'),
  capset: libc.func('int capset(_In_ uint8_t *header, _In_ uint8_t *data)'),
};

/** errno of the last native call on this thread (positive, as koffi reports it). */
export const errno = (): number => koffi.errno();
