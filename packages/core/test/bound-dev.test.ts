// The default mounts below /dev when a host directory is bound on /dev (`--read-only-dir /dev`,
// `-v /dev:/dev`): each stays only where its mountpoint is already a directory in the bound source,
// so that nothing is created in a host directory. A tmpfs on /dev keeps them all. The "host /dev" here
// is a directory of the test's own.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine, type MountOp } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let engine: Engine;
let dir: string;
let rootfs: string;
let hostDev: string;

beforeAll(async () => {
  engine = await createEngine();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'builder-bound-dev-')));
  rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  // A /dev with pts and shm directories, no mqueue directory, and an mqueue symlink elsewhere.
  hostDev = join(dir, 'dev');
  mkdirSync(join(hostDev, 'pts'), { recursive: true });
  mkdirSync(join(hostDev, 'shm'));
  mkdirSync(join(dir, 'elsewhere'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The op of /dev itself, and the mounts below it (`FSTYPE TARGET`). */
function devOps(ops: MountOp[]): { dev: MountOp | undefined; below: string[] } {
  return {
    dev: ops.find((op) => op.target === '/dev'),
    below: ops.flatMap((op) =>
      op.op === 'mount' && op.target.startsWith('/dev/') ? [`${op.fstype} ${op.target}`] : [],
    ),
  };
}
const DEV_TMPFS = { op: 'mount', fstype: 'tmpfs', target: '/dev' };

describe('default mounts below a bound /dev', () => {
  it('the defaults without a /dev of the user: all of them, in the /dev tmpfs', () => {
    const { dev, below } = devOps(engine.plan({ argv: ['true'], rootfs }).ops);
    expect(dev).toMatchObject(DEV_TMPFS);
    expect(below).toEqual(['devpts /dev/pts', 'tmpfs /dev/shm', 'mqueue /dev/mqueue']);
  });

  it('-v SRC:/dev:ro: a fresh devpts and shm where the source has those directories, no mqueue where it has none', () => {
    const { dev, below } = devOps(
      engine.plan({
        argv: ['true'],
        rootfs,
        mounts: [{ type: 'bind', source: hostDev, destination: '/dev', options: ['ro'] }],
      }).ops,
    );
    expect(dev).toMatchObject({ op: 'bind', source: hostDev, recursive: true, flags: ['ro'] });
    expect(below).toEqual(['devpts /dev/pts', 'tmpfs /dev/shm']);
  });

  it("--read-only-dir /dev: the machine's /dev, with the defaults whose directories it has", () => {
    const { dev, below } = devOps(
      engine.plan({ argv: ['true'], rootfs, dirModes: [{ mode: 'read-only', path: '/dev' }] }).ops,
    );
    expect(dev).toMatchObject({ op: 'bind', source: '/dev', flags: ['ro'] });
    const isDir = (p: string) => existsSync(p) && lstatSync(p).isDirectory();
    expect(below).toEqual(
      [
        ['devpts', 'pts'],
        ['tmpfs', 'shm'],
        ['mqueue', 'mqueue'],
      ].flatMap(([fstype, name]) => (isDir(`/dev/${name}`) ? [`${fstype} /dev/${name}`] : [])),
    );
  });

  it('a symlink is not a mountpoint: it is left out too', () => {
    symlinkSync(join(dir, 'elsewhere'), join(hostDev, 'mqueue'));
    try {
      const { below } = devOps(
        engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'bind', source: hostDev, destination: '/dev' }] }).ops,
      );
      expect(below).toEqual(['devpts /dev/pts', 'tmpfs /dev/shm']);
    } finally {
      rmSync(join(hostDev, 'mqueue'));
    }
  });

  it('a source with an mqueue directory keeps the mqueue mount; a user mount on /dev/pts replaces the devpts', () => {
    mkdirSync(join(hostDev, 'mqueue'));
    try {
      const { below } = devOps(
        engine.plan({
          argv: ['true'],
          rootfs,
          mounts: [
            { type: 'bind', source: hostDev, destination: '/dev' },
            { type: 'tmpfs', destination: '/dev/pts' },
          ],
        }).ops,
      );
      expect(below).toEqual(['tmpfs /dev/pts', 'tmpfs /dev/shm', 'mqueue /dev/mqueue']);
    } finally {
      rmSync(join(hostDev, 'mqueue'), { recursive: true });
    }
  });

  it('a tmpfs on /dev (--hidden-dir /dev) keeps every default: they are made in the tmpfs', () => {
    const { dev, below } = devOps(
      engine.plan({ argv: ['true'], rootfs, dirModes: [{ mode: 'hidden', path: '/dev' }] }).ops,
    );
    expect(dev).toMatchObject(DEV_TMPFS);
    expect(below).toEqual(['devpts /dev/pts', 'tmpfs /dev/shm', 'mqueue /dev/mqueue']);
  });
});
