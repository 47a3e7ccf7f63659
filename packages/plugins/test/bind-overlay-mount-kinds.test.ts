// The bind and overlay kinds and the tmpfs aliases: plans exactly, conflicts, and through the engine.
// Each kind is planned through a registry of its own, the way the engine does it: options checked and
// canonical (aliases → names) before plan(), and a problem prefixed with the mount it is about.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOption, createEngine, type Engine, MountKindRegistry, type MountSpec, SpecError } from '@builder/core';
import { validateOps } from '@builder/native/pure';
import { BindMountKind, OverlayMountKind, PROPAGATIONS, splitLowerdirs, TmpfsMountKind } from '@builder/plugins';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

const ctx = { runId: '0123456789ab', user: { uid: 0, gid: 0 } };

describe('BindMountKind', () => {
  const kind = new BindMountKind();
  const registry = new MountKindRegistry([kind]);
  const bind = (options?: string[], source: string | null = '/srv/data') =>
    registry.plan(
      { type: 'bind', ...(source !== null ? { source } : {}), destination: '/data', ...(options ? { options } : {}) },
      ctx,
    );
  const problem = (options?: string[], source: string | null = '/srv/data') => {
    const err = thrown(() => bind(options, source));
    expect(err).toBeInstanceOf(SpecError);
    return err.message;
  };

  it('is recursive and pinned by default, with no flags', () => {
    expect(kind.type).toBe('bind');
    expect(bind()).toEqual([{ op: 'bind', source: '/srv/data', target: '/data', recursive: true, pin: true }]);
  });

  it('carries per-mount flags in the order given, and a propagation', () => {
    expect(bind(['nosuid', 'ro', 'nodev', 'noexec', 'rshared'])).toEqual([
      {
        op: 'bind',
        source: '/srv/data',
        target: '/data',
        recursive: true,
        pin: true,
        flags: ['nosuid', 'ro', 'nodev', 'noexec'],
        propagation: 'rshared',
      },
    ]);
    expect(bind(['rw', 'suid', 'dev', 'exec'])[0]).toMatchObject({ flags: ['rw', 'suid', 'dev', 'exec'] });
  });

  it('is non-recursive with bind or bind-nonrecursive, recursive with rbind', () => {
    expect(bind(['bind'])[0]).toMatchObject({ recursive: false });
    expect(bind(['bind-nonrecursive'])[0]).toMatchObject({ recursive: false });
    expect(bind(['rbind'])[0]).toMatchObject({ recursive: true });
    expect(bind(['bind', 'bind-nonrecursive'])[0]).toMatchObject({ recursive: false });
  });

  it('takes readonly as ro', () => {
    expect(bind(['readonly'])[0]).toMatchObject({ flags: ['ro'] });
    expect(checkOption(kind.options, 'readonly')).toBeUndefined();
  });

  it('skips the pinning with nobind (which is no flag)', () => {
    expect(bind(['nobind', 'ro'])).toEqual([
      { op: 'bind', source: '/srv/data', target: '/data', recursive: true, pin: false, flags: ['ro'] },
    ]);
  });

  it('takes every propagation, bare or as bind-propagation=', () => {
    for (const p of PROPAGATIONS) {
      expect(bind([p])[0]).toMatchObject({ propagation: p });
      expect(bind([`bind-propagation=${p}`])[0]).toMatchObject({ propagation: p });
      expect(bind([p, `bind-propagation=${p}`])[0]).toMatchObject({ propagation: p });
    }
  });

  it('accepts z and Z and does nothing for them', () => {
    expect(bind(['z', 'Z'])).toEqual(bind());
  });

  it('collapses a repeated word', () => {
    expect(bind(['ro', 'nosuid', 'ro'])[0]).toMatchObject({ flags: ['ro', 'nosuid'] });
  });

  it('refuses contradictory options', () => {
    expect(problem(['ro', 'rw'])).toBe('mount on /data (type bind): conflicting options "ro" and "rw"');
    expect(problem(['readonly', 'rw'])).toBe('mount on /data (type bind): conflicting options "ro" and "rw"');
    expect(problem(['nosuid', 'suid'])).toBe('mount on /data (type bind): conflicting options "nosuid" and "suid"');
    expect(problem(['exec', 'noexec'])).toBe('mount on /data (type bind): conflicting options "exec" and "noexec"');
    expect(problem(['bind', 'rbind'])).toBe('mount on /data (type bind): conflicting options "bind" and "rbind"');
    expect(problem(['rbind', 'bind'])).toBe('mount on /data (type bind): conflicting options "rbind" and "bind"');
    expect(problem(['rbind', 'bind-nonrecursive'])).toBe(
      'mount on /data (type bind): conflicting options "rbind" and "bind"',
    );
    expect(problem(['shared', 'rprivate'])).toBe(
      'mount on /data (type bind): conflicting propagation options "shared" and "rprivate"',
    );
    expect(problem(['bind-propagation=slave', 'private'])).toBe(
      'mount on /data (type bind): conflicting propagation options "slave" and "private"',
    );
  });

  it('refuses an unknown propagation word', () => {
    expect(problem(['bind-propagation=rpublic'])).toBe(
      'mount on /data (type bind): bind-propagation "rpublic" is not one of private, rprivate, shared, rshared, slave, rslave, unbindable, runbindable',
    );
  });

  it('takes U as: give the source to the container user first', () => {
    const [op] = kind.plan(
      { type: 'bind', source: '/srv/data', destination: '/data', options: ['U'] },
      {
        runId: 'x',
        user: { uid: 1000, gid: 100 },
      },
    );
    expect(op).toMatchObject({ op: 'bind', source: '/srv/data', chown: { uid: 1000, gid: 100 } });
  });

  it('needs an absolute source', () => {
    expect(problem(undefined, null)).toBe('mount on /data (type bind): a source (the host path to bind) is required');
    expect(problem(undefined, '')).toBe('mount on /data (type bind): a source (the host path to bind) is required');
    expect(problem(undefined, 'srv/data')).toBe(
      'mount on /data (type bind): source "srv/data" must be an absolute path',
    );
  });

  it('describes its options: value kinds and aliases', () => {
    expect(checkOption(kind.options, 'bind-propagation=rslave')).toBeUndefined();
    expect(checkOption(kind.options, 'bind-propagation')).toBe('option "bind-propagation" needs a value');
    expect(checkOption(kind.options, 'ro=1')).toBe('option "ro" takes no value');
    expect(checkOption(kind.options, 'size=1m')).toBe('unknown option "size"');
    expect(checkOption(kind.options, 'noatime')).toBe('unknown option "noatime"');
    for (const o of ['bind-nonrecursive', 'nobind', 'z', 'Z', 'U', 'rbind', ...PROPAGATIONS])
      expect(checkOption(kind.options, o), o).toBeUndefined();
  });

  it('plans ops the stage accepts', () => {
    expect(validateOps(bind(['ro', 'nosuid', 'nodev', 'noexec', 'bind', 'runbindable', 'nobind']))).toEqual([]);
  });
});

