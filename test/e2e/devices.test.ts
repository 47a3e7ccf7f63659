// Device access: the devices cgroup and a bound /dev, end to end on a busybox rootfs. The "disk" is a
// loop device of the test's own (a 1 MiB file with a marker at its start): a real block device that
// the host's root can read, as it can read its disks. (This machine's own disk cannot even be opened
// by the host's root, so it could not show that --privileged reads it.) Only 512 bytes are ever read;
// nothing is ever written to the device. After each test: the backing file is unchanged, nothing is
// left mounted, no run cgroup is left in the devices hierarchy, and the host's /dev has the same
// default mountpoints as before (none created in it).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILDER, run, startBuilder, waitFor } from '../helpers/cli.js';
import { mountsUnder, pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { podmanRun, requireTools, tool } from '../helpers/tools.js';

/**
 * runc's default allow-list (libcontainer/specconv's AllowedDevices), as the devices.list of a podman
 * 4.3 container on the test machine shows it; written down here, not taken from the code under test.
 */
const RUNC_DEVICES = [
  'b *:* m',
  'c *:* m',
  'c 1:3 rwm',
  'c 1:5 rwm',
  'c 1:7 rwm',
  'c 1:8 rwm',
  'c 1:9 rwm',
  'c 5:0 rwm',
  'c 5:2 rwm',
  'c 10:200 rwm',
  'c 136:* rwm',
];

/** This machine's (empty) cgroup v2 hierarchy. */
const UNIFIED = '/sys/fs/cgroup/unified';

let work: string;
let rootfs: string;
let devicesMount: string;
/** The loop device, its major:minor, and its backing file's content. */
let disk: string;
let diskNumbers: [string, string];
let backing: string;
const MARKER = `builder-devices-test-${process.pid}`;
let content: Buffer;
let mountsBefore: string;
let hostDevBefore: string[];

beforeAll(() => {
  requireRoot();
  requireTools('findmnt', 'losetup');
  devicesMount = tool('findmnt', ['-n', '-o', 'TARGET', '-t', 'cgroup', '-O', 'devices']).trim().split('\n')[0];
  if (!devicesMount)
    throw new Error('no cgroup v1 hierarchy with the devices controller is mounted: this test needs one');
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-devices-'));
  rootfs = makeBusyboxRootfs(['proc', 'sys', 'dev'], work).path;
  symlinkSync('busybox', join(rootfs, 'bin', 'mknod'));
  backing = join(work, 'disk.img');
  content = Buffer.alloc(1 << 20);
  content.write(MARKER);
  writeFileSync(backing, content);
  disk = tool('losetup', ['--find', '--show', backing]).trim();
  const rdev = readFileSync(`/sys/class/block/${disk.slice('/dev/'.length)}/dev`, 'utf8').trim();
  diskNumbers = rdev.split(':') as [string, string];
});
afterAll(() => {
  if (disk) execFileSync('losetup', ['-d', disk]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Where builder (a child of this process, in its cgroups) makes the runs' cgroups. */
const builderParent = (): string => `${devicesMount}${ownCgroup()}/builder`.replace('//', '/');

function ownCgroup(pid: number | 'self' = 'self'): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes('devices'));
  if (!line) throw new Error(`no devices line in /proc/${pid}/cgroup`);
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

beforeEach(() => {
  mountsBefore = mountsUnder(work);
  hostDevBefore = defaultMountpoints();
  expect(existsSync(builderParent())).toBe(false);
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
  expect(readFileSync(backing).equals(content)).toBe(true);
  expect(defaultMountpoints()).toEqual(hostDevBefore);
  expect(existsSync(builderParent())).toBe(false);
});

/**
 * Which of the default mounts' mountpoints the host's /dev has (the rest of /dev is not compared:
 * other processes on the machine add loop devices and the like).
 */
const defaultMountpoints = (): string[] => ['mqueue', 'pts', 'shm'].filter((n) => existsSync(`/dev/${n}`));

/** The lines of the command's stdout. */
const lines = (text: string): string[] => text.trim().split('\n');

describe('--read-only-dir /dev', () => {
  it("runs: the host's device nodes are there, a disk cannot be opened (EPERM), the safe devices work", async () => {
    const script = [
      `test -b ${disk} && echo disk-seen`,
      `head -c 512 ${disk} | grep -c ${MARKER}`,
      'echo x > /dev/null && echo null-ok',
      'head -c 4 /dev/zero | wc -c',
      'head -c 8 /dev/urandom | wc -c',
    ].join('; ');
    const r = await run(rootfs, ['sh', '-c', script], ['--read-only-dir', '/dev']);
    expect(lines(r.stdout)).toEqual(['disk-seen', '0', 'null-ok', '4', '8']);
    expect(r.stderr).toContain(`head: ${disk}: Operation not permitted`);
    expect(r.code).toBe(0);
  });

  it("has a fresh devpts on /dev/pts (not the host's ptys), a fresh /dev/shm, and no /dev/mqueue where the host has none", async () => {
    const r = await run(rootfs, ['cat', '/proc/self/mountinfo'], ['--read-only-dir', '/dev']);
    expect(r.code).toBe(0);
    const top = (target: string) =>
      lines(r.stdout)
        .filter((l) => l.split(' ')[4] === target)
        .at(-1);
    // The host's devpts is mode=600,ptmxmode=000 here; the run's own is the default's.
    expect(top('/dev/pts')).toMatch(/ - devpts devpts rw,gid=5,mode=620,ptmxmode=666$/);
    expect(top('/dev/shm')).toMatch(/ rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k$/);
    expect(top('/dev')).toMatch(/ \/dev ro,/);
    expect(top('/dev/mqueue') !== undefined).toBe(existsSync('/dev/mqueue'));
  });

  it('with --privileged: every device, as podman --privileged (the disk reads)', async () => {
    const script = `head -c 512 ${disk} | grep -c ${MARKER}; grep :devices: /proc/self/cgroup`;
    const r = await run(rootfs, ['sh', '-c', script], ['--privileged', '--read-only-dir', '/dev']);
    expect(lines(r.stdout)).toEqual(['1', expect.stringMatching(new RegExp(`:devices:${ownCgroup()}$`))]);
    expect(r.code).toBe(0);
  });
});

describe('the devices cgroup', () => {
  it("holds with the run's own /dev too: a node made for the disk (--cap-add MKNOD) cannot be opened", async () => {
    const [major, minor] = diskNumbers;
    const script = `mknod /dev/disk b ${major} ${minor} && echo made; head -c 512 /dev/disk | grep -c ${MARKER}`;
    const r = await run(rootfs, ['sh', '-c', script], ['--cap-add', 'MKNOD']);
    expect(lines(r.stdout)).toEqual(['made', '0']);
    expect(r.stderr).toContain('head: /dev/disk: Operation not permitted');
  });

  it('-v /dev:/dev (writable): the disk cannot be opened, and no default mountpoint is made in the host /dev', async () => {
    const r = await run(rootfs, ['sh', '-c', `head -c 512 ${disk} | grep -c ${MARKER}`], ['-v', '/dev:/dev']);
    expect(lines(r.stdout)).toEqual(['0']);
    expect(r.stderr).toContain(`head: ${disk}: Operation not permitted`);
    // afterEach: the host's /dev has the same default mountpoints (no mqueue directory made in it)
  });

  it("is everything denied, then runc's allow-list (devices.list read from the host); the stage leaves it", async () => {
    const marker = `9${process.pid}`;
    const { child, done } = startBuilder(['run', '--rootfs', rootfs, '--', 'sleep', marker]);
    try {
      const pid = await waitFor('the command to start', () => pidsMatching(`sleep ${marker}`)[0]);
      const dir = `${devicesMount}${ownCgroup(pid)}`;
      expect(dir.startsWith(`${builderParent()}/`)).toBe(true);
      expect(lines(readFileSync(`${dir}/devices.list`, 'utf8')).sort()).toEqual([...RUNC_DEVICES].sort());
      const stage = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^PPid:\s+(\d+)/m)?.[1]);
      expect(stage).toBeGreaterThan(1);
      // The stage moves back out right after the spawn, which the command may outrun: wait for it.
      await waitFor("the stage to leave the run's cgroup", () => (ownCgroup(stage) === ownCgroup() ? true : undefined));
    } finally {
      for (const pid of pidsMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
      if (child.exitCode === null) await done;
    }
  });

  it("is podman's: the same devices.list as a podman container's on the same rootfs", async () => {
    requireTools('podman');
    const marker = `8${process.pid}`;
    const { child, done } = startBuilder(['run', '--rootfs', rootfs, '--', 'sleep', marker]);
    let ours: string[] = [];
    try {
      const pid = await waitFor('the command to start', () => pidsMatching(`sleep ${marker}`)[0]);
      ours = lines(readFileSync(`${devicesMount}${ownCgroup(pid)}/devices.list`, 'utf8'));
    } finally {
      for (const pid of pidsMatching(`sleep ${marker}`)) process.kill(pid, 'SIGKILL');
      if (child.exitCode === null) await done;
    }
    expect(ours.sort()).toEqual(lines(podman(['cat', '/sys/fs/cgroup/devices/devices.list'])).sort());
  });
});

describe("on cgroup v2 (this machine's v2 hierarchy mounted on /sys/fs/cgroup, in a mount namespace of the test's own)", () => {
  /** `builder run FLAGS -- sh -c SCRIPT` where /sys/fs/cgroup is the cgroup2 mount: builder drives v2. */
  function runOnV2(flags: string[], script: string): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(
      'unshare',
      [
        ...['-m', '--propagation', 'private', 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', 'sh'],
        ...[process.execPath, BUILDER, 'run', '--rootfs', rootfs, ...flags, '--', 'sh', '-c', script],
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (r.error) throw r.error;
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('the eBPF program: the disk cannot be opened, the safe devices work; --privileged reads it; the cgroup is removed', () => {
    requireTools('unshare', 'stat');
    expect(tool('stat', ['-f', '-c', '%T', UNIFIED]).trim()).toBe('cgroup2fs');
    const script = `grep ^0:: /proc/self/cgroup; head -c 512 ${disk} | grep -c ${MARKER}; head -c 4 /dev/zero | wc -c`;
    const r = runOnV2(['--read-only-dir', '/dev'], script);
    expect(lines(r.stdout)).toEqual([expect.stringMatching(/^0::\/builder\/\d+-\d+-[0-9a-f]+$/), '0', '4']);
    const runCgroup = `${UNIFIED}${lines(r.stdout)[0].slice('0::'.length)}`;
    expect(r.stderr).toContain(`head: ${disk}: Operation not permitted`);
    expect(r.code).toBe(0);
    const privileged = runOnV2(['--privileged', '--read-only-dir', '/dev'], `head -c 512 ${disk} | grep -c ${MARKER}`);
    expect(lines(privileged.stdout)).toEqual(['1']);
    // Removed after the run (the `builder` parent is shared with the unit tests, which may run meanwhile).
    expect(existsSync(runCgroup)).toBe(false);
  });
});

/** Run a command under podman (runc, cgroupfs) on a copy of the rootfs (podman writes /etc files into it); its stdout. */
function podman(argv: string[]): string {
  const copy = join(work, 'podman-rootfs');
  cpSync(rootfs, copy, { recursive: true, verbatimSymlinks: true });
  try {
    const r = spawnSync(
      'podman',
      [...podmanRun(join(work, 'podman')), ...['--network', 'none'], ...['--rootfs', copy, ...argv]],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`podman failed (status ${r.status}): ${r.stderr.trim()}`);
    return r.stdout;
  } finally {
    rmSync(copy, { recursive: true, force: true });
    rmSync(join(work, 'podman'), { recursive: true, force: true });
  }
}
