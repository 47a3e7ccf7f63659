// The cgroup driver: a run's resource limits (pids, memory, cpu) through cgroup v2 where the machine
// has it, v1 where it has not. One interface, both versions; synchronous fs calls only (the stage uses
// its part after unshare). Pure: no koffi.
//
// Where a run's cgroup lives: `<parent>/builder/<pidns>-<pid>-<id>` in each hierarchy a limit needs, where
// `<parent>` is builder's own cgroup of that hierarchy (/proc/self/cgroup), so that the limits of
// whatever runs builder (a CI job's cgroup) still hold over the run. v2 forbids processes in a cgroup
// whose controllers are enabled for its children (the root excepted), and builder's own cgroup has
// processes (builder): there the parent is the nearest of builder's cgroup and its ancestors that
// already enables the controllers for its children, or the root.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeSync,
} from 'node:fs';
import { parseMountInfo } from './mountinfo.js';

/** The controllers builder's limits use. */
export type Controller = 'pids' | 'memory' | 'cpu' | 'devices';

/**
 * The devices a run may open (runc's default allow-list, the one podman 4.3 with runc applies), as
 * cgroup v1 `devices.allow` lines written after `devices.deny` `a`: mknod of any node (`m`: CAP_MKNOD
 * is still needed), and read, write and mknod of the null, zero, full, random and urandom devices,
 * /dev/tty, /dev/ptmx, the ptys (/dev/pts/*, major 136) and /dev/net/tun. Every other device node
 * (a host disk in a bound /dev) cannot be opened: EPERM.
 */
export const DEFAULT_DEVICE_RULES: readonly string[] = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:8 rwm',
  'c 1:7 rwm',
  'c 5:0 rwm',
  'c 1:5 rwm',
  'c 1:9 rwm',
  'c 136:* rwm',
  'c 5:2 rwm',
  'c 10:200 rwm',
];

/** What a run's cgroup limits, as engine.plan() shows it. Absent fields are not limited. */
export interface RunLimits {
  /** pids.max: the most processes and threads the run may have at once. */
  pids?: number;
  /** True when `pids` is the default (not asked for): dropped, with a debug line, where the machine has no pids controller. */
  pidsDefault?: boolean;
  /** Bytes of memory (v1 memory.limit_in_bytes, v2 memory.max). */
  memory?: number;
  /** Bytes of memory plus swap, twice `memory` as podman (v1 memory.memsw.limit_in_bytes where present, v2 memory.swap.max = the difference). */
  memorySwap?: number;
  /** CPU time the run may use per `cpuPeriod`, in µs (v1 cpu.cfs_quota_us, v2 cpu.max). */
  cpuQuota?: number;
  /** The CFS period in µs (100000). */
  cpuPeriod?: number;
  /**
   * The devices the run may use: every device denied, then these allowed (v1 `devices.deny` `a`, then
   * each line to `devices.allow`; DEFAULT_DEVICE_RULES). Absent (--privileged): every device. On cgroup
   * v2, an eBPF program the stage attaches to the run's cgroup does the same (device-filter.ts).
   */
  devices?: string[];
}

/** The run's cgroup as the stage needs it: one entry per hierarchy (v1), or one (v2). */
export interface CgroupPlan {
  version: 1 | 2;
  hierarchies: CgroupHierarchyPlan[];
}

export interface CgroupHierarchyPlan {
  /** The hierarchy's mount point. */
  mount: string;
  /** v1: the controller this hierarchy is used for (as /proc/self/cgroup lists it); v2: ''. */
  controller: Controller | '';
  /** The run's cgroup directory. */
  dir: string;
}

/** Where the machine's cgroup filesystems live. */
const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT_NAME = 'builder';

/** The controllers `limits` needs. */
function neededControllers(limits: RunLimits): Controller[] {
  const needed: Controller[] = [];
  if (limits.pids !== undefined) needed.push('pids');
  if (limits.memory !== undefined) needed.push('memory');
  if (limits.cpuQuota !== undefined) needed.push('cpu');
  if (limits.devices !== undefined) needed.push('devices');
  return needed;
}

/** The machine's cgroups as builder uses them. */
export interface CgroupSystem {
  version: 1 | 2;
  /** Each available controller's hierarchy mount point (v2: the one mount for all). */
  mounts: Partial<Record<Controller, string>>;
}

const CONTROLLERS: readonly Controller[] = ['pids', 'memory', 'cpu', 'devices'];

/**
 * v2 when `root` is a cgroup2 mount (its cgroup.controllers exists: most distributions today), else
 * v1: each controller's hierarchy where systemd and most distributions mount it, `root`/NAME with NAME
 * as /proc/self/cgroup names the hierarchy (`pids`, `cpu,cpuacct`), else as /proc/self/mountinfo
 * finds it. (A hybrid machine's empty v2 at `root`/unified has no controllers to offer.) A wrong guess
 * cannot go unnoticed: the limit files exist only in their controller's hierarchy.
 */
