// Confinement of the command: its capabilities, its seccomp filter, no_new_privs and its user, all
// applied in one place, confine(), by the stage right before it spawns the command.
//
// Order (runc's): the bounding set is dropped first (PR_CAPBSET_DROP needs CAP_SETPCAP); the seccomp
// filter is loaded while CAP_SYS_ADMIN is still held (the kernel then does not require
// no_new_privs); then the user ids (credentials.ts); then capset(2) leaves a root command exactly
// the plan's set (effective = permitted, inheritable empty) and the ambient set is cleared. With
// no-new-privileges, no_new_privs is set and the filter loaded last, so that the filter need not
// allow what comes after it.
//
// For a root command the bounding set is what counts: execve(2) gives uid 0 every capability of the
// bounding set (capabilities(7), "Capabilities and execution of programs by root"), so dropping it
// is what confines the command; capset(2) makes the stage's own last calls run with the same set.
// prctl(PR_CAPBSET_DROP), capset(2), prctl(PR_SET_SECCOMP) and no_new_privs act on the calling
// thread only: the stage's main thread, which posix_spawns the command. That is enough: the command
// inherits them from that thread, and the stage's other threads are Node's own (libuv, V8) and never
// run a command. The set-id calls of becomeUser are glibc's, which apply to every thread.
// After confine() the stage still relays its stdio or pty, waits for its child, kills it when told
// to, and exits: the default profile allows all of that (read, write, epoll, wait4, kill, exit_group),
// and so does any profile a command can run under. With a user's own profile (--security-opt
// seccomp=FILE) these few calls of the stage run under that profile too.
import { CAPABILITIES, type CapabilityName, capabilityNumber } from './capabilities.js';
import {
  LINUX_CAPABILITY_VERSION_3,
  PR_CAP_AMBIENT,
  PR_CAP_AMBIENT_CLEAR_ALL,
  PR_CAPBSET_DROP,
  PR_CAPBSET_READ,
  PR_SET_NO_NEW_PRIVS,
} from './constants.js';
import { becomeUser } from './credentials.js';
import type { SecurityPlan } from './stage/protocol.js';
import { hasCode } from './syscall-error.js';
import { capset, loadSeccompFilter, prctl, setParentDeathSignal } from './syscalls.js';
import type { ExecUser } from './user.js';

/** prctl(`option`, `cap`), or undefined when `cap` is beyond the kernel's last capability (EINVAL). */
function capabilityPrctl(option: number, cap: number): number | undefined {
  try {
    return prctl(option, cap);
  } catch (err) {
    if (hasCode(err, 'EINVAL')) return undefined;
    throw err;
  }
}

/**
 * Whether capability `cap` is in this thread's bounding set; undefined beyond the kernel's last one,
 * so no /proc/sys/kernel/cap_last_cap is needed after pivot_root.
 */
function inBoundingSet(cap: number): boolean | undefined {
  const rc = capabilityPrctl(PR_CAPBSET_READ, cap);
  return rc === undefined ? undefined : rc === 1;
}

/**
 * Drop from the bounding set every capability the kernel has but `keep` does not. Returns the
 * capabilities of `keep` the bounding set had: a host that runs without some (a container's own
 * root, a VM's restricted shell) cannot give them, as with podman's `--cap-add all`.
 */
function dropBoundingSet(keep: Set<number>, keepUnknown: boolean): Set<number> {
  const kept = new Set<number>();
  for (let cap = 0; ; cap++) {
    if (keep.has(cap) || (keepUnknown && cap >= CAPABILITIES.length)) {
      const had = inBoundingSet(cap);
      if (had === undefined) return kept;
      if (had) kept.add(cap);
      continue;
    }
    // Dropping one the set lacks does no harm: one call, not a read and a drop.
    if (capabilityPrctl(PR_CAPBSET_DROP, cap) === undefined) return kept; // past the kernel's last capability
  }
}

/** capset(2): effective = permitted = `keep`, inheritable empty. */
function setCapabilities(keep: Set<number>): void {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  const data = Buffer.alloc(24);
  for (const cap of keep) {
    const at = cap < 32 ? 0 : 12;
    const bit = (1 << (cap % 32)) >>> 0;
    data.writeUInt32LE((data.readUInt32LE(at) | bit) >>> 0, at); // effective
    data.writeUInt32LE((data.readUInt32LE(at + 4) | bit) >>> 0, at + 4); // permitted
  }
  capset(header, data);
}

/**
 * Confine the calling thread for the command it spawns next: bounding set, seccomp filter, `user`
 * (absent: root with the stage's groups), capabilities, ambient set, no_new_privs. `parentDeathSignal`
 * is armed again at the end (a change of ids clears it).
 */
export function confine(security: SecurityPlan, user: ExecUser | undefined, parentDeathSignal: number): void {
  const keep = new Set(security.capabilities.map((name) => capabilityNumber(name as CapabilityName)));
  if (keep.has(-1)) throw new Error(`unknown capability in the plan: ${security.capabilities.join(', ')}`);
  const privileged = security.privileged === true;
  let bpf: Buffer | undefined;
  if (security.seccomp) {
    if (security.seccomp.bpf === undefined)
      throw new Error(`seccomp profile ${security.seccomp.profile} was not compiled for this run`);
    bpf = Buffer.from(security.seccomp.bpf, 'base64');
  }
  const kept = dropBoundingSet(keep, privileged);
  if (bpf && !security.noNewPrivileges) loadSeccompFilter(bpf);
  if (user) becomeUser(user, parentDeathSignal);
  // A non-root user lost its effective and permitted sets with its uid (credentials.ts): this
  // clears the inheritable set; root keeps exactly the plan's set (all of them when privileged).
  const root = user === undefined || user.uid === 0;
  if (!(root && privileged)) setCapabilities(root ? kept : new Set());
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (security.noNewPrivileges) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (bpf) loadSeccompFilter(bpf);
  }
  setParentDeathSignal(parentDeathSignal);
}
