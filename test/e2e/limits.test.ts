// Limits through cgroups (--pids-limit, --memory, --cpus) end to end, on a busybox rootfs: the
// limits hold (a fork bomb ends, an allocation past --memory is killed with 137), the cgroup files
// say what was asked (read from the host, through the running command's /proc/PID/cgroup), and the
// run's cgroup is gone after the run, after a failing run, and after kill -9 of builder (the next run
// removes it). This machine has cgroup v1 controllers: the test finds each hierarchy with findmnt.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Finished, run, startBuilder, waitFor } from '../helpers/cli.js';
import { alive, mountsUnder, pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { requireTools, tool } from '../helpers/tools.js';

type Controller = 'pids' | 'memory' | 'cpu' | 'devices';
const CONTROLLERS: Controller[] = ['pids', 'memory', 'cpu', 'devices'];

let work: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let mountsBefore: string;
/** Each controller's hierarchy, as findmnt finds it. */
const mounts = {} as Record<Controller, string>;

beforeAll(() => {
  requireRoot();
  requireTools('findmnt');
  for (const c of CONTROLLERS) {
    mounts[c] = tool('findmnt', ['-n', '-o', 'TARGET', '-t', 'cgroup', '-O', c]).trim().split('\n')[0];
    if (!mounts[c]) throw new Error(`no cgroup v1 hierarchy with the ${c} controller is mounted: this test needs one`);
  }
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-limits-'));
  rootfs = makeBusyboxRootfs(['proc', 'sys', 'dev'], work);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Where builder (a child of this process, in its cgroups) makes the runs' cgroups. */
const builderParent = (c: Controller): string => `${mounts[c]}${ownCgroup(c)}/builder`.replace('//', '/');

function ownCgroup(c: Controller, pid: number | 'self' = 'self'): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(c));
  if (!line) throw new Error(`no ${c} line in /proc/${pid}/cgroup`);
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

/** The host directory of `pid`'s cgroup in the hierarchy of `c`. */
const cgroupDir = (pid: number, c: Controller): string => `${mounts[c]}${ownCgroup(c, pid)}`;

/** No run cgroup is left (the `builder` parents go with the last run). */
function noRunCgroups(): void {
  for (const c of CONTROLLERS) expect(existsSync(builderParent(c)), builderParent(c)).toBe(false);
}

beforeEach(() => {
  mountsBefore = mountsUnder(work);
  noRunCgroups();
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
  noRunCgroups();
});

/**
 * Run `builder run FLAGS -- sleep MARKER`, call `check` with the command's host pid once it runs, then
 * kill -9 the command (as PID 1 it ignores SIGTERM), whatever `check` did, and return how builder ended.
 */
async function whileSleeping(
  flags: string[],
  marker: string,
  check: (pid: number) => void | Promise<void>,
): Promise<Finished> {
  const { child, done } = startBuilder(['run', '--rootfs', rootfs.path, ...flags, '--', 'sleep', marker]);
  try {
    await check(await waitFor('the command to start', () => pidsMatching(`sleep ${marker}`)[0]));
  } finally {
    for (const pid of pidsMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
    if (child.exitCode === null) await done;
  }
  return done;
}

const read = (file: string): string => readFileSync(file, 'utf8').trim();

describe('--pids-limit', () => {
  it('stops a loop that starts 200 processes at 64: forks fail, the run ends, nothing is left', async () => {
    const marker = `3${process.pid}`;
    const loop = `i=0; while [ $i -lt 200 ]; do sleep ${marker} & i=$((i+1)); done; echo all started`;
    const r = await run(rootfs.path, ['sh', '-c', loop], ['--pids-limit', '64']);
    expect(r.stderr).toContain("can't fork");
    expect(r.stdout).not.toContain('all started');
    expect(r.code).toBe(2); // busybox sh gives up on a failed fork
    await waitFor('every sleep to be gone', () => (pidsMatching(`sleep ${marker}`).length === 0 ? true : undefined));
    // The host is fine: the next run starts, forks and ends.
    const next = await run(rootfs.path, ['sh', '-c', 'sleep 0 & wait; echo fine']);
    expect(next.stdout).toBe('fine\n');
    expect(next.code).toBe(0);
  });

  it('counts only the command once the stage is out: with 2, it may have one child at a time, not two', async () => {
    // The stage's spawning thread counts until it moves out, right after the spawn: the command waits
    // for that (the host sees only the command in the cgroup) before it forks.
    const script = 'read go; sleep 0 & wait; echo one; sleep 9 & sleep 0; echo two';
    const argv = ['run', '--rootfs', rootfs.path, '--pids-limit', '2', '--', 'sh', '-c', script];
    const { child, done } = startBuilder(argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      const pid = await waitFor('the command to start', () => pidsMatching(`sh -c ${script}`)[0]);
      const tasks = `${cgroupDir(pid, 'pids')}/tasks`;
      await waitFor('the stage to move out', () => (read(tasks) === String(pid) ? true : undefined));
      child.stdin?.end('go\n');
      const r = await done;
      expect(r.stdout).toBe('one\n');
      expect(r.stderr).toContain("can't fork");
      expect(r.code).toBe(2);
    } finally {
      for (const pid of pidsMatching(`sh -c ${script}`)) process.kill(pid, 'SIGKILL');
      await done;
    }
  });

  it('the stage moves back out as a non-root --user too (its cgroup fds were opened as root)', async () => {
    chmodSync(rootfs.path, 0o755); // a made directory is 0700: the user must be able to enter /
    const r = await whileSleeping(['--user', '1000:1000'], `7${process.pid}`, async (pid) => {
      expect(read(`/proc/${pid}/status`)).toMatch(/^Uid:\s+1000\s/m);
      const stage = Number(read(`/proc/${pid}/status`).match(/^PPid:\s+(\d+)/m)?.[1]);
      await waitFor('the stage to move out', () => (ownCgroup('pids', stage) === ownCgroup('pids') ? true : undefined));
      expect(read(`${cgroupDir(pid, 'pids')}/cgroup.procs`)).toBe(String(pid));
    });
    expect(r.code).toBe(137);
  });

  it('is 2048 by default (pids.max of the command, read from the host)', async () => {
    let dir = '';
    const r = await whileSleeping([], `4${process.pid}`, async (pid) => {
      dir = cgroupDir(pid, 'pids');
      expect(dir.startsWith(`${builderParent('pids')}/`)).toBe(true);
      expect(read(`${dir}/pids.max`)).toBe('2048');
      // The stage (builder's child) moves back out right after the spawn, which the command may
      // outrun: wait for it; then only the command is limited.
      const stage = Number(read(`/proc/${pid}/status`).match(/^PPid:\s+(\d+)/m)?.[1]);
      expect(stage).toBeGreaterThan(1);
      await waitFor('the stage to move out', () => (ownCgroup('pids', stage) === ownCgroup('pids') ? true : undefined));
      expect(read(`${dir}/cgroup.procs`)).toBe(String(pid));
    });
    expect(r.code).toBe(137);
    expect(existsSync(dir)).toBe(false);
  });

  it("0 and -1 mean no limit (as podman): the command stays in builder's own pids cgroup", async () => {
    for (const flag of ['--pids-limit=0', '--pids-limit=-1']) {
      const r = await whileSleeping([flag], `5${process.pid}`, (pid) => {
        expect(ownCgroup('pids', pid)).toBe(ownCgroup('pids'));
      });
      expect(r.code).toBe(137);
    }
  });
});

describe('--memory and --cpus', () => {
  it('write the memory limit (memory plus swap twice it, as podman) and the CFS quota of --cpus', async () => {
    let memory = '';
    let cpu = '';
    const r = await whileSleeping(['-m', '64m', '--cpus', '0.5'], `6${process.pid}`, (pid) => {
      memory = cgroupDir(pid, 'memory');
      cpu = cgroupDir(pid, 'cpu');
      expect(memory.startsWith(`${builderParent('memory')}/`)).toBe(true);
      expect(read(`${memory}/memory.limit_in_bytes`)).toBe(String(64 * 1024 * 1024));
      if (existsSync(`${memory}/memory.memsw.limit_in_bytes`))
        expect(read(`${memory}/memory.memsw.limit_in_bytes`)).toBe(String(128 * 1024 * 1024));
      expect(read(`${cpu}/cpu.cfs_quota_us`)).toBe('50000');
      expect(read(`${cpu}/cpu.cfs_period_us`)).toBe('100000');
    });
    expect(r.code).toBe(137);
    expect(existsSync(memory)).toBe(false);
    expect(existsSync(cpu)).toBe(false);
  });

  it('--memory 64m: a 300 MB allocation is killed by the OOM killer, status 137', async () => {
    // The shell holds the whole 300 MB in a variable.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    const alloc = 'x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo ${#x}';
    const r = await run(rootfs.path, ['sh', '-c', alloc], ['--memory', '64m']);
    expect(r.stdout).not.toContain('300000000');
    expect(r.code).toBe(137);
    // Without the limit the same allocation succeeds (the test's own check that it allocates).
    const free = await run(rootfs.path, ['sh', '-c', alloc]);
    expect(free.stdout).toBe('300000000\n');
    expect(free.code).toBe(0);
  });
});

describe('the run cgroup is removed', () => {
  it('after a run that fails, that cannot exec, and that builder cannot start', async () => {
    expect((await run(rootfs.path, ['sh', '-c', 'exit 3'], ['-m', '64m'])).code).toBe(3);
    expect((await run(rootfs.path, ['/no/such/command'], ['-m', '64m'])).code).toBe(127);
    const r = await run(rootfs.path, ['true'], ['-m', '64m', '--user', 'nosuchuser']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('nosuchuser');
    // afterEach: no run cgroup left in any hierarchy
  });

  it('after kill -9 of builder: the next run removes the leftover', async () => {
    const marker = `7${process.pid}`;
    const { child, done } = startBuilder(['run', '--rootfs', rootfs.path, '--cpus', '1', '--', 'sleep', marker]);
    let dirs: string[] = [];
    try {
      const pid = await waitFor('the command to start', () => pidsMatching(`sleep ${marker}`)[0]);
      dirs = [cgroupDir(pid, 'pids'), cgroupDir(pid, 'cpu'), cgroupDir(pid, 'devices')];
      child.kill('SIGKILL');
      await done;
      await waitFor('the command to die', () => (alive(pid) ? undefined : true));
    } finally {
      for (const pid of pidsMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
      child.kill('SIGKILL');
    }
    for (const dir of dirs) expect(existsSync(dir), `${dir} left by the killed builder`).toBe(true);
    expect((await run(rootfs.path, ['true'])).code).toBe(0);
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(false);
  });
});

describe('bad values', () => {
  it.each([
    [['--pids-limit', 'abc'], '--pids-limit "abc": not an integer'],
    [['--pids-limit', '1.5'], '--pids-limit "1.5": not an integer'],
    [['--pids-limit', '1'], 'pids limit 1: too low to start the command (use 2 or more, or 0 for no limit)'],
    [['--pids-limit', '99999999'], "pids limit 99999999: above the kernel's most, 4194304"],
    [['--memory', '64x'], 'memory "64x": not a size'],
    [['-m', '1k'], 'memory "1k": below the minimum of 6 MiB'],
    [['--memory=-1'], 'memory "-1": not a size'],
    [['--cpus', 'half'], '--cpus "half": not a number'],
    [['--cpus', '0.001'], 'cpus 0.001: below the minimum of 0.01'],
    [['--cpus=-1'], 'cpus -1: not a number of CPUs'],
  ])('%j is one line, status 125, nothing left behind', async (flags, message) => {
    const r = await run(rootfs.path, ['true'], flags);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`Error: ${message}`);
  });
});