export function detectCgroups(root = CGROUP_ROOT, mountinfo?: string, cgroups?: string): CgroupSystem {
  if (existsSync(`${root}/cgroup.controllers`)) {
    const available = readFileSync(`${root}/cgroup.controllers`, 'utf8').trim().split(/\s+/);
    // v2 lists no `devices`: its device control is an eBPF program on the cgroup (device-filter.ts).
    const mounts: CgroupSystem['mounts'] = { devices: root };
    for (const c of CONTROLLERS) if (available.includes(c)) mounts[c] = root;
    return { version: 2, mounts };
  }
  const mounts: CgroupSystem['mounts'] = {};
  const own = cgroups ?? readProc('/proc/self/cgroup');
  for (const line of own.split('\n')) {
    const hierarchy = line.split(':')[1];
    if (!hierarchy) continue;
    for (const c of CONTROLLERS)
      if (hierarchy.split(',').includes(c) && existsSync(`${root}/${hierarchy}/cgroup.procs`))
        mounts[c] = `${root}/${hierarchy}`;
  }
  if (CONTROLLERS.every((c) => mounts[c] !== undefined)) return { version: 1, mounts };
  // Only the cgroup lines are parsed (a whole parse costs ~0.4 ms cold).
  for (const line of (mountinfo ?? readProc('/proc/self/mountinfo')).split('\n')) {
    if (!line.includes(' - cgroup ')) continue;
    const [m] = parseMountInfo(line);
    for (const c of CONTROLLERS) if (m.superOptions.includes(c) && mounts[c] === undefined) mounts[c] = m.mountPoint;
  }
  return { version: 1, mounts };
}

function readProc(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** This process's cgroup path in the hierarchy of `controller` (v1) or in v2 (''), from /proc/self/cgroup. */
export function ownCgroup(controller: Controller | '', text = readFileSync('/proc/self/cgroup', 'utf8')): string {
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const field = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controller === '' ? line.startsWith('0::') : field.split(',').includes(controller)) return path;
  }
  throw new Error(`no ${controller || 'cgroup v2'} entry in /proc/self/cgroup`);
}

/** A controller the machine does not offer (or not here), named for the error message. */
export class MissingControllerError extends Error {
  constructor(
    readonly controller: Controller,
    message: string,
  ) {
    super(message);
  }
}

/** The limit files of one controller, in writing order: [file, value]. */
function limitFiles(version: 1 | 2, controller: Controller, limits: RunLimits, dir: string): [string, string][] {
  switch (controller) {
    case 'pids':
      return [['pids.max', String(limits.pids)]];
    case 'memory': {
      const mem = limits.memory as number;
      const swap = limits.memorySwap ?? mem;
      if (version === 2)
        return [
          ['memory.max', String(mem)],
          ...(existsSync(`${dir}/memory.swap.max`)
            ? [['memory.swap.max', String(swap - mem)] as [string, string]]
            : []),
        ];
      return [
        ['memory.limit_in_bytes', String(mem)],
        ...(existsSync(`${dir}/memory.memsw.limit_in_bytes`)
          ? [['memory.memsw.limit_in_bytes', String(swap)] as [string, string]]
          : []),
      ];
    }
    case 'devices':
      // v2: an eBPF program instead, which the stage attaches (device-filter.ts).
      if (version === 2) return [];
      // One rule a write (the kernel takes one per write); deny everything first, then allow.
      return [
        ['devices.deny', 'a'],
        ...(limits.devices ?? []).map((rule): [string, string] => ['devices.allow', rule]),
      ];
    case 'cpu':
      return version === 2
        ? [['cpu.max', `${limits.cpuQuota} ${limits.cpuPeriod}`]]
        : [
            ['cpu.cfs_period_us', String(limits.cpuPeriod)],
            ['cpu.cfs_quota_us', String(limits.cpuQuota)],
          ];
  }
}

function writeFile(path: string, value: string): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, value);
  } finally {
    closeSync(fd);
  }
}

/** The inode of this process's PID namespace: pids are only comparable within one. */
function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

/**
 * The name of a run's cgroup: the PID namespace and pid of the process that made it (to tell a stale
 * one), and an id.
 */
export const runCgroupName = (id: string, pid = process.pid): string => `${pidNamespace()}-${pid}-${id}`;

/** True while process `pid` exists (as far as this PID namespace can tell). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Remove the run cgroups under `parent` whose maker has died (a `kill -9` of builder): rmdir only
 * removes an empty cgroup, so one that still holds processes stays. Returns the removed directories.
 */
