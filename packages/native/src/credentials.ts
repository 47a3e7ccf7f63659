// Running the command as a user other than root.
//
// How: the stage itself becomes the user (setgroups, setresgid, setresuid) right before it spawns
// the command, which inherits the ids. Why this way:
// - posix_spawn has no action that sets ids (POSIX_SPAWN_RESETIDS only resets the effective ids to
//   the real ones), and no JavaScript can run between its fork and exec.
// - child_process.spawn's uid/gid options would change ids in the child, but libuv drops every
//   supplementary group there, and the stage needs posix_spawn's setsid + controlling terminal,
//   closefrom and signal-default actions anyway.
// - A helper binary that changes ids and execs would have to be in every rootfs or be bound in from
//   the host, and it costs one more exec on every run.
// By the time the stage drops, everything privileged is done: mounts, pivot_root, and the chowns
// of the console, a created working directory and the stdio pipes. What the stage still does
// afterwards needs no privilege: it reads and writes fds it already holds (event pipe, pty master,
// stdio), waits for its own child, and signals the command, which runs with the same ids (kill(2)
// allows that); and it moves its thread back out of the run's cgroup through a cgroup fd opened as
// root before pivot_root: the kernel checks such a write against the credentials of whoever opened
// the fd (since the fix of CVE-2021-4197), so it works as the user too (e2e/limits.test.ts runs it
// with --user). The host side runs as root and can still signal the stage.
// glibc applies each of these calls to every thread of the process (its setxid broadcast), so no
// thread of Node keeps root. From uid 0 to a non-zero real, effective and saved uid, the kernel
// clears the permitted, effective and ambient capability sets (capabilities(7), "Effect of user ID
// changes on capabilities"): a non-root command starts with no capabilities, as with podman. The
// bounding set is the run's (confine.ts drops the rest first), so a set-user-ID-root program in the
// image gets at most the run's capabilities, as under podman.
// The kernel also clears the parent-death signal when the effective ids change: it is set again.
import { setgroups, setParentDeathSignal, setresgid, setresuid } from './syscalls.js';
import type { ExecUser } from './user.js';

/** Become `user` for good (all threads), keeping `parentDeathSignal` armed. */
export function becomeUser(user: ExecUser, parentDeathSignal: number): void {
  setgroups(user.groups);
  setresgid(user.gid, user.gid, user.gid);
  setresuid(user.uid, user.uid, user.uid);
  setParentDeathSignal(parentDeathSignal);
}
