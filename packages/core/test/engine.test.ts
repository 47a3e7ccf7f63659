// The engine with the real built-in plugins, through the built package (as a library user sees it).
// Run `npm run build` first.
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BuilderError,
  createEngine,
  type Engine,
  type MountKind,
  type MountOp,
  PluginError,
  RootfsError,
  SpecError,
} from '@builder/core';
import { ContainerModule, injectable } from '@builder/core/di';
import { mountFlags } from '@builder/native/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

let engine: Engine;
let dir: string;
let rootfs: string;

beforeAll(async () => {
  engine = await createEngine();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'builder-engine-')));
  rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
  writeFileSync(join(dir, 'file'), 'not a dir');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// mount(2) flags as the kernel's uapi header <linux/mount.h> defines them (not the implementation's
// constants): what the flag words of a plan must fold into. test/e2e/engine-mounts.test.ts runs the
// same plans and reads the flags back from the kernel.
const MS_RDONLY = 1;
const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_STRICTATIME = 1 << 24;

/** An op with its flag words folded into the mount(2) flags they mean. */
const folded = (op: MountOp) => ('flags' in op && op.flags ? { ...op, flags: mountFlags(op.flags) } : op);

/** A plan's ops without the masked and read-only paths that come after every mount (confined-paths.test.ts). */
const ofMounts = (ops: MountOp[]) => ops.filter((op) => op.op !== 'mask' && op.op !== 'readonly');
/** The files every run gets generated (test/e2e/network.test.ts), after every mount. */
const NETWORK_FILES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'];
/** The ops of the mounts alone: without the masked and read-only paths and the generated network files. */
const mountOps = (ops: MountOp[]) => ofMounts(ops).filter((op) => !NETWORK_FILES.includes(op.target));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('createEngine with the built-in plugins', () => {
  it('lists the mount kinds and where they come from', () => {
    expect(engine.mountKinds().map((k) => [k.type, k.origin])).toEqual([
      ['bind', '@builder/plugins'],
      ['cgroup', '@builder/plugins'],
      ['cgroup2', '@builder/plugins'],
      ['dev', '@builder/plugins'],
      ['devpts', '@builder/plugins'],
      ['mqueue', '@builder/plugins'],
      ['overlay', '@builder/plugins'],
      ['proc', '@builder/plugins'],
      ['sysfs', '@builder/plugins'],
      ['tmpfs', '@builder/plugins'],
    ]);
    const tmpfs = engine.mountKinds().find((k) => k.type === 'tmpfs');
    expect(tmpfs?.description).toBe('A fresh in-memory filesystem.');
    expect(tmpfs?.options.find((o) => o.name === 'size')?.value).toBe('size');
  });
});

