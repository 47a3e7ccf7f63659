// The cgroup driver against the machine's real cgroups (root): which version it picks, where the run's
// cgroup goes, the limit files it writes, the stage's join and leave, stale cgroups, removal. This
// machine has cgroup v1 controllers and an empty cgroup v2 hierarchy at /sys/fs/cgroup/unified: v1 is
// exercised with its controllers; v2's paths, join and leave are exercised on the empty hierarchy
// (without controllers: its limit files and subtree_control writes are not exercised here).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Controller,
  detectCgroups,
  joinCgroup,
  leaveCgroup,
  MissingControllerError,
  makeRunCgroup,
  openCgroupFds,
  planRunCgroup,
  removeRunCgroup,
  removeStaleRunCgroups,
  runCgroupName,
} from '@builder/native/pure';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTools, tool } from '../../../test/helpers/tools.js';

/** planRunCgroup, then makeRunCgroup, as the runner does them. */
const createRunCgroup = (...args: Parameters<typeof planRunCgroup>) => {
  const created = planRunCgroup(...args);
  makeRunCgroup(created);
  return created;
};

const UNIFIED = '/sys/fs/cgroup/unified';
const CONTROLLERS: Controller[] = ['pids', 'memory', 'cpu'];
const mounts = {} as Record<Controller, string>;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the cgroup driver test needs root');
  requireTools('findmnt', 'stat');
  for (const c of CONTROLLERS) mounts[c] = tool('findmnt', ['-n', '-o', 'TARGET', '-t', 'cgroup', '-O', c]).trim();
});

const fsType = (path: string): string => tool('stat', ['-f', '-c', '%T', path]).trim();

/** The cgroup of thread `tid` of this process in the hierarchy of `c` ('' for v2), as the kernel says. */
function threadCgroup(tid: number, c: Controller | ''): string {
  const lines = readFileSync(`/proc/self/task/${tid}/cgroup`, 'utf8').split('\n');
  const line = lines.find((l) => (c === '' ? l.startsWith('0::') : l.split(':')[1]?.split(',').includes(c)));
  if (!line) throw new Error(`no ${c} line`);
  return line.split(':').slice(2).join(':');
}

const name = (tag: string) => runCgroupName(`${tag}${Date.now().toString(16)}`);

describe('which cgroups', () => {
  it('picks v1 here, each controller at the hierarchy findmnt shows (no cgroup2 at /sys/fs/cgroup)', () => {
    expect(fsType('/sys/fs/cgroup')).not.toBe('cgroup2fs');
    const system = detectCgroups();
    expect(system.version).toBe(1);
    for (const c of CONTROLLERS) expect(system.mounts[c]).toBe(mounts[c]);
  });

  it('finds the hierarchies in /proc/self/mountinfo when they are not where systemd mounts them', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'builder-cgroup-root-'));
    try {
      const system = detectCgroups(elsewhere);
      expect(system.version).toBe(1);
      for (const c of CONTROLLERS) expect(system.mounts[c]).toBe(mounts[c]);
    } finally {
      rmdirSync(elsewhere);
    }
  });

  it('picks v2 for a cgroup2 mount, with the controllers its cgroup.controllers offers (none here), and devices (an eBPF program there)', () => {
    expect(fsType(UNIFIED)).toBe('cgroup2fs');
    const offered = readFileSync(`${UNIFIED}/cgroup.controllers`, 'utf8').trim();
    const system = detectCgroups(UNIFIED);
    expect(system.version).toBe(2);
    expect(Object.keys(system.mounts).sort().join(' ')).toBe(
      ['devices', ...offered.split(/\s+/).filter((c) => CONTROLLERS.includes(c as Controller))].sort().join(' '),
    );
  });
});