function removeStaleCgroups(parent: string): string[] {
  let entries: string[];
  try {
    // (existsSync first: a thrown ENOENT costs more than the whole check, in every run)
    entries = existsSync(parent) ? readdirSync(parent) : [];
  } catch {
    return [];
  }
  const removed: string[] = [];
  const ns = pidNamespace();
  for (const name of entries) {
    // Another PID namespace's pids cannot be checked from here: its cgroups are its builder's business.
    const m = /^(\d+)-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || m[1] !== ns || processExists(Number(m[2]))) continue;
    try {
      rmdirSync(`${parent}/${name}`);
      removed.push(`${parent}/${name}`);
    } catch {
      // still has processes, or removed by someone else meanwhile
    }
  }
  return removed;
}

/** The directory in which v2 run cgroups go: see the top of this file. */
function v2Parent(root: string, controllers: Controller[], own: string): string {
  const needed = v2Controllers(controllers);
  let path = ownCgroup('', own);
  for (;;) {
    const dir = `${root}${path === '/' ? '' : path}`;
    if (path === '/') return dir;
    const enabled = readFileSync(`${dir}/cgroup.subtree_control`, 'utf8').trim().split(/\s+/);
    if (needed.every((c) => enabled.includes(c))) return dir;
    path = path.slice(0, path.lastIndexOf('/')) || '/';
  }
}

export interface CreatedCgroup {
  plan: CgroupPlan;
  /** The `builder` directories where a killed builder may have left run cgroups (removeStaleRunCgroups). */
  staleParents: string[];
  limits: RunLimits;
  controllers: Controller[];
}

/**
 * Where the run's cgroup goes, in every hierarchy `controllers` need (nothing is made yet: see
 * makeRunCgroup). Throws MissingControllerError when the machine has no such controller.
 * `controllers`: normally neededControllers(limits); v2 only also takes none (a bare cgroup).
 */
export function planRunCgroup(
  limits: RunLimits,
  name: string,
  system?: CgroupSystem,
  controllers: Controller[] = neededControllers(limits),
  root = CGROUP_ROOT,
): CreatedCgroup {
  const ownText = readFileSync('/proc/self/cgroup', 'utf8');
  const sys = system ?? detectCgroups(root, undefined, ownText);
  for (const c of controllers)
    if (sys.mounts[c] === undefined)
      throw new MissingControllerError(
        c,
        `the ${c} controller is not available (cgroup v${sys.version}${sys.version === 2 ? `: not in ${root}/cgroup.controllers` : ': no cgroup hierarchy with it is mounted'})`,
      );
  const hierarchies: CgroupHierarchyPlan[] =
    sys.version === 2
      ? [{ mount: root, controller: '', dir: `${v2Parent(root, controllers, ownText)}/${PARENT_NAME}/${name}` }]
      : controllers.map((c) => {
          const mount = sys.mounts[c] as string;
          const own = ownCgroup(c, ownText);
          return { mount, controller: c, dir: `${mount}${own === '/' ? '' : own}/${PARENT_NAME}/${name}` };
        });
  const plan: CgroupPlan = { version: sys.version, hierarchies };
  const parents = new Set(hierarchies.map((h) => h.dir.slice(0, h.dir.lastIndexOf('/'))));
  // A killed builder's leftovers, also in the hierarchies this run does not need.
  if (sys.version === 1)
    for (const mount of new Set(Object.values(sys.mounts)))
      for (const c of CONTROLLERS)
        if (sys.mounts[c] === mount) {
          const own = ownCgroup(c, ownText);
          parents.add(`${mount}${own === '/' ? '' : own}/${PARENT_NAME}`);
          break;
        }
  return { plan, staleParents: [...parents], limits, controllers };
}

/** The v2 controllers to enable (`devices` is no controller there: an eBPF program instead). */
const v2Controllers = (controllers: Controller[]): Controller[] => controllers.filter((c) => c !== 'devices');

/**
 * Make the planned cgroup and write the limits into it (on v2, the device rules are an eBPF program
 * the stage attaches: device-filter.ts). Anything that fails (no permission, a read-only cgroupfs)
 * throws the fs error, and nothing is left behind.
 */
export function makeRunCgroup(created: CreatedCgroup): void {
  const { plan, limits, controllers } = created;
  try {
    for (const h of plan.hierarchies) {
      const parent = h.dir.slice(0, h.dir.lastIndexOf('/'));
      makeRunDir(parent, h.dir, plan.version === 2 ? v2Controllers(controllers) : []);
      for (const c of plan.version === 2 ? controllers : [h.controller as Controller])
        for (const [file, value] of limitFiles(plan.version, c, limits, h.dir)) writeFile(`${h.dir}/${file}`, value);
    }
  } catch (err) {
    removeRunCgroup(plan);
    throw err;
  }
}

