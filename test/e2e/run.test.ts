// `builder run` end to end, as root, with real namespaces and mounts.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MountInfo, parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run, startBuilder, termForwarded, waitFor } from '../helpers/cli.js';
import { alive, hostMounts, mountsUnder, pidsMatching, requireRoot, runrootLeftovers } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

/** The test's own directory: the rootfs directories live in it. */
let work: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let mountsBefore: string;

beforeAll(() => {
  requireRoot();
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-run-'));
  rootfs = makeBusyboxRootfs([], work);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Invariant 1: the host's mounts under the test's directories and the run directories are the same
// before and after every test.
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
});

describe('exit status', () => {
  it('passes the command status through', async () => {
    const r = await run(rootfs.path, ['sh', '-c', 'exit 7']);
    expect(r.code).toBe(7);
    expect(r.stderr).toBe('');
  });

  it('is 0 for success and 1 for false', async () => {
    expect((await run(rootfs.path, ['true'])).code).toBe(0);
    expect((await run(rootfs.path, ['false'])).code).toBe(1);
  });

  it('is 128+9 when the command is killed by SIGKILL (from the host)', async () => {
    const marker = `4242${process.pid}`;
    const { done } = startBuilder(['run', '--rootfs', rootfs.path, '--', 'sleep', marker]);
    const [pid] = await waitFor('the command to start', () => {
      const pids = pidsMatching(`sleep ${marker}`);
      return pids.length ? pids : undefined;
    });
    process.kill(pid, 'SIGKILL');
    const r = await done;
    expect(r.code).toBe(137);
  });

  it('is 128+9 for a process in the container killed with kill -9', async () => {
    // PID 1 itself ignores signals it has no handler for when they come from inside its own
    // namespace (the kernel's rule for every PID namespace's init), so the victim is a child.
    const r = await run(rootfs.path, ['sh', '-c', 'sh -c "kill -9 \\$\\$"; exit $?']);
    expect(r.code).toBe(137);
  });
});

describe('namespaces', () => {
  it('runs the command as PID 1', async () => {
    const r = await run(rootfs.path, ['sh', '-c', 'echo $$']);
    expect(r.stdout).toBe('1\n');
  });

  it('shows only the container processes in /proc', async () => {
    // The shell's own glob: no other process exists while it runs.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
    const r = await run(rootfs.path, ['sh', '-c', 'for p in /proc/[0-9]*; do echo ${p#/proc/}; done']);
    expect(r.stdout).toBe('1\n');
    // No pipeline: the only processes are the background sleep and ls, which sh execs as PID 1.
    const r2 = await run(rootfs.path, ['sh', '-c', 'sleep 0.3 & ls -1 /proc']);
    const pids = r2.stdout
      .split('\n')
      .filter((e) => /^\d+$/.test(e))
      .map(Number)
      .sort((a, b) => a - b);
    expect(pids).toEqual([1, 2]);
  });

  it('sets the host name in its own UTS namespace', async () => {
    const before = (await import('node:os')).hostname();
    const r = await run(rootfs.path, ['hostname'], ['--hostname', 'step-1']);
    expect(r.stdout).toBe('step-1\n');
    expect((await import('node:os')).hostname()).toBe(before);
  });

  it('gives each run a generated host name by default', async () => {
    const r = await run(rootfs.path, ['hostname']);
    expect(r.stdout).toMatch(/^[0-9a-f]{12}\n$/);
  });
});