describe('splitLowerdirs', () => {
  it('splits on colons, top first', () => {
    expect(splitLowerdirs('/a:/b:/c')).toEqual({ dirs: ['/a', '/b', '/c'] });
    expect(splitLowerdirs('/only')).toEqual({ dirs: ['/only'] });
  });

  it('unescapes \\: and \\\\', () => {
    expect(splitLowerdirs('/a\\:b:/c\\\\d')).toEqual({ dirs: ['/a:b', '/c\\d'] });
    expect(splitLowerdirs('/x\\\\:/y')).toEqual({ dirs: ['/x\\', '/y'] });
  });

  it('names the problem with a bad list', () => {
    expect(splitLowerdirs('/a::/b')).toEqual({ problem: 'lowerdir "/a::/b" has an empty path' });
    expect(splitLowerdirs('/a:rel')).toEqual({ problem: 'lowerdir "rel" must be an absolute path' });
    expect(splitLowerdirs('/a\\b')).toEqual({
      problem: 'lowerdir "/a\\b": a backslash must be followed by ":" or "\\"',
    });
    expect(splitLowerdirs('/a\\')).toEqual({
      problem: 'lowerdir "/a\\": a backslash must be followed by ":" or "\\"',
    });
  });
});

describe('OverlayMountKind', () => {
  const kind = new OverlayMountKind();
  const registry = new MountKindRegistry([kind]);
  const overlay = (options?: string[], source?: string) =>
    registry.plan(
      {
        type: 'overlay',
        destination: '/o',
        ...(source !== undefined ? { source } : {}),
        ...(options ? { options } : {}),
      },
      ctx,
    );
  const problem = (options?: string[], source?: string) => {
    const err = thrown(() => overlay(options, source));
    expect(err).toBeInstanceOf(SpecError);
    return err.message;
  };

  it('takes the source as the lower directory', () => {
    expect(kind.type).toBe('overlay');
    expect(overlay(['tmpfs-upper'], '/srv/base')).toEqual([
      { op: 'overlay', target: '/o', lowerdirs: ['/srv/base'], scratchUpper: true },
    ]);
  });

  it('is read-only without an upper layer, with one lower directory or more', () => {
    expect(overlay(['lowerdir=/a:/b'])).toEqual([{ op: 'overlay', target: '/o', lowerdirs: ['/a', '/b'] }]);
    expect(overlay(undefined, '/srv/base')).toEqual([{ op: 'overlay', target: '/o', lowerdirs: ['/srv/base'] }]);
  });

  it('takes lowerdirs top first, and ignores the source then (OCI specs say "overlay")', () => {
    expect(overlay(['lowerdir=/l/top:/l/mid:/l/base'], 'overlay')).toEqual([
      { op: 'overlay', target: '/o', lowerdirs: ['/l/top', '/l/mid', '/l/base'] },
    ]);
    expect(overlay(['lowerdir=/a\\:1:/b'])).toEqual([{ op: 'overlay', target: '/o', lowerdirs: ['/a:1', '/b'] }]);
  });

  it('is writable into a host upperdir with its workdir', () => {
    expect(overlay(['lowerdir=/l', 'upperdir=/u', 'workdir=/w', 'rw', 'nosuid'])).toEqual([
      { op: 'overlay', target: '/o', lowerdirs: ['/l'], upperdir: '/u', workdir: '/w', flags: ['rw', 'nosuid'] },
    ]);
  });

  it('is writable into a throw-away upper with tmpfs-upper', () => {
    expect(overlay(['tmpfs-upper', 'nodev', 'noexec', 'suid'], '/l')).toEqual([
      { op: 'overlay', target: '/o', lowerdirs: ['/l'], scratchUpper: true, flags: ['nodev', 'noexec', 'suid'] },
    ]);
  });

  it('carries ro, and the exec/dev/suid words', () => {
    expect(overlay(['ro', 'dev', 'exec', 'lowerdir=/l:/m'])).toEqual([
      { op: 'overlay', target: '/o', lowerdirs: ['/l', '/m'], flags: ['ro', 'dev', 'exec'] },
    ]);
  });

  it('needs a lower directory', () => {
    expect(problem()).toBe('mount on /o (type overlay): needs a lower directory: a lowerdir option or a source');
    expect(problem(undefined, 'rel')).toBe(
      'mount on /o (type overlay): source "rel" (the lower directory) must be an absolute path',
    );
    expect(problem(['lowerdir=/a:b'])).toBe('mount on /o (type overlay): lowerdir "b" must be an absolute path');
    expect(problem(['lowerdir=/a:'])).toBe('mount on /o (type overlay): lowerdir "/a:" has an empty path');
  });

  it('needs upperdir and workdir together, absolute, and not with tmpfs-upper', () => {
    expect(problem(['upperdir=/u'], '/l')).toBe(
      'mount on /o (type overlay): upperdir and workdir go together: give both',
    );
    expect(problem(['workdir=/w'], '/l')).toBe(
      'mount on /o (type overlay): upperdir and workdir go together: give both',
    );
    expect(problem(['upperdir=u', 'workdir=/w'], '/l')).toBe(
      'mount on /o (type overlay): upperdir "u" must be an absolute path',
    );
    expect(problem(['upperdir=/u', 'workdir=/w', 'tmpfs-upper'], '/l')).toBe(
      'mount on /o (type overlay): conflicting options "upperdir" and "tmpfs-upper"',
    );
  });

  it('refuses contradictions and rw without an upper', () => {
    expect(problem(['ro', 'rw', 'tmpfs-upper'], '/l')).toBe(
      'mount on /o (type overlay): conflicting options "ro" and "rw"',
    );
    expect(problem(['lowerdir=/a', 'lowerdir=/b'])).toBe(
      'mount on /o (type overlay): option "lowerdir" is given twice',
    );
    expect(problem(['rw'], '/l')).toBe(
      'mount on /o (type overlay): rw needs an upper layer (upperdir and workdir, or tmpfs-upper); without one the overlay is read-only',
    );
  });

  it('describes its options', () => {
    expect(checkOption(kind.options, 'lowerdir=/a:/b')).toBeUndefined();
    expect(checkOption(kind.options, 'tmpfs-upper')).toBeUndefined();
    expect(checkOption(kind.options, 'tmpfs-upper=1')).toBe('option "tmpfs-upper" takes no value');
    expect(checkOption(kind.options, 'upperdir')).toBe('option "upperdir" needs a value');
    expect(checkOption(kind.options, 'index=on')).toBe('unknown option "index"');
  });

  it('plans ops the stage accepts', () => {
    for (const options of [['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w'], ['tmpfs-upper', 'ro'], ['lowerdir=/x:/y']])
      expect(validateOps(overlay(options, '/l')), options.join(',')).toEqual([]);
  });
});

