// Starting the command with glibc's posix_spawn (vfork-based: no JavaScript runs in the child, so it
// is safe from Node's threads). In the child, before exec: signal mask emptied and every signal back
// to its default action (Node ignores SIGPIPE, for one), every fd above 2 closed (nothing of the host
// leaks in), the working directory set; with a terminal, a new session whose controlling terminal is
// the pty slave, which becomes stdin, stdout and stderr.
import { statSync } from 'node:fs';
import { O_RDWR, POSIX_SPAWN_SETSID, POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK, WNOHANG } from './constants.js';
import { c, errno } from './libc.js';
import { SyscallError } from './syscall-error.js';

export interface CommandSpec {
  /** argv[0] is looked up in the PATH of `env` when it has no slash, as execvp would. */
  argv: string[];
  /** `KEY=VALUE` strings. */
  env: string[];
  cwd: string;
  /** Path (inside the container) of a terminal to make the command's controlling terminal and stdio. */
  terminal?: string;
}

/** Where execvp would find `file` with this PATH; throws ENOENT (none) or EACCES (only non-executables). */
export function lookPath(file: string, env: string[]): string {
  if (file.includes('/')) return file;
  const path = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
  let denied = false;
  for (const dir of path.split(':')) {
    const candidate = `${dir || '.'}/${file}`;
    try {
      const st = statSync(candidate);
      if (st.isFile() && st.mode & 0o111) return candidate;
      if (st.isFile()) denied = true;
    } catch {
      // not in this directory
    }
  }
  throw new SyscallError('exec', denied ? 13 /* EACCES */ : 2 /* ENOENT */, file);
}

function checked(rc: number, what: string): void {
  if (rc !== 0) throw new SyscallError(what, rc);
}

/** Spawn the command; returns its pid. Throws SyscallError (ENOENT, EACCES, ENOEXEC …) when exec fails. */
export function spawnCommand(spec: CommandSpec): number {
  const file = lookPath(spec.argv[0], spec.env);
  const actions = Buffer.alloc(256);
  const attr = Buffer.alloc(512);
  const sigset = Buffer.alloc(128);
  checked(c.posix_spawn_file_actions_init(actions), 'posix_spawn_file_actions_init');
  checked(c.posix_spawnattr_init(attr), 'posix_spawnattr_init');
  try {
    let flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    c.sigemptyset(sigset);
    checked(c.posix_spawnattr_setsigmask(attr, sigset), 'posix_spawnattr_setsigmask');
    c.sigfillset(sigset);
    checked(c.posix_spawnattr_setsigdefault(attr, sigset), 'posix_spawnattr_setsigdefault');
    if (spec.terminal) {
      // After setsid, opening a tty without O_NOCTTY makes it the session's controlling terminal.
      flags |= POSIX_SPAWN_SETSID;
      checked(c.posix_spawn_file_actions_addopen(actions, 0, spec.terminal, O_RDWR, 0), 'addopen');
      checked(c.posix_spawn_file_actions_adddup2(actions, 0, 1), 'adddup2');
      checked(c.posix_spawn_file_actions_adddup2(actions, 0, 2), 'adddup2');
    } else {
      // Node opens its stdio close-on-exec; dup2 of an fd onto itself clears that (glibc ≥ 2.29).
      for (const fd of [0, 1, 2]) checked(c.posix_spawn_file_actions_adddup2(actions, fd, fd), 'adddup2');
    }
    checked(c.posix_spawn_file_actions_addclosefrom_np(actions, 3), 'addclosefrom');
    checked(c.posix_spawn_file_actions_addchdir_np(actions, spec.cwd), 'addchdir');
    checked(c.posix_spawnattr_setflags(attr, flags), 'posix_spawnattr_setflags');
    const pid = new Int32Array(1);
    const rc = c.posix_spawn(pid, file, actions, attr, [...spec.argv, null], [...spec.env, null]);
    if (rc !== 0) throw new SyscallError('exec', rc, spec.argv[0]);
    return pid[0];
  } finally {
    c.posix_spawn_file_actions_destroy(actions);
    c.posix_spawnattr_destroy(attr);
  }
}

export type WaitStatus = { code: number; signal: null } | { code: null; signal: number };

/** waitpid(pid, WNOHANG): the status when the process has ended, undefined while it runs. */
export function reap(pid: number): WaitStatus | undefined {
  const status = new Int32Array(1);
  const rc = c.waitpid(pid, status, WNOHANG);
  if (rc === 0) return undefined;
  if (rc < 0) throw new SyscallError('waitpid', errno());
  const s = status[0];
  const sig = s & 0x7f;
  return sig === 0 ? { code: (s >> 8) & 0xff, signal: null } : { code: null, signal: sig };
}