describe('default mounts (read from /proc/self/mountinfo inside)', () => {
  let mounts: Map<string, MountInfo>;
  beforeAll(async () => {
    const r = await run(rootfs.path, ['cat', '/proc/self/mountinfo']);
    expect(r.code).toBe(0);
    mounts = new Map(parseMountInfo(r.stdout).map((m) => [m.mountPoint, m]));
  });

  const expectMount = (point: string, fstype: string, options: string[], superOptions: string[] = []) => {
    const m = mounts.get(point);
    expect(m, `${point} is mounted`).toBeDefined();
    expect(m?.fstype).toBe(fstype);
    for (const o of options) expect(m?.options, `${point} options`).toContain(o);
    for (const o of superOptions) expect(m?.superOptions, `${point} super options`).toContain(o);
  };

  it('has exactly the default mounts on the rootfs', () => {
    // Below /proc and /sys: the masked and read-only paths (e2e/masked-paths.test.ts).
    const points = [...mounts.keys()].filter((p) => !/^\/(proc|sys)\//.test(p));
    expect(points.sort()).toEqual([
      '/',
      '/dev',
      '/dev/mqueue',
      '/dev/pts',
      '/dev/shm',
      // The generated network files (test/e2e/network.test.ts).
      '/etc/hostname',
      '/etc/hosts',
      '/etc/resolv.conf',
      '/proc',
      '/sys',
    ]);
    expect(mounts.get('/')?.root).toBe(rootfs.path);
  });
  it('/proc: proc, nosuid,nodev,noexec', () => expectMount('/proc', 'proc', ['rw', 'nosuid', 'nodev', 'noexec']));
  it('/sys: sysfs, read-only, nosuid,nodev,noexec', () =>
    expectMount('/sys', 'sysfs', ['ro', 'nosuid', 'nodev', 'noexec']));
  it('/dev: tmpfs, nosuid, mode 755', () => {
    expectMount('/dev', 'tmpfs', ['rw', 'nosuid'], ['mode=755', 'size=65536k']);
    expect(mounts.get('/dev')?.options).not.toContain('noexec');
  });
  it('/dev/pts: devpts, a new instance with ptmxmode 666, mode 620, gid 5', () =>
    expectMount('/dev/pts', 'devpts', ['nosuid', 'noexec'], ['gid=5', 'mode=620', 'ptmxmode=666']));
  it('/dev/shm: tmpfs, mode 1777', () =>
    expectMount('/dev/shm', 'tmpfs', ['nosuid', 'nodev', 'noexec'], ['size=65536k']));
  it('/dev/mqueue: mqueue', () => expectMount('/dev/mqueue', 'mqueue', ['nosuid', 'nodev', 'noexec']));

  it('/dev has the standard nodes and symlinks', async () => {
    const r = await run(rootfs.path, [
      'sh',
      '-c',
      'for f in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" /dev/$f; done; ' +
        'for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done; stat -c "%a" /dev/shm',
    ]);
    expect(r.stdout).toBe(
      [
        '/dev/null character special file 1:3 666',
        '/dev/zero character special file 1:5 666',
        '/dev/full character special file 1:7 666',
        '/dev/random character special file 1:8 666',
        '/dev/urandom character special file 1:9 666',
        '/dev/tty character special file 5:0 666',
        'fd -> /proc/self/fd',
        'stdin -> /proc/self/fd/0',
        'stdout -> /proc/self/fd/1',
        'stderr -> /proc/self/fd/2',
        'ptmx -> pts/ptmx',
        '1777',
        '',
      ].join('\n'),
    );
  });

  it('the device nodes work', async () => {
    const r = await run(rootfs.path, ['sh', '-c', 'echo x > /dev/null && head -c 4 /dev/zero | wc -c']);
    expect(r.stdout.trim()).toBe('4');
  });
});

describe('isolation from the host', () => {
  it('a mount made inside never appears on the host', async () => {
    // Mounting needs CAP_SYS_ADMIN and a seccomp filter that allows it (docs/confinement.md).
    const r = await run(
      rootfs.path,
      ['sh', '-c', 'mkdir -p /mnt/x && mount -t tmpfs inside-only /mnt/x && grep -c inside-only /proc/self/mountinfo'],
      ['--cap-add', 'SYS_ADMIN'],
    );
    expect(r.stdout.trim()).toBe('1');
    expect(hostMounts()).not.toContain('inside-only');
  });

  it('without --rootfs, writes go to a throw-away layer over the host root', async () => {
    const marker = join('/etc', `builder-test-${process.pid}`);
    const r = await run(undefined, ['sh', '-c', `echo hi > ${marker} && cat ${marker}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hi\n');
    expect(existsSync(marker)).toBe(false);
  });

  it('without --rootfs, the command sees the host root read through an overlay', async () => {
    const r = await run(undefined, ['sh', '-c', 'cat /etc/hostname >/dev/null && grep " / / " /proc/self/mountinfo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ - overlay overlay .*lowerdir=\//);
  });

  it('leaves no scratch directories behind', async () => {
    await run(rootfs.path, ['true']);
    await run(undefined, ['true']);
    expect(runrootLeftovers('/run/builder')).toEqual([]);
  });
});

describe('environment and working directory', () => {
  it('sets -e variables, copies bare names, and has docker-like defaults', async () => {
    process.env.BUILDER_E2E_COPY = 'copied';
    const r = await run(rootfs.path, ['env'], ['-e', 'A=1', '-e', 'B=x=y', '-e', 'BUILDER_E2E_COPY', '-e', 'UNSET_X']);
    const env = r.stdout.trim().split('\n').sort();
    expect(env).toContain('A=1');
    expect(env).toContain('B=x=y');
    expect(env).toContain('BUILDER_E2E_COPY=copied');
    expect(env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(env).toContain('HOME=/root');
    expect(env.some((e) => e.startsWith('UNSET_X'))).toBe(false);
  });

  it('runs in --workdir, creating it', async () => {
    const r = await run(rootfs.path, ['pwd'], ['--workdir', '/build/dir']);
    expect(r.stdout).toBe('/build/dir\n');
  });
});

describe('bad input: one clear line, the right status, nothing left behind', () => {
  it('a missing rootfs is 125', async () => {
    const r = await run('/nonexistent-rootfs', ['true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('Error: rootfs "/nonexistent-rootfs": no such directory\n');
  });

  it('a missing command is 127', async () => {
    const r = await run(rootfs.path, ['no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('Error: "no-such-command": executable file not found in $PATH\n');
    const r2 = await run(rootfs.path, ['/bin/no-such-file']);
    expect(r2.code).toBe(127);
    expect(r2.stderr).toBe('Error: "/bin/no-such-file": no such file or directory\n');
  });

  it('a command that is not executable is 126', async () => {
    writeFileSync(join(rootfs.path, 'not-exec'), 'data');
    chmodSync(join(rootfs.path, 'not-exec'), 0o644);
    const r = await run(rootfs.path, ['/not-exec']);
    expect(r.code).toBe(126);
    expect(r.stderr).toBe('Error: "/not-exec": permission denied (not an executable file)\n');
  });

  it('no command is 125', async () => {
    const r = await run(rootfs.path, []);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an unknown flag is 125 with one line', async () => {
    const r = await run(rootfs.path, ['true'], ['--no-such-flag']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^Error: .*no-such-flag.*\n$/);
  });

  it('a run that fails half-way through its mounts is 125 and leaves the host unchanged', async () => {
    const bad = makeBusyboxRootfs([], work);
    try {
      writeFileSync(join(bad.path, 'sys'), 'a file where /sys should be mounted');
      const r = await run(bad.path, ['true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(/^Error: mount sysfs on \/sys: ENOTDIR/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      bad.remove();
    }
  });
});

describe('signals and the death of builder', () => {
  it('SIGTERM to builder reaches the command, and its status comes back', async () => {
    const r = await termForwarded(rootfs.path);
    expect(r.code).toBe(42);
    expect(r.out).toContain('got-term');
  });

  it('kill -9 of builder leaves no process and no mount behind', async () => {
    const marker = `777${process.pid}`;
    const { child, done } = startBuilder(['run', '--rootfs', rootfs.path, '--', 'sleep', marker]);
    await waitFor('the command to start', () => (pidsMatching(`sleep ${marker}`).length ? true : undefined));
    const stages = pidsMatching(`${process.execPath} `).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/status`, 'utf8').includes(`PPid:\t${child.pid}\n`);
      } catch {
        return false;
      }
    });
    expect(stages).toHaveLength(1);
    child.kill('SIGKILL');
    await done;
    await waitFor('the command to die', () => (pidsMatching(`sleep ${marker}`).length === 0 ? true : undefined), 5000);
    for (const pid of stages) await waitFor(`stage ${pid} to exit`, () => (alive(pid) ? undefined : true), 5000);
    expect(mountsUnder(work)).toBe(mountsBefore);
  });
});