describe('engine.plan', () => {
  it('puts a user mount that replaces a default in the default place', () => {
    const plan = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'tmpfs', destination: '/dev/shm', options: ['size=1m'] }],
    });
    const mounts = plan.ops.filter((op) => op.op === 'mount').map((op) => `${op.target} ${op.data}`);
    expect(mounts).toEqual([
      '/proc undefined',
      '/dev mode=755,size=65536k',
      '/dev/pts newinstance,ptmxmode=0666,mode=0620,gid=5',
      '/dev/shm size=1m',
      '/dev/mqueue undefined',
      '/sys undefined',
    ]);
  });

  it('keeps the default devices when a tmpfs replaces /dev, as an OCI spec (runc spec) has it', () => {
    const plan = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'tmpfs', source: 'tmpfs', destination: '/dev', options: ['nosuid', 'mode=755', 'size=1m'] }],
    });
    const dev = plan.ops.find((op) => op.op === 'mount' && op.target === '/dev');
    expect(dev).toMatchObject({ fstype: 'tmpfs', data: ['mode=755', 'size=1m'] });
    expect(plan.ops.filter((op) => op.op === 'mknod').map((op) => op.target)).toEqual([
      '/dev/null',
      '/dev/zero',
      '/dev/full',
      '/dev/random',
      '/dev/urandom',
      '/dev/tty',
    ]);
    // A bind of /dev is left alone.
    const bound = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'bind', source: '/dev', destination: '/dev' }],
    });
    expect(bound.ops.some((op) => op.op === 'mknod')).toBe(false);
  });

  it('binds the host cgroup hierarchy for cgroup entries', () => {
    const plan = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'cgroup', source: 'cgroup', destination: '/sys/fs/cgroup', options: ['nosuid', 'ro'] }],
    });
    expect(mountOps(plan.ops).at(-1)).toEqual({
      op: 'bind',
      source: '/sys/fs/cgroup',
      target: '/sys/fs/cgroup',
      recursive: true,
      pin: false,
      flags: ['nosuid', 'ro'],
    });
  });

  it('plans namespaces, the rootfs directory and the process', () => {
    const plan = engine.plan({ argv: ['true'], rootfs, hostname: 'box', env: ['A=1'], cwd: '/work' });
    expect(plan.namespaces).toEqual({ pid: true, uts: true, ipc: true, net: false });
    expect(plan.rootfs).toEqual({ type: 'dir', path: rootfs });
    expect(plan.runroot).toBe('/run/builder');
    expect(plan.hostname).toBe('box');
    expect(plan.process).toEqual({
      argv: ['true'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=box', 'HOME=/root', 'A=1'],
      cwd: '/work',
    });
  });

  it('uses a fresh 12-hex-digit run id as default hostname, and / as cwd', () => {
    const a = engine.plan({ argv: ['true'], rootfs });
    const b = engine.plan({ argv: ['true'], rootfs });
    expect(a.hostname).toMatch(/^[0-9a-f]{12}$/);
    expect(b.hostname).not.toBe(a.hostname);
    expect(a.process.cwd).toBe('/');
    expect(a.process.env).toContain(`HOSTNAME=${a.hostname}`);
  });

  it('has the default mounts, in order, then the generated network files', () => {
    const plan = engine.plan({ argv: ['true'], rootfs });
    const ops = ofMounts(plan.ops).map(folded);
    const devices: [string, number, number][] = [
      ['null', 1, 3],
      ['zero', 1, 5],
      ['full', 1, 7],
      ['random', 1, 8],
      ['urandom', 1, 9],
      ['tty', 5, 0],
    ];
    expect(ops).toEqual([
      { op: 'mount', fstype: 'proc', source: 'proc', target: '/proc', flags: MS_NOSUID | MS_NODEV | MS_NOEXEC },
      {
        op: 'mount',
        fstype: 'tmpfs',
        source: 'tmpfs',
        target: '/dev',
        flags: MS_NOSUID | MS_STRICTATIME,
        data: ['mode=755', 'size=65536k'],
      },
      ...devices.map(([name, major, minor]) => ({
        op: 'mknod',
        target: `/dev/${name}`,
        kind: 'char',
        major,
        minor,
        mode: 0o666,
        fallback: `/dev/${name}`,
      })),
      { op: 'symlink', target: '/dev/fd', link: '/proc/self/fd' },
      { op: 'symlink', target: '/dev/stdin', link: '/proc/self/fd/0' },
      { op: 'symlink', target: '/dev/stdout', link: '/proc/self/fd/1' },
      { op: 'symlink', target: '/dev/stderr', link: '/proc/self/fd/2' },
      { op: 'symlink', target: '/dev/ptmx', link: 'pts/ptmx' },
      {
        op: 'mount',
        fstype: 'devpts',
        source: 'devpts',
        target: '/dev/pts',
        flags: MS_NOSUID | MS_NOEXEC,
        data: ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        op: 'mount',
        fstype: 'tmpfs',
        source: 'shm',
        target: '/dev/shm',
        flags: MS_NOSUID | MS_NOEXEC | MS_NODEV,
        data: ['mode=1777', 'size=65536k'],
      },
      {
        op: 'mount',
        fstype: 'mqueue',
        source: 'mqueue',
        target: '/dev/mqueue',
        flags: MS_NOSUID | MS_NODEV | MS_NOEXEC,
      },
      {
        op: 'mount',
        fstype: 'sysfs',
        source: 'sysfs',
        target: '/sys',
        flags: MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY,
      },
      { op: 'file', target: '/etc/hostname', content: `${plan.hostname}\n`, mode: 0o644 },
      {
        op: 'file',
        target: '/etc/hosts',
        content: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t${plan.hostname}\n`,
        mode: 0o644,
      },
      { op: 'file', target: '/etc/resolv.conf', content: readFileSync('/etc/resolv.conf', 'utf8'), mode: 0o644 },
    ]);
  });

  it('plans an overlay of the host root without a rootfs', () => {
    expect(engine.plan({ argv: ['true'] }).rootfs).toEqual({ type: 'overlay', lowers: ['/'] });
  });

  it('resolves a relative rootfs to an absolute path', () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(engine.plan({ argv: ['true'], rootfs: 'rootfs' }).rootfs).toEqual({ type: 'dir', path: rootfs });
    } finally {
      process.chdir(cwd);
    }
  });

  it('replaces a default mount by a user mount on the same destination', () => {
    const ops = ofMounts(
      engine.plan({
        argv: ['true'],
        rootfs,
        mounts: [{ type: 'tmpfs', destination: '/dev/shm', options: ['size=1m', 'mode=1700'] }],
      }).ops,
    );
    const shm = ops.filter((op) => op.target === '/dev/shm');
    expect(shm).toEqual([
      { op: 'mount', fstype: 'tmpfs', source: 'tmpfs', target: '/dev/shm', data: ['size=1m', 'mode=1700'] },
    ]);
    expect(mountOps(ops).length).toBe(17);
  });

  it('replaces a default mount whatever the slashes of the destination', () => {
    const ops = engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'tmpfs', destination: '//dev/shm/' }] }).ops;
    expect(ops.filter((op) => op.op === 'mount' && op.target.replace(/\/+/g, '/').startsWith('/dev/shm'))).toEqual([
      { op: 'mount', fstype: 'tmpfs', source: 'tmpfs', target: '//dev/shm/' },
    ]);
  });

  it('adds user mounts after the default ones', () => {
    const ops = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'tmpfs', source: 'scratch', destination: '/scratch', options: ['nosuid', 'size=10%'] }],
    }).ops;
    expect(mountOps(ops).length).toBe(18);
    expect(folded(ops[17])).toEqual({
      op: 'mount',
      fstype: 'tmpfs',
      source: 'scratch',
      target: '/scratch',
      flags: MS_NOSUID,
      data: ['size=10%'],
    });
  });
});

describe('engine.plan errors', () => {
  it('rejects an empty command with a SpecError, exit code 125', () => {
    for (const argv of [[], ['']]) {
      const err = thrown(() => engine.plan({ argv, rootfs }));
      expect(err).toBeInstanceOf(SpecError);
      expect(err).toBeInstanceOf(BuilderError);
      expect(err.message).toBe('no command given: say what to run after "--"');
      expect((err as SpecError).exitCode).toBe(125);
    }
  });

  it('names a missing rootfs', () => {
    const missing = join(dir, 'missing');
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs: missing }));
    expect(err).toBeInstanceOf(RootfsError);
    expect(err.message).toBe(`rootfs "${missing}": no such directory`);
    expect((err as RootfsError).exitCode).toBe(125);
  });

  it('refuses a file as rootfs', () => {
    const file = join(dir, 'file');
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs: file }));
    expect(err).toBeInstanceOf(RootfsError);
    expect(err.message).toBe(`rootfs "${file}": not a directory`);
  });

  it('refuses a relative working directory', () => {
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs, cwd: 'work' }));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('working directory "work" must be an absolute path');
  });

  it('refuses an invalid hostname', () => {
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs, hostname: 'bad_name' }));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('invalid hostname "bad_name"');
  });

  it('suggests a mount type', () => {
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'tmpfss', destination: '/t' }] }));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('mount on /t: unknown mount type "tmpfss" (did you mean "tmpfs"?)');
  });

  it('suggests an option', () => {
    const err = thrown(() =>
      engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'tmpfs', destination: '/t', options: ['sise=1m'] }] }),
    );
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('mount on /t (type tmpfs): unknown option "sise" (did you mean "size"?)');
  });

  it('names a bad option value without a suggestion', () => {
    const err = thrown(() =>
      engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'tmpfs', destination: '/t', options: ['size=lots'] }] }),
    );
    expect(err.message).toBe('mount on /t (type tmpfs): option "size": "lots" is not a valid size');
  });

  it('refuses a relative mount destination', () => {
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs, mounts: [{ type: 'tmpfs', destination: 't' }] }));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('mount on t: destination must be an absolute path');
  });
});

describe('plugin loading errors', () => {
  it('names both classes when two plugins contribute one mount type', async () => {
    class ShadowTmpfsMountKind implements MountKind {
      readonly type = 'tmpfs';
      readonly description = 'another tmpfs';
      readonly options = [];
      plan(): MountOp[] {
        return [];
      }
    }
    injectable()(ShadowTmpfsMountKind);
    const shadow = new ContainerModule(({ bind }) => {
      bind(ShadowTmpfsMountKind).toSelf();
      bind<MountKind>(Symbol.for('builder.MountKind')).toService(ShadowTmpfsMountKind);
    });
    const err = await rejection(createEngine({ plugins: ['@builder/plugins', shadow] }));
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe('mount kind "tmpfs" is contributed twice: by TmpfsMountKind and by ShadowTmpfsMountKind');
    expect((err as PluginError).exitCode).toBe(125);
  });

  it('loads a plugin given as a module object', async () => {
    class ScratchMountKind implements MountKind {
      readonly type = 'scratch';
      readonly description = 'a scratch tmpfs';
      readonly options = [];
      plan(): MountOp[] {
        return [{ op: 'mkdir', target: '/scratch', mode: 0o700 }];
      }
    }
    injectable()(ScratchMountKind);
    const m = new ContainerModule(({ bind }) => {
      bind(ScratchMountKind).toSelf();
      bind<MountKind>(Symbol.for('builder.MountKind')).toService(ScratchMountKind);
    });
    const e = await createEngine({ plugins: ['@builder/plugins', m] });
    expect(e.mountKinds().find((k) => k.type === 'scratch')?.origin).toBe('(module)');
    const ops = e.plan({ argv: ['true'], rootfs, mounts: [{ type: 'scratch', destination: '/scratch' }] }).ops;
    expect(mountOps(ops).at(-1)).toEqual({ op: 'mkdir', target: '/scratch', mode: 0o700 });
  });

  it('reports a plugin path that does not exist', async () => {
    const path = join(dir, 'no-such-plugin.mjs');
    const err = await rejection(createEngine({ plugins: [path] }));
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe(`plugin "${path}": not found (is it installed?)`);
  });

  it('reports a plugin package that is not installed', async () => {
    const err = await rejection(createEngine({ plugins: ['@builder/no-such-plugin'] }));
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe('plugin "@builder/no-such-plugin": not found (is it installed?)');
  });

  it('refuses a module whose default export is not a ContainerModule', async () => {
    const path = join(dir, 'forty-two.mjs');
    writeFileSync(path, 'export default 42;\n');
    const err = await rejection(createEngine({ plugins: [path] }));
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe(
      `plugin "${path}": its default export is not an inversify ContainerModule (or a list of them)`,
    );
  });

  it('refuses a plugin object that is not a ContainerModule', async () => {
    const err = await rejection(createEngine({ plugins: [{} as unknown as ContainerModule] }));
    expect(err).toBeInstanceOf(PluginError);
    expect(err.message).toBe('plugin: not an inversify ContainerModule');
  });
});
