// Each built-in mount kind's plan for sample mounts, exactly as the stage would receive it.
import { checkOption, type MountKind, type MountSpec } from '@builder/core';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '@builder/native';
import { mountFlags, validateOps } from '@builder/native/pure';
import builtins, {
  BindMountKind,
  builtinModules,
  DEFAULT_DEV_SYMLINKS,
  DEFAULT_DEVICES,
  DevMountKind,
  DevptsMountKind,
  MqueueMountKind,
  OverlayMountKind,
  ProcMountKind,
  SysfsMountKind,
  TmpfsMountKind,
} from '@builder/plugins';
import { describe, expect, it } from 'vitest';

const ctx = { runId: '0123456789ab', user: { uid: 0, gid: 0 } };

describe('ProcMountKind', () => {
  const kind = new ProcMountKind();

  it('mounts proc nosuid, nodev, noexec', () => {
    expect(kind.type).toBe('proc');
    expect(kind.plan({ type: 'proc', destination: '/proc' })).toEqual([
      { op: 'mount', fstype: 'proc', source: 'proc', target: '/proc', flags: ['nosuid', 'nodev', 'noexec'] },
    ]);
  });

  it('passes hidepid and subset as data and adds ro', () => {
    const [op] = kind.plan({ type: 'proc', destination: '/p', options: ['hidepid=2', 'ro', 'subset=pid'] });
    expect(op).toEqual({
      op: 'mount',
      fstype: 'proc',
      source: 'proc',
      target: '/p',
      flags: ['nosuid', 'nodev', 'noexec', 'ro'],
      data: ['hidepid=2', 'subset=pid'],
    });
  });

  it('accepts no option that would clear nosuid, nodev or noexec', () => {
    for (const o of ['suid', 'dev', 'exec']) expect(checkOption(kind.options, o)).toBe(`unknown option "${o}"`);
  });
});

