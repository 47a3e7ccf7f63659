// The mount flags of engine.plan, as the kernel reports them: the plans of the engine's unit test
// (packages/core/test/engine.test.ts), run for real through the library, with the container's own
// /proc/self/mountinfo read inside. Per-mount options are compared whole, in the kernel's order
// (ro|rw, nosuid, nodev, noexec, then the access-time mode: relatime unless strictatime was asked).
import { createEngine, type Engine, type MountSpec } from '@builder/core';
import type { MountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inside, removeCaptures } from '../helpers/engine-run.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

let engine: Engine;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let mountsBefore: string;

beforeAll(async () => {
  requireRoot();
  engine = await createEngine();
  rootfs = makeBusyboxRootfs();
});
afterAll(() => {
  rootfs?.remove();
  removeCaptures();
});

// The host's mounts under the rootfs and the run directories are the same before and after each test.
beforeEach(() => {
  mountsBefore = mountsUnder(rootfs.path);
});
afterEach(() => {
  expect(mountsUnder(rootfs.path)).toBe(mountsBefore);
});

/** What the container's mount table says about `point`: type, source, per-mount and super options. */
function mountAt(mounts: Map<string, MountInfo>, point: string) {
  const m = mounts.get(point);
  if (!m) throw new Error(`nothing is mounted on ${point} inside; mount points: ${[...mounts.keys()].join(' ')}`);
  return { fstype: m.fstype, source: m.source, options: m.options, superOptions: m.superOptions };
}

/** The container's mounts, and the octal modes of `paths` inside (tmpfs does not show mode=1777). */
async function mountsOf(mounts: MountSpec[], paths: string[] = []) {
  const r = await inside(engine, rootfs.path, mounts, paths.map((p) => `stat -c %a ${p}`).join('; ') || 'true');
  expect(r.exitCode).toBe(0);
  return { mounts: r.mounts, modes: r.out.trim().split('\n').filter(Boolean) };
}

describe('the default mounts of engine.plan, as the kernel has them', () => {
  let mounts: Map<string, MountInfo>;
  let modes: string[];
  beforeAll(async () => {
    ({ mounts, modes } = await mountsOf([], ['/dev', '/dev/shm']));
  });

  it('are these, on the rootfs', () => {
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
  });

  it('/proc: nosuid, nodev, noexec', () => {
    expect(mountAt(mounts, '/proc')).toMatchObject({
      fstype: 'proc',
      source: 'proc',
      options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
    });
  });

  it('/dev: a tmpfs, nosuid, strictatime (no access-time word), mode 755, 64 MiB', () => {
    expect(mountAt(mounts, '/dev')).toEqual({
      fstype: 'tmpfs',
      source: 'tmpfs',
      options: ['rw', 'nosuid'],
      superOptions: expect.arrayContaining(['rw', 'size=65536k', 'mode=755']),
    });
    expect(modes[0]).toBe('755');
  });

  it('/dev/pts: nosuid, noexec', () => {
    expect(mountAt(mounts, '/dev/pts')).toEqual({
      fstype: 'devpts',
      source: 'devpts',
      options: ['rw', 'nosuid', 'noexec', 'relatime'],
      superOptions: expect.arrayContaining(['rw', 'gid=5', 'mode=620', 'ptmxmode=666']),
    });
  });

  it('/dev/shm: nosuid, nodev, noexec, mode 1777, 64 MiB', () => {
    expect(mountAt(mounts, '/dev/shm')).toEqual({
      fstype: 'tmpfs',
      source: 'shm',
      options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
      superOptions: expect.arrayContaining(['rw', 'size=65536k']),
    });
    expect(modes[1]).toBe('1777');
  });

  it('/dev/mqueue: nosuid, nodev, noexec', () => {
    expect(mountAt(mounts, '/dev/mqueue')).toMatchObject({
      fstype: 'mqueue',
      source: 'mqueue',
      options: ['rw', 'nosuid', 'nodev', 'noexec', 'relatime'],
    });
  });

  it('/sys: read-only, nosuid, nodev, noexec', () => {
    expect(mountAt(mounts, '/sys')).toMatchObject({
      fstype: 'sysfs',
      source: 'sysfs',
      options: ['ro', 'nosuid', 'nodev', 'noexec', 'relatime'],
    });
  });
});

describe('user mounts of engine.plan, as the kernel has them', () => {
  it('a user mount on /dev/shm replaces the default one, with only its own flags', async () => {
    const { mounts, modes } = await mountsOf(
      [{ type: 'tmpfs', destination: '/dev/shm', options: ['size=1m', 'mode=1700'] }],
      ['/dev/shm'],
    );
    expect(mountAt(mounts, '/dev/shm')).toEqual({
      fstype: 'tmpfs',
      source: 'tmpfs',
      options: ['rw', 'relatime'],
      superOptions: expect.arrayContaining(['rw', 'size=1024k', 'mode=1700']),
    });
    expect(modes).toEqual(['1700']);
  });

  it('the flags a user mount asks for, and no others', async () => {
    const { mounts } = await mountsOf([
      { type: 'tmpfs', source: 'scratch', destination: '/scratch', options: ['nosuid', 'size=10%'] },
      { type: 'tmpfs', destination: '/r', options: ['ro', 'nodev'] },
      { type: 'tmpfs', destination: '/x', options: ['noexec', 'strictatime'] },
    ]);
    expect(mountAt(mounts, '/scratch')).toMatchObject({ source: 'scratch', options: ['rw', 'nosuid', 'relatime'] });
    expect(mountAt(mounts, '/r')).toMatchObject({ fstype: 'tmpfs', options: ['ro', 'nodev', 'relatime'] });
    expect(mountAt(mounts, '/x')).toMatchObject({ fstype: 'tmpfs', options: ['rw', 'noexec'] });
  });
});