describe('TmpfsMountKind aliases (buildah dialect)', () => {
  const kind = new TmpfsMountKind();

  it('takes tmpfs-size and tmpfs-mode as size and mode', () => {
    expect(checkOption(kind.options, 'tmpfs-size=1m')).toBeUndefined();
    expect(checkOption(kind.options, 'tmpfs-mode=1777')).toBeUndefined();
    expect(checkOption(kind.options, 'tmpfs-mode=999')).toBe('option "tmpfs-mode": "999" is not a valid octal');
    const registry = new MountKindRegistry([kind]);
    const mount = { type: 'tmpfs', destination: '/t', options: ['tmpfs-size=1m', 'tmpfs-mode=700'] };
    expect(registry.plan(mount, ctx)).toEqual([
      { op: 'mount', fstype: 'tmpfs', source: 'tmpfs', target: '/t', data: ['size=1m', 'mode=700'] },
    ]);
  });

  it('keeps refusing anything else', () => {
    for (const o of ['tmpfs-uid=1', 'bind', 'rbind', 'lowerdir=/x', 'nobind'])
      expect(checkOption(kind.options, o), o).toMatch(/^unknown option/);
  });
});

describe('through the engine (createEngine, built packages)', () => {
  let engine: Engine;
  let dir: string;
  let rootfs: string;
  beforeAll(async () => {
    engine = await createEngine();
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'builder-plugins-')));
    rootfs = join(dir, 'rootfs');
    for (const d of ['rootfs', 'src', 'lower1', 'lower2', 'up', 'work']) mkdirSync(join(dir, d));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const userOps = (mounts: MountSpec[]) => {
    // The mounts' ops, without what comes after every mount: the masked and read-only paths, and the
    // generated /etc/hosts, /etc/hostname and /etc/resolv.conf.
    const ops = engine
      .plan({ argv: ['true'], rootfs, mounts })
      .ops.filter((op) => op.op !== 'mask' && op.op !== 'readonly' && !(op.op === 'file' && op.content));
    return ops.slice(ops.length - mounts.length);
  };
  const planError = (mount: MountSpec) => {
    const err = thrown(() => engine.plan({ argv: ['true'], rootfs, mounts: [mount] }));
    expect(err).toBeInstanceOf(SpecError);
    return err.message;
  };

  it('lists bind and overlay among the built-in kinds', () => {
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
    expect(tmpfs?.options.find((o) => o.name === 'size')).toMatchObject({ aliases: ['tmpfs-size'] });
  });

  it('canonicalizes aliases before the kinds plan', () => {
    const src = join(dir, 'src');
    expect(
      userOps([
        { type: 'tmpfs', destination: '/t', options: ['tmpfs-size=1m', 'tmpfs-mode=1777', 'nosuid'] },
        { type: 'bind', source: src, destination: '/b', options: ['readonly', 'bind-nonrecursive', 'nobind'] },
      ]),
    ).toEqual([
      {
        op: 'mount',
        fstype: 'tmpfs',
        source: 'tmpfs',
        target: '/t',
        flags: ['nosuid'],
        data: ['size=1m', 'mode=1777'],
      },
      { op: 'bind', source: src, target: '/b', recursive: false, pin: false, flags: ['ro'] },
    ]);
  });

  it('plans binds and overlays after the default mounts', () => {
    const [src, l1, l2, up, work] = ['src', 'lower1', 'lower2', 'up', 'work'].map((d) => join(dir, d));
    expect(
      userOps([
        { type: 'bind', source: src, destination: '/src', options: ['ro', 'bind-propagation=rslave'] },
        { type: 'overlay', source: 'overlay', destination: '/o', options: [`lowerdir=${l1}:${l2}`, 'tmpfs-upper'] },
        { type: 'overlay', destination: '/p', source: l1, options: [`upperdir=${up}`, `workdir=${work}`, 'rw'] },
      ]),
    ).toEqual([
      { op: 'bind', source: src, target: '/src', recursive: true, pin: true, flags: ['ro'], propagation: 'rslave' },
      { op: 'overlay', target: '/o', lowerdirs: [l1, l2], scratchUpper: true },
      { op: 'overlay', target: '/p', lowerdirs: [l1], upperdir: up, workdir: work, flags: ['rw'] },
    ]);
  });

  it('replaces a default mount with a bind', () => {
    const src = join(dir, 'src');
    const ops = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [{ type: 'bind', source: src, destination: '/sys' }],
    }).ops;
    expect(ops.filter((op) => op.target === '/sys')).toEqual([
      { op: 'bind', source: src, target: '/sys', recursive: true, pin: true },
    ]);
  });

  it('gives one error line naming the mount', () => {
    expect(planError({ type: 'bind', source: join(dir, 'src'), destination: '/b', options: ['ro', 'rw'] })).toBe(
      'mount on /b (type bind): conflicting options "ro" and "rw"',
    );
    expect(planError({ type: 'bind', source: join(dir, 'missing'), destination: '/b' })).toBe(
      `mount on /b (type bind): bind source "${join(dir, 'missing')}" does not exist`,
    );
    expect(
      planError({
        type: 'overlay',
        destination: '/o',
        options: [`lowerdir=${join(dir, 'nope')}:${join(dir, 'lower1')}`],
      }),
    ).toBe(`mount on /o (type overlay): overlay lowerdir "${join(dir, 'nope')}" does not exist`);
    expect(planError({ type: 'bind', source: join(dir, 'src'), destination: '/b', options: ['robind'] })).toMatch(
      /^mount on \/b \(type bind\): unknown option "robind"/,
    );
    expect(planError({ type: 'tmpfs', destination: '/t', options: ['tmpfs-size=huge'] })).toBe(
      'mount on /t (type tmpfs): option "tmpfs-size": "huge" is not a valid size',
    );
  });
});