describe('SysfsMountKind', () => {
  const kind = new SysfsMountKind();

  it('mounts sysfs nosuid, nodev, noexec and read-only', () => {
    const [op] = kind.plan({ type: 'sysfs', destination: '/sys' });
    expect(op).toEqual({
      op: 'mount',
      fstype: 'sysfs',
      source: 'sysfs',
      target: '/sys',
      flags: ['nosuid', 'nodev', 'noexec', 'ro'],
    });
  });

  it('is read-write only when rw is given', () => {
    const [op] = kind.plan({ type: 'sysfs', destination: '/sys', options: ['rw'] });
    expect(op.op === 'mount' && mountFlags(op.flags ?? [])).toBe(MS_NOSUID | MS_NODEV | MS_NOEXEC);
    const [ro] = kind.plan({ type: 'sysfs', destination: '/sys', options: ['nosuid'] });
    expect(ro.op === 'mount' && mountFlags(ro.flags ?? [])).toBe(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
  });
});

describe('MqueueMountKind', () => {
  it('mounts mqueue nosuid, nodev, noexec', () => {
    expect(new MqueueMountKind().plan({ type: 'mqueue', source: 'mq', destination: '/dev/mqueue' })).toEqual([
      { op: 'mount', fstype: 'mqueue', source: 'mq', target: '/dev/mqueue', flags: ['nosuid', 'nodev', 'noexec'] },
    ]);
  });
});

describe('TmpfsMountKind', () => {
  const kind = new TmpfsMountKind();

  it('mounts a tmpfs with the options as given', () => {
    expect(
      kind.plan({ type: 'tmpfs', destination: '/tmp', options: ['nosuid', 'nodev', 'size=64m', 'mode=1777', 'uid=0'] }),
    ).toEqual([
      {
        op: 'mount',
        fstype: 'tmpfs',
        source: 'tmpfs',
        target: '/tmp',
        flags: ['nosuid', 'nodev'],
        data: ['size=64m', 'mode=1777', 'uid=0'],
      },
    ]);
  });

  it('mounts a bare tmpfs without flags or data', () => {
    expect(kind.plan({ type: 'tmpfs', destination: '/t' })).toEqual([
      { op: 'mount', fstype: 'tmpfs', source: 'tmpfs', target: '/t' },
    ]);
  });

  it('describes its options', () => {
    expect(checkOption(kind.options, 'size=10%')).toBeUndefined();
    expect(checkOption(kind.options, 'nr_inodes=1k')).toBeUndefined();
    expect(checkOption(kind.options, 'mode=1777')).toBeUndefined();
    expect(checkOption(kind.options, 'mode=9')).toBe('option "mode": "9" is not a valid octal');
    expect(checkOption(kind.options, 'bind')).toBe('unknown option "bind"');
  });
});

describe('DevptsMountKind', () => {
  it('mounts a new devpts instance with the options as data', () => {
    expect(
      new DevptsMountKind().plan({
        type: 'devpts',
        source: 'devpts',
        destination: '/dev/pts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      }),
    ).toEqual([
      {
        op: 'mount',
        fstype: 'devpts',
        source: 'devpts',
        target: '/dev/pts',
        flags: ['nosuid', 'noexec'],
        data: ['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
    ]);
  });
});

describe('DevMountKind', () => {
  const kind = new DevMountKind();
  const nodes = (dir: string) => [
    { op: 'mknod', target: `${dir}/null`, kind: 'char', major: 1, minor: 3, mode: 0o666, fallback: '/dev/null' },
    { op: 'mknod', target: `${dir}/zero`, kind: 'char', major: 1, minor: 5, mode: 0o666, fallback: '/dev/zero' },
    { op: 'mknod', target: `${dir}/full`, kind: 'char', major: 1, minor: 7, mode: 0o666, fallback: '/dev/full' },
    { op: 'mknod', target: `${dir}/random`, kind: 'char', major: 1, minor: 8, mode: 0o666, fallback: '/dev/random' },
    { op: 'mknod', target: `${dir}/urandom`, kind: 'char', major: 1, minor: 9, mode: 0o666, fallback: '/dev/urandom' },
    { op: 'mknod', target: `${dir}/tty`, kind: 'char', major: 5, minor: 0, mode: 0o666, fallback: '/dev/tty' },
    { op: 'symlink', target: `${dir}/fd`, link: '/proc/self/fd' },
    { op: 'symlink', target: `${dir}/stdin`, link: '/proc/self/fd/0' },
    { op: 'symlink', target: `${dir}/stdout`, link: '/proc/self/fd/1' },
    { op: 'symlink', target: `${dir}/stderr`, link: '/proc/self/fd/2' },
    { op: 'symlink', target: `${dir}/ptmx`, link: 'pts/ptmx' },
  ];

  it('mounts a tmpfs with the default nodes and symlinks', () => {
    expect(kind.plan({ type: 'dev', destination: '/dev' })).toEqual([
      {
        op: 'mount',
        fstype: 'tmpfs',
        source: 'tmpfs',
        target: '/dev',
        flags: ['nosuid', 'strictatime'],
        data: ['mode=755', 'size=65536k'],
      },
      ...nodes('/dev'),
    ]);
  });

  it('does not double the slash for a destination with a trailing slash', () => {
    const ops = kind.plan({ type: 'dev', destination: '/dev/' });
    expect(ops.slice(1)).toEqual(nodes('/dev'));
    expect(ops.map((op) => op.target).filter((t) => t.includes('//'))).toEqual([]);
  });

  it('puts nodes below another destination, still falling back to the host /dev', () => {
    const ops = kind.plan({ type: 'dev', source: 'devtmp', destination: '/mnt/dev', options: ['mode=700', 'noexec'] });
    expect(ops[0]).toEqual({
      op: 'mount',
      fstype: 'tmpfs',
      source: 'devtmp',
      target: '/mnt/dev',
      flags: ['nosuid', 'strictatime', 'noexec'],
      data: ['mode=700', 'size=65536k'],
    });
    expect(ops.slice(1)).toEqual(nodes('/mnt/dev'));
  });

  it('exports the default device and symlink tables', () => {
    expect(DEFAULT_DEVICES.map((d) => `${d.name}:${d.major}:${d.minor}`)).toEqual([
      'null:1:3',
      'zero:1:5',
      'full:1:7',
      'random:1:8',
      'urandom:1:9',
      'tty:5:0',
    ]);
    expect(DEFAULT_DEV_SYMLINKS.map(([n]) => n)).toEqual(['fd', 'stdin', 'stdout', 'stderr', 'ptmx']);
  });
});

describe('every built-in kind', () => {
  const kinds: MountKind[] = [
    new ProcMountKind(),
    new SysfsMountKind(),
    new DevMountKind(),
    new DevptsMountKind(),
    new TmpfsMountKind(),
    new MqueueMountKind(),
    new BindMountKind(),
    new OverlayMountKind(),
  ];
  const samples: Record<string, MountSpec> = {
    proc: { type: 'proc', destination: '/proc', options: ['ro', 'hidepid=2'] },
    sysfs: { type: 'sysfs', destination: '/sys', options: ['rw'] },
    dev: { type: 'dev', destination: '/dev', options: ['size=1m', 'mode=755'] },
    devpts: { type: 'devpts', destination: '/dev/pts', options: ['newinstance', 'gid=5'] },
    tmpfs: { type: 'tmpfs', destination: '/tmp', options: ['size=1m', 'exec'] },
    mqueue: { type: 'mqueue', destination: '/dev/mqueue', options: ['ro'] },
    bind: { type: 'bind', source: '/srv', destination: '/srv', options: ['ro', 'rshared', 'nosuid'] },
    overlay: { type: 'overlay', destination: '/o', options: ['lowerdir=/a:/b', 'tmpfs-upper', 'nodev'] },
  };

  it('has a distinct type, a description and options with descriptions', () => {
    expect(kinds.map((k) => k.type)).toEqual(['proc', 'sysfs', 'dev', 'devpts', 'tmpfs', 'mqueue', 'bind', 'overlay']);
    for (const k of kinds) {
      expect(k.description.length, k.type).toBeGreaterThan(10);
      for (const o of k.options) expect(o.description.length, `${k.type} ${o.name}`).toBeGreaterThan(0);
    }
  });

  it('accepts its sample options and plans ops the stage accepts', () => {
    for (const k of kinds) {
      const sample = samples[k.type];
      for (const o of sample.options ?? []) expect(checkOption(k.options, o), `${k.type} ${o}`).toBeUndefined();
      const ops = k.plan(sample, ctx);
      expect(ops.length, k.type).toBeGreaterThan(0);
      expect(validateOps(ops), k.type).toEqual([]);
    }
  });

  it('keep their class names (error messages about conflicting plugins name them)', () => {
    expect(kinds.map((k) => k.constructor.name)).toEqual([
      'ProcMountKind',
      'SysfsMountKind',
      'DevMountKind',
      'DevptsMountKind',
      'TmpfsMountKind',
      'MqueueMountKind',
      'BindMountKind',
      'OverlayMountKind',
    ]);
  });

  it('are what the package exports by default, one module each', () => {
    expect(builtins).toBe(builtinModules);
    // 10 mount kinds (cgroup and cgroup2 are two) and 5 rootfs sources.
    expect(builtinModules.length).toBe(15);
    for (const m of builtinModules) expect(typeof m.load).toBe('function');
  });
});
