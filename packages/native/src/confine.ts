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
import koffi from 'koffi';
import { CAPABILITIES, type CapabilityName, capabilityNumber } from './capabilities.js';
import { becomeUser } from './credentials.js';
import { c, errno } from './libc.js';
import type { SecurityPlan } from './stage/protocol.js';
import { SyscallError } from './syscall-error.js';
import { setParentDeathSignal } from './syscalls.js';
import type { ExecUser } from './user.js';

const PR_SET_SECCOMP = 22;
const PR_CAPBSET_READ = 23;
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;
const SECCOMP_MODE_FILTER = 2;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
const EINVAL = 22;
/** One classic BPF instruction: u16 code, u8 jt, u8 jf, u32 k. */
const BPF_INSN = 8;

const SockFprog = koffi.struct('builder_sock_fprog', { len: 'uint16_t', filter: 'void *' });

function prctl(option: number, ...args: number[]): number {
  const rest = args.flatMap((a) => ['unsigned long', a]);
  const rc = c.prctl(option, ...rest);
  if (rc < 0) throw new SyscallError('prctl', errno());
  return rc;
}

/**
 * Whether capability `cap` is in this thread's bounding set; undefined beyond the kernel's last one
 * (PR_CAPBSET_READ: EINVAL), so no /proc/sys/kernel/cap_last_cap is needed after pivot_root.
 */
function inBoundingSet(cap: number): boolean | undefined {
  const rc = c.prctl(PR_CAPBSET_READ, 'unsigned long', cap);
  if (rc >= 0) return rc === 1;
  if (errno() === EINVAL) return undefined;
  throw new SyscallError('prctl', errno());
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
    const rc = c.prctl(PR_CAPBSET_DROP, 'unsigned long', cap);
    if (rc < 0 && errno() === EINVAL) return kept; // past the kernel's last capability
    if (rc < 0) throw new SyscallError('prctl', errno());
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
  if (c.capset(header, data) < 0) throw new SyscallError('capset', errno());
}

function loadSeccomp(bpf: Buffer): void {
  if (bpf.length === 0 || bpf.length % BPF_INSN !== 0) throw new Error('seccomp: the compiled filter is malformed');
  const rc = c.prctl(PR_SET_SECCOMP, 'unsigned long', SECCOMP_MODE_FILTER, koffi.pointer(SockFprog), {
    len: bpf.length / BPF_INSN,
    filter: bpf,
  });
  if (rc < 0) throw new SyscallError('prctl', errno());
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
  if (bpf && !security.noNewPrivileges) loadSeccomp(bpf);
  if (user) becomeUser(user, parentDeathSignal);
  // A non-root user lost its effective and permitted sets with its uid (credentials.ts): this
  // clears the inheritable set; root keeps exactly the plan's set (all of them when privileged).
  const root = user === undefined || user.uid === 0;
  if (!(root && privileged)) setCapabilities(root ? kept : new Set());
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (security.noNewPrivileges) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (bpf) loadSeccomp(bpf);
  }
  setParentDeathSignal(parentDeathSignal);
}