describe('cgroup v2 (the empty hierarchy)', () => {
  it('a missing controller is one error naming it, and nothing is made', () => {
    const system = detectCgroups(UNIFIED);
    expect(system.mounts.pids).toBeUndefined();
    const err = (() => {
      try {
        createRunCgroup({ pids: 64 }, name('a'), system, ['pids'], UNIFIED);
      } catch (e) {
        return e;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(MissingControllerError);
    expect((err as MissingControllerError).controller).toBe('pids');
    expect((err as Error).message).toBe(
      `the pids controller is not available (cgroup v2: not in ${UNIFIED}/cgroup.controllers)`,
    );
    expect(existsSync(`${UNIFIED}/builder`)).toBe(false);
  });

  it('makes builder/<pid>-<id> under its own cgroup, moves the whole process in and back out, removes it', () => {
    const own = threadCgroup(process.pid, '');
    const { plan } = createRunCgroup({}, name('b'), detectCgroups(UNIFIED), [], UNIFIED);
    const dir = plan.hierarchies[0].dir;
    expect(plan.version).toBe(2);
    const pidns = readlinkSync('/proc/self/ns/pid').replace(/^pid:\[(\d+)\]$/, '$1');
    expect(dir).toMatch(new RegExp(`^${UNIFIED}${own === '/' ? '' : own}/builder/${pidns}-${process.pid}-b[0-9a-f]+$`));
    expect(existsSync(`${dir}/cgroup.procs`)).toBe(true);
    const fds = openCgroupFds(plan);
    joinCgroup(fds);
    const inside = dir.slice(UNIFIED.length);
    // v2 moves a process as a whole: every thread is inside.
    for (const tid of readdirSync('/proc/self/task')) expect(threadCgroup(Number(tid), '')).toBe(inside);
    leaveCgroup(fds);
    for (const tid of readdirSync('/proc/self/task')) expect(threadCgroup(Number(tid), '')).toBe(own);
    expect(removeRunCgroup(plan)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${UNIFIED}/builder`)).toBe(false);
  });
});

describe('cgroup v1 (this machine)', () => {
  const limits = { pids: 64, memory: 64 << 20, memorySwap: 128 << 20, cpuQuota: 50000, cpuPeriod: 100000 };

  it('writes each limit into its hierarchy, under builder/ of its own cgroup there', () => {
    const { plan } = createRunCgroup(limits, name('c'));
    try {
      expect(plan.version).toBe(1);
      const dirs = Object.fromEntries(plan.hierarchies.map((h) => [h.controller, h.dir]));
      expect(Object.keys(dirs).sort()).toEqual(['cpu', 'memory', 'pids']);
      for (const c of CONTROLLERS) {
        const own = threadCgroup(process.pid, c);
        expect(dirs[c]).toBe(
          `${mounts[c]}${own === '/' ? '' : own}/builder/${plan.hierarchies[0].dir.split('/').at(-1)}`,
        );
      }
      const read = (c: Controller, file: string) => readFileSync(`${dirs[c]}/${file}`, 'utf8').trim();
      expect(read('pids', 'pids.max')).toBe('64');
      expect(read('memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
      if (existsSync(`${dirs.memory}/memory.memsw.limit_in_bytes`))
        expect(read('memory', 'memory.memsw.limit_in_bytes')).toBe(String(128 << 20));
      expect(read('cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(read('cpu', 'cpu.cfs_period_us')).toBe('100000');
    } finally {
      expect(removeRunCgroup(plan)).toEqual([]);
    }
    for (const h of plan.hierarchies) {
      expect(existsSync(h.dir)).toBe(false);
      expect(existsSync(h.dir.slice(0, h.dir.lastIndexOf('/')))).toBe(false);
    }
  });

  it('moves only the spawning (main) thread in, and back out', () => {
    const { plan } = createRunCgroup(limits, name('d'));
    const others = readdirSync('/proc/self/task')
      .map(Number)
      .filter((tid) => tid !== process.pid);
    expect(others.length).toBeGreaterThan(0);
    const before = Object.fromEntries(CONTROLLERS.map((c) => [c, threadCgroup(process.pid, c)]));
    const fds = openCgroupFds(plan);
    try {
      joinCgroup(fds);
      for (const h of plan.hierarchies) {
        const c = h.controller as Controller;
        expect(threadCgroup(process.pid, c)).toBe(h.dir.slice(mounts[c].length));
        for (const tid of others) expect(threadCgroup(tid, c)).toBe(before[c]);
        expect(readFileSync(`${h.dir}/tasks`, 'utf8').trim()).toBe(String(process.pid));
      }
    } finally {
      leaveCgroup(fds);
    }
    for (const c of CONTROLLERS) expect(threadCgroup(process.pid, c)).toBe(before[c]);
    expect(removeRunCgroup(plan)).toEqual([]);
  });

  it("removes a dead maker's cgroups, in every hierarchy, and keeps a live one's", () => {
    const dead = spawnSync('true').pid as number;
    const own = threadCgroup(process.pid, 'memory');
    const parent = `${mounts.memory}${own === '/' ? '' : own}/builder`;
    const stale = `${parent}/${runCgroupName('01d', dead)}`;
    const live = `${parent}/${runCgroupName('11fe', process.pid)}`;
    // A dead pid of another PID namespace: not ours to judge, it stays.
    const elsewhere = `${parent}/1-${dead}-e15e`;
    mkdirSync(stale, { recursive: true });
    mkdirSync(live);
    mkdirSync(elsewhere);
    // A run that needs only pids cleans the memory hierarchy too.
    const created = createRunCgroup({ pids: 10 }, name('e'));
    const { plan } = created;
    try {
      expect(existsSync(stale)).toBe(true);
      expect(removeStaleRunCgroups(created)).toEqual([stale]);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(elsewhere)).toBe(true);
    } finally {
      expect(removeRunCgroup(plan)).toEqual([]);
      rmdirSync(live);
      rmdirSync(elsewhere);
      if (existsSync(stale)) rmdirSync(stale);
      rmdirSync(parent);
    }
  });
});