/**
 * Remove the run cgroups a killed builder left (removeStaleCgroups) beside `created`'s, and a
 * `builder` directory emptied so. The runner calls it once the plan is on its way, while the stage
 * works. Returns the removed directories.
 */
export function removeStaleRunCgroups(created: CreatedCgroup): string[] {
  const removed: string[] = [];
  for (const parent of created.staleParents) {
    const gone = removeStaleCgroups(parent);
    removed.push(...gone);
    if (gone.length && !created.plan.hierarchies.some((h) => h.dir.startsWith(`${parent}/`))) rmdirQuietly(parent);
  }
  return removed;
}

/**
 * mkdir the `builder` parent (v2: with the controllers enabled for its children) and the run's
 * directory. Another run may remove an empty parent meanwhile (removeRunCgroup): then again.
 */
function makeRunDir(parent: string, dir: string, v2Controllers: Controller[]): void {
  for (let attempt = 0; ; attempt++) {
    try {
      if (!existsSync(parent)) mkdirSync(parent, { recursive: true });
      if (v2Controllers.length) {
        // The grandparent must enable them for `builder` (the root: builder may enable them itself).
        const grand = parent.slice(0, parent.lastIndexOf('/'));
        const enabled = readFileSync(`${grand}/cgroup.subtree_control`, 'utf8').trim().split(/\s+/);
        const missing = v2Controllers.filter((c) => !enabled.includes(c));
        if (missing.length) writeFile(`${grand}/cgroup.subtree_control`, missing.map((c) => `+${c}`).join(' '));
        writeFile(`${parent}/cgroup.subtree_control`, v2Controllers.map((c) => `+${c}`).join(' '));
      }
      mkdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 10) throw err;
    }
  }
}

/**
 * rmdir the run's cgroup in every hierarchy, then its `builder` parent when no other run uses it.
 * Returns the directories that could not be removed yet (EBUSY: processes still being reaped).
 */
export function removeRunCgroup(plan: CgroupPlan): string[] {
  const left: string[] = [];
  for (const h of plan.hierarchies) {
    try {
      rmdirSync(h.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') {
        left.push(h.dir);
        continue;
      }
    }
    rmdirQuietly(h.dir.slice(0, h.dir.lastIndexOf('/')));
  }
  return left;
}

/** rmdir a `builder` parent unless another run's cgroup is in it (or it is gone already). */
function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or gone
  }
}

// ---- The stage's side: opened before pivot_root, written around the spawn. ----

/** The files through which the stage moves into the run's cgroup and back out. */
export interface CgroupFds {
  /** The run's cgroups. */
  join: number[];
  /** The cgroups the stage was in. */
  leave: number[];
  /**
   * What to write: v1 `0`, the calling thread only (the one that spawns; the kernel then needs no
   * lock of every thread group, whose RCU grace period cost ~10 ms a run); v2 the whole process.
   */
  id: string;
}

/**
 * Open the run's cgroup membership files and those of the stage's own cgroups (from
 * /proc/self/cgroup): v1 `tasks` (one thread), v2 `cgroup.procs` (the process). Call before pivot_root.
 */
export function openCgroupFds(plan: CgroupPlan): CgroupFds {
  const file = plan.version === 1 ? 'tasks' : 'cgroup.procs';
  const own = readFileSync('/proc/self/cgroup', 'utf8');
  const fds: CgroupFds = { join: [], leave: [], id: plan.version === 1 ? '0' : String(process.pid) };
  try {
    for (const h of plan.hierarchies) {
      const home = ownCgroup(h.controller, own);
      fds.leave.push(openSync(`${h.mount}${home === '/' ? '' : home}/${file}`, 'w'));
      fds.join.push(openSync(`${h.dir}/${file}`, 'w'));
    }
  } catch (err) {
    closeCgroupFds(fds);
    throw err;
  }
  return fds;
}

/** Move into the run's cgroups: whatever is spawned next is born inside. */
export function joinCgroup(fds: CgroupFds): void {
  for (const fd of fds.join) writeSync(fd, fds.id);
}

/** Move back to the stage's own cgroups (the stage is never limited; the OOM killer picks the command). */
export function leaveCgroup(fds: CgroupFds): void {
  for (const fd of fds.leave) writeSync(fd, fds.id);
  closeCgroupFds(fds);
}

function closeCgroupFds(fds: CgroupFds): void {
  for (const fd of [...fds.join, ...fds.leave]) closeSync(fd);
  fds.join = [];
  fds.leave = [];
}
