// Every built-in mount kind end to end, through the library API: what the container sees in its
// /proc/self/mountinfo, what it can do with the mount, and what the host sees before and after.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BuilderError, createEngine, type Engine, type MountSpec } from '@builder/core';
import { type MountInfo, parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/cli.js';
import { inside, removeCaptures, runScript } from '../helpers/engine-run.js';
import { hostMounts, mountsUnder, requireRoot, runrootLeftovers } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

let engine: Engine;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
/** A private temp directory for the rootfs directories, bind sources, overlay layers and odd rootfs layouts. */
let scratch: string;
/** A bind source with a file, and a directory `sub` on which the host has a tmpfs mounted. */
let tree: string;
let mountsBefore: string;

beforeAll(async () => {
  requireRoot();
  engine = await createEngine();
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-kinds-')));
  rootfs = makeBusyboxRootfs([], scratch);
  tree = join(scratch, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'top.txt'), 'top\n');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'builder-e2e-sub', join(tree, 'sub')]);
  writeFileSync(join(tree, 'sub', 'inner.txt'), 'inner\n');
});
afterAll(() => {
  removeCaptures();
  if (tree && mountsUnder(tree).includes(' builder-e2e-sub ')) execFileSync('umount', [join(tree, 'sub')]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// Invariant 1: the host's mounts under the test's directory and the run directories are the same
// before and after every test.
beforeEach(() => {
  mountsBefore = mountsUnder(scratch);
});
afterEach(() => {
  expect(mountsUnder(scratch)).toBe(mountsBefore);
});

const at = (mounts: Map<string, MountInfo>, point: string): MountInfo => {
  const m = mounts.get(point);
  if (!m) throw new Error(`nothing is mounted on ${point} inside; mount points: ${[...mounts.keys()].join(' ')}`);
  return m;
};

/** The host mount a path lives on (the last, i.e. topmost, of the longest matching mount points). */
function hostMountOf(path: string): MountInfo {
  let best: MountInfo | undefined;
  for (const m of parseMountInfo(hostMounts())) {
    const under = m.mountPoint === '/' || path === m.mountPoint || path.startsWith(`${m.mountPoint}/`);
    if (under && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  if (!best) throw new Error(`no host mount holds ${path}`);
  return best;
}

const ATIME_WORDS = ['noatime', 'nodiratime', 'relatime'];

/**
 * Check that `m` is a bind of the host path `source`: same filesystem (type, source, super
 * options), rooted at the path, with exactly the per-mount flags given (in the kernel's order).
 */
function expectBindOf(
  m: MountInfo,
  source: string,
  flags: { ro?: boolean; nosuid?: boolean; nodev?: boolean; noexec?: boolean },
) {
  const host = hostMountOf(source);
  expect(m.fstype).toBe(host.fstype);
  expect(m.source).toBe(host.source);
  expect(m.superOptions).toEqual(host.superOptions);
  expect(m.root).toBe(join(host.root, relative(host.mountPoint, source)));
  expect(m.options).toEqual([
    flags.ro ? 'ro' : 'rw',
    ...(['nosuid', 'nodev', 'noexec'] as const).filter((f) => flags[f]),
    ...host.options.filter((o) => ATIME_WORDS.includes(o)),
  ]);
}

/** Super options of an overlay without the feature words the kernel adds from its configuration. */
const overlaySuper = (m: MountInfo) =>
  m.superOptions.filter((o) => !/^(redirect_dir|uuid|index|xino|metacopy|nfs_export)=/.test(o));

describe('bind', () => {
  it('binds a directory read-write: writes reach the host', async () => {
    const src = join(scratch, 'rw-src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'from host\n');
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: src, destination: '/b' }],
      'cat /b/a.txt; echo from container > /b/w.txt',
    );
    expectBindOf(at(mounts, '/b'), src, {});
    expect(at(mounts, '/b').optional).toEqual([]); // private: the stage made everything rprivate
    expect(out).toBe('from host\n');
    expect(readFileSync(join(src, 'w.txt'), 'utf8')).toBe('from container\n');
  });

  it('binds a directory read-only: ro in the mount options, writes fail', async () => {
    const src = join(scratch, 'ro-src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'x');
    for (const ro of ['ro', 'readonly']) {
      const { mounts, out } = await inside(
        engine,
        rootfs.path,
        [{ type: 'bind', source: src, destination: '/b', options: [ro] }],
        'echo no > /b/a.txt; echo no > /b/new.txt; cat /b/a.txt',
      );
      expectBindOf(at(mounts, '/b'), src, { ro: true });
      expect(out).toBe(
        "sh: can't create /b/a.txt: Read-only file system\nsh: can't create /b/new.txt: Read-only file system\nx",
      );
    }
    expect(readdirSync(src)).toEqual(['a.txt']);
  });

  it('binds a single file, creating the file and its directory in the rootfs for the run only', async () => {
    const file = join(scratch, 'single.conf');
    writeFileSync(file, 'key=value\n');
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: file, destination: '/etc/app/single.conf', options: ['ro'] }],
      'cat /etc/app/single.conf; stat -c %F /etc/app/single.conf',
    );
    expectBindOf(at(mounts, '/etc/app/single.conf'), file, { ro: true });
    expect(out).toBe('key=value\nregular file\n');
    expect(existsSync(join(rootfs.path, 'etc'))).toBe(false);
  });

  it('a recursive read-only bind carries the submount, read-only too', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: tree, destination: '/t', options: ['ro'] }],
      'cat /t/sub/inner.txt; echo no > /t/sub/inner.txt; echo no > /t/sub/new.txt; echo no > /t/new.txt',
    );
    expectBindOf(at(mounts, '/t'), tree, { ro: true });
    const sub = at(mounts, '/t/sub');
    expect(sub.fstype).toBe('tmpfs');
    expect(sub.source).toBe('builder-e2e-sub');
    expect(sub.options[0]).toBe('ro');
    expect(sub.superOptions).toEqual(['rw', 'size=1024k']);
    expect(out).toBe(
      [
        'inner',
        "sh: can't create /t/sub/inner.txt: Read-only file system",
        "sh: can't create /t/sub/new.txt: Read-only file system",
        "sh: can't create /t/new.txt: Read-only file system",
        '',
      ].join('\n'),
    );
    expect(readFileSync(join(tree, 'sub', 'inner.txt'), 'utf8')).toBe('inner\n');
    // The host's own submount stays read-write.
    expect(hostMountOf(join(tree, 'sub')).options[0]).toBe('rw');
  });

  it('rbind is the default; bind and bind-nonrecursive leave the submount out', async () => {
    const recursive = await inside(engine, rootfs.path, [{ type: 'bind', source: tree, destination: '/t' }]);
    expect(recursive.mounts.has('/t/sub')).toBe(true);
    for (const word of ['bind', 'bind-nonrecursive']) {
      const { mounts, out } = await inside(
        engine,
        rootfs.path,
        [{ type: 'bind', source: tree, destination: '/t', options: [word] }],
        'ls -A /t/sub; cat /t/top.txt',
      );
      expectBindOf(at(mounts, '/t'), tree, {});
      expect(mounts.has('/t/sub')).toBe(false);
      expect(out).toBe('top\n'); // the directory under the host's tmpfs is empty
    }
  });

  it('sets the propagation: rshared shows a shared: peer group, the default none', async () => {
    const src = join(scratch, 'prop-src');
    mkdirSync(src);
    for (const options of [['rshared'], ['bind-propagation=shared']]) {
      const { mounts } = await inside(engine, rootfs.path, [{ type: 'bind', source: src, destination: '/b', options }]);
      expect(at(mounts, '/b').optional, options[0]).toEqual([expect.stringMatching(/^shared:\d+$/)]);
    }
    const { mounts } = await inside(engine, rootfs.path, [
      { type: 'bind', source: tree, destination: '/t', options: ['bind-propagation=rshared'] },
    ]);
    expect(at(mounts, '/t').optional).toEqual([expect.stringMatching(/^shared:\d+$/)]);
    expect(at(mounts, '/t/sub').optional).toEqual([expect.stringMatching(/^shared:\d+$/)]);
    const plain = await inside(engine, rootfs.path, [{ type: 'bind', source: src, destination: '/b' }]);
    expect(at(plain.mounts, '/b').optional).toEqual([]);
  });

  it('sets nosuid, nodev and noexec', async () => {
    const src = join(scratch, 'flags-src');
    mkdirSync(src);
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: src, destination: '/b', options: ['nosuid', 'nodev', 'noexec', 'z'] }],
      '/b/run.sh; echo status=$?',
    );
    expectBindOf(at(mounts, '/b'), src, { nosuid: true, nodev: true, noexec: true });
    expect(out).toBe('sh: /b/run.sh: Permission denied\nstatus=126\n');
    const exec = await inside(engine, rootfs.path, [{ type: 'bind', source: src, destination: '/b' }], '/b/run.sh');
    expect(exec.out).toBe('ran\n');
  });

  it('nobind gives the same mount, rooted at the host path', async () => {
    const src = join(scratch, 'nobind-src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a\n');
    const pinned = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: src, destination: '/b', options: ['ro'] }],
      'cat /b/a.txt',
    );
    const direct = await inside(
      engine,
      rootfs.path,
      [{ type: 'bind', source: src, destination: '/b', options: ['ro', 'nobind'] }],
      'cat /b/a.txt',
    );
    for (const run of [pinned, direct]) {
      expectBindOf(at(run.mounts, '/b'), src, { ro: true });
      expect(run.out).toBe('a\n');
    }
    // Rooted at src itself: src's path in the host mount that holds it, below that mount's own root.
    const host = hostMountOf(src);
    expect(at(direct.mounts, '/b').root).toBe(join(host.root, relative(host.mountPoint, src)));
    const { id: _a, parentId: _b, ...rest } = at(pinned.mounts, '/b');
    const { id: _c, parentId: _d, ...restDirect } = at(direct.mounts, '/b');
    expect(restDirect).toEqual(rest);
  });

  it('pins the source where the host cannot see it, and leaves nothing behind', async () => {
    const src = join(scratch, 'staged-src');
    mkdirSync(src);
    const ctl = join(scratch, 'staged-ctl');
    mkdirSync(ctl);
    const running = runScript(
      engine,
      rootfs.path,
      [
        { type: 'bind', source: src, destination: '/b' },
        { type: 'bind', source: ctl, destination: '/ctl' },
      ],
      'touch /ctl/started; while [ ! -e /ctl/go ]; do sleep 0.05; done',
    );
    try {
      await waitFor('the command to start', () => (existsSync(join(ctl, 'started')) ? true : undefined));
      // While the run goes on, neither the pinned copy nor the container's mounts are visible here.
      expect(mountsUnder(scratch)).toBe(mountsBefore);
      expect(runrootLeftovers('/run/builder')).toEqual([]);
    } finally {
      writeFileSync(join(ctl, 'go'), '');
    }
    expect((await running).result.exitCode).toBe(0);
    expect(runrootLeftovers('/run/builder')).toEqual([]);
  });
});

describe('tmpfs', () => {
  it('takes size, mode, uid, gid and nr_inodes', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [
        {
          type: 'tmpfs',
          destination: '/t1',
          options: ['size=1m', 'mode=1777', 'uid=1000', 'gid=1000', 'nr_inodes=100'],
        },
        { type: 'tmpfs', source: 'scratch', destination: '/t2', options: ['size=2m', 'mode=700', 'nosuid', 'noexec'] },
      ],
      'stat -c "%a %u %g" /t1 /t2',
    );
    const t1 = at(mounts, '/t1');
    expect([t1.fstype, t1.source]).toEqual(['tmpfs', 'tmpfs']);
    expect(t1.options).toEqual(['rw', 'relatime']);
    // mode=1777 is tmpfs' default, so the kernel does not show it.
    expect(t1.superOptions).toEqual(['rw', 'size=1024k', 'nr_inodes=100', 'uid=1000', 'gid=1000']);
    const t2 = at(mounts, '/t2');
    expect([t2.fstype, t2.source]).toEqual(['tmpfs', 'scratch']);
    expect(t2.options).toEqual(['rw', 'nosuid', 'noexec', 'relatime']);
    expect(t2.superOptions).toEqual(['rw', 'size=2048k', 'mode=700']);
    expect(out).toBe('1777 1000 1000\n700 0 0\n');
  });

  it("takes buildah's tmpfs-size and tmpfs-mode", async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'tmpfs', destination: '/t', options: ['tmpfs-size=1m', 'tmpfs-mode=750'] }],
      'stat -c %a /t',
    );
    expect(at(mounts, '/t').superOptions).toEqual(['rw', 'size=1024k', 'mode=750']);
    expect(out).toBe('750\n');
  });

  it('is read-only with ro', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'tmpfs', destination: '/t', options: ['ro'] }],
      'touch /t/x',
    );
    expect(at(mounts, '/t').options).toEqual(['ro', 'relatime']);
    expect(out).toBe('touch: /t/x: Read-only file system\n');
  });
});

describe('overlay', () => {
  let top: string;
  let bottom: string;
  const listing = (dir: string) =>
    readdirSync(dir)
      .sort()
      .map((f) => `${f}=${readFileSync(join(dir, f), 'utf8')}`);

  beforeAll(() => {
    top = join(scratch, 'lower-top');
    bottom = join(scratch, 'lower-bottom');
    mkdirSync(top);
    mkdirSync(bottom);
    writeFileSync(join(top, 'f'), 'from top\n');
    writeFileSync(join(bottom, 'f'), 'from bottom\n');
    writeFileSync(join(bottom, 'g'), 'only in bottom\n');
  });

  it('stacks two lowerdirs, top first, read-only', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'overlay', source: 'overlay', destination: '/o', options: [`lowerdir=${top}:${bottom}`] }],
      'cat /o/f /o/g; echo x > /o/new',
    );
    const o = at(mounts, '/o');
    expect([o.fstype, o.source, o.root]).toEqual(['overlay', 'overlay', '/']);
    expect(o.options).toEqual(['rw', 'relatime']);
    expect(overlaySuper(o)).toEqual(['ro', `lowerdir=${top}:${bottom}`]);
    expect(out).toBe("from top\nonly in bottom\nsh: can't create /o/new: Read-only file system\n");
  });

  it('takes the source as the single lowerdir under an upper layer; ro makes the mount read-only', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'overlay', source: bottom, destination: '/o', options: ['tmpfs-upper', 'ro', 'nodev'] }],
      'cat /o/f; touch /o/f',
    );
    const o = at(mounts, '/o');
    expect(o.options).toEqual(['ro', 'nodev', 'relatime']);
    // ro on a new overlay makes its superblock read-only too.
    expect(overlaySuper(o)).toEqual([
      'ro',
      `lowerdir=${bottom}`,
      expect.stringMatching(/^upperdir=\/run\/builder\/scratch\/[^,]+\/upper$/),
      expect.stringMatching(/^workdir=\/run\/builder\/scratch\/[^,]+\/work$/),
    ]);
    expect(out).toBe('from bottom\ntouch: /o/f: Read-only file system\n');
  });

  it('is read-only with a single lowerdir and no upper layer (an empty layer goes below)', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'overlay', source: bottom, destination: '/o' }],
      'cat /o/f; touch /o/f 2>&1; true',
    );
    const o = at(mounts, '/o');
    expect(o.fstype).toBe('overlay');
    expect(overlaySuper(o)).toEqual([
      'ro',
      expect.stringMatching(new RegExp(`^lowerdir=${bottom}:/run/builder/scratch/empty-\\d+$`)),
    ]);
    expect(out).toBe('from bottom\ntouch: /o/f: Read-only file system\n');
  });

  it('is writable with tmpfs-upper, and the lowerdirs stay unchanged', async () => {
    const before = [listing(top), listing(bottom)];
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [{ type: 'overlay', destination: '/o', options: [`lowerdir=${top}:${bottom}`, 'tmpfs-upper'] }],
      'echo changed > /o/f; echo new > /o/new; rm /o/g; cat /o/f /o/new; ls /o',
    );
    const o = at(mounts, '/o');
    expect(o.options).toEqual(['rw', 'relatime']);
    expect(overlaySuper(o)).toEqual([
      'rw',
      `lowerdir=${top}:${bottom}`,
      expect.stringMatching(/^upperdir=\/run\/builder\/scratch\/[^,]+\/upper$/),
      expect.stringMatching(/^workdir=\/run\/builder\/scratch\/[^,]+\/work$/),
    ]);
    expect(out).toBe('changed\nnew\nf\nnew\n');
    expect([listing(top), listing(bottom)]).toEqual(before);
  });

  it('writes into the host upperdir with upperdir and workdir', async () => {
    const upper = join(scratch, 'upper');
    const work = join(scratch, 'work');
    mkdirSync(upper);
    mkdirSync(work);
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [
        {
          type: 'overlay',
          destination: '/o',
          options: [`lowerdir=${top}:${bottom}`, `upperdir=${upper}`, `workdir=${work}`, 'rw', 'nosuid'],
        },
      ],
      'echo written > /o/new; echo changed > /o/f; cat /o/g',
    );
    const o = at(mounts, '/o');
    expect(o.options).toEqual(['rw', 'nosuid', 'relatime']);
    expect(overlaySuper(o)).toEqual(['rw', `lowerdir=${top}:${bottom}`, `upperdir=${upper}`, `workdir=${work}`]);
    expect(out).toBe('only in bottom\n');
    expect(listing(upper)).toEqual(['f=changed\n', 'new=written\n']);
    expect(readFileSync(join(top, 'f'), 'utf8')).toBe('from top\n');
  });
});

describe('devpts, proc, sysfs, mqueue', () => {
  let mounts: Map<string, MountInfo>;
  let out: string;
  beforeAll(async () => {
    ({ mounts, out } = await inside(
      engine,
      rootfs.path,
      [
        {
          type: 'devpts',
          destination: '/mnt/pts',
          options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0600', 'mode=0600', 'gid=5', 'max=8'],
        },
        { type: 'proc', destination: '/p', options: ['hidepid=2'] },
        { type: 'sysfs', destination: '/s' },
        { type: 'sysfs', destination: '/s-rw', options: ['rw'] },
        { type: 'mqueue', destination: '/mq' },
      ],
      'ls /p | grep -c "^[0-9]"; stat -c %a /mnt/pts/ptmx',
    ));
  });

  it('devpts: a new instance with its options', () => {
    const m = at(mounts, '/mnt/pts');
    expect([m.fstype, m.source]).toEqual(['devpts', 'devpts']);
    expect(m.options).toEqual(['rw', 'nosuid', 'noexec', 'relatime']);
    expect(m.superOptions).toEqual(['rw', 'gid=5', 'mode=600', 'ptmxmode=600', 'max=8']);
    expect(out.split('\n')[1]).toBe('600');
  });

  it("proc: the container's PID namespace, always nosuid, nodev, noexec", () => {
    const m = at(mounts, '/p');
    expect([m.fstype, m.source]).toEqual(['proc', 'proc']);
    expect(m.options).toEqual(['rw', 'nosuid', 'nodev', 'noexec', 'relatime']);
    expect(m.superOptions).toEqual(['rw', 'hidepid=invisible']);
    // sh, ls and grep: only the container's processes.
    expect(Number(out.split('\n')[0])).toBeLessThanOrEqual(3);
  });

  it('sysfs: always nosuid, nodev, noexec; read-only unless rw', () => {
    for (const [point, ro] of [
      ['/s', 'ro'],
      ['/s-rw', 'rw'],
    ]) {
      const m = at(mounts, point);
      expect([m.fstype, m.source]).toEqual(['sysfs', 'sysfs']);
      expect(m.options).toEqual([ro, 'nosuid', 'nodev', 'noexec', 'relatime']);
    }
  });

  it('mqueue: nosuid, nodev, noexec', () => {
    const m = at(mounts, '/mq');
    expect([m.fstype, m.source]).toEqual(['mqueue', 'mqueue']);
    expect(m.options).toEqual(['rw', 'nosuid', 'nodev', 'noexec', 'relatime']);
    expect(m.superOptions).toEqual(['rw']);
  });
});

/** Every entry below `root` (and root itself): path, type, mode and mtime, from lstat. */
function treeListing(root: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    const type = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
    out.push(`${relative(root, path) || '.'} ${type} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`);
    if (st.isDirectory()) for (const e of readdirSync(path).sort()) walk(join(path, e));
  };
  walk(root);
  return out;
}

/** Give every directory below `root` an old mtime, so that a change cannot hide in the same millisecond. */
function ageDirs(root: string): void {
  const old = new Date('2001-02-03T04:05:06Z');
  const walk = (path: string) => {
    if (!lstatSync(path).isDirectory()) return;
    for (const e of readdirSync(path)) walk(join(path, e));
    utimesSync(path, old, old);
  };
  walk(root);
}

describe('safety', () => {
  it('(a) a rootfs symlink /tmp -> /etc redirects a mount into the rootfs, never to the host /etc', async () => {
    const fs = makeBusyboxRootfs(['etc'], scratch);
    const name = `builder-e2e-${process.pid}`;
    try {
      symlinkSync('/etc', join(fs.path, 'tmp'));
      expect(existsSync(join('/etc', name))).toBe(false);
      const { mounts, out } = await inside(
        engine,
        fs.path,
        [{ type: 'tmpfs', destination: `/tmp/${name}`, options: ['size=1m'] }],
        `readlink /tmp; echo hi > /tmp/${name}/f; cat /etc/${name}/f`,
      );
      expect(at(mounts, `/etc/${name}`).fstype).toBe('tmpfs');
      expect(out).toBe('/etc\nhi\n');
      expect(existsSync(join('/etc', name))).toBe(false);
      expect(readdirSync(join(fs.path, 'etc'))).toEqual([]); // the stub is gone too
    } finally {
      fs.remove();
    }
  });

  it('(b) a rootfs symlink /x -> ../../.. cannot lead a mount out of the rootfs', async () => {
    const base = mkdtempSync(join(scratch, 'escape-'));
    const parent = join(base, 'p1', 'p2');
    mkdirSync(parent, { recursive: true });
    const fs = makeBusyboxRootfs([], scratch);
    const path = join(parent, 'rootfs');
    renameSync(fs.path, path);
    const name = `evil-${process.pid}`;
    try {
      symlinkSync('../../..', join(path, 'x'));
      // ../../.. from the rootfs is `base`; the host's / and /tmp are checked by name (others write there).
      const parents = () => [base, join(base, 'p1'), parent].map((d) => treeListing1(d));
      const before = parents();
      const { mounts, out } = await inside(
        engine,
        path,
        [{ type: 'tmpfs', destination: `/x/${name}`, options: ['size=1m'] }],
        `echo inside > /x/${name}/f; cat /${name}/f`,
      );
      expect(at(mounts, `/${name}`).fstype).toBe('tmpfs');
      expect(out).toBe('inside\n');
      expect(parents()).toEqual(before);
      for (const dir of ['/', tmpdir(), base]) expect(existsSync(join(dir, name)), dir).toBe(false);
      expect(existsSync(join(path, name))).toBe(false);
      expect(lstatSync(join(path, 'x')).isSymbolicLink()).toBe(true);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('(c) mounts at new nested paths leave the rootfs tree exactly as it was', async () => {
    const fs = makeBusyboxRootfs(['d'], scratch);
    const src = join(scratch, 'nested-src');
    mkdirSync(src);
    const file = join(scratch, 'nested-file');
    writeFileSync(file, 'file\n');
    try {
      ageDirs(fs.path);
      const before = treeListing(fs.path);
      const { mounts, out } = await inside(
        engine,
        fs.path,
        [
          { type: 'tmpfs', destination: '/a/b/c', options: ['size=1m'] },
          { type: 'bind', source: src, destination: '/d/e' },
          { type: 'bind', source: file, destination: '/d/f/file.txt', options: ['ro'] },
          { type: 'overlay', source: src, destination: '/g/h', options: ['tmpfs-upper'] },
        ],
        'cat /d/f/file.txt; ls -d /a/b/c /d/e /g/h',
      );
      expect(['/a/b/c', '/d/e', '/d/f/file.txt', '/g/h'].map((p) => at(mounts, p).fstype)).toEqual([
        'tmpfs',
        hostMountOf(src).fstype,
        hostMountOf(file).fstype,
        'overlay',
      ]);
      expect(out).toBe('file\n/a/b/c\n/d/e\n/g/h\n');
      expect(treeListing(fs.path)).toEqual(before);
    } finally {
      fs.remove();
    }
  });

  it('(d) swapping a bind source for a symlink to /etc after the start changes nothing inside', async () => {
    const src = join(scratch, 'swap-src');
    const moved = join(scratch, 'swap-src.moved');
    mkdirSync(src);
    writeFileSync(join(src, 'original-1'), '');
    writeFileSync(join(src, 'original-2'), '');
    const ctl = join(scratch, 'swap-ctl');
    mkdirSync(ctl);
    const running = runScript(
      engine,
      rootfs.path,
      [
        { type: 'bind', source: src, destination: '/b' },
        { type: 'bind', source: ctl, destination: '/ctl' },
      ],
      'touch /ctl/started; while [ ! -e /ctl/go ]; do sleep 0.05; done; ls /b',
    );
    try {
      try {
        await waitFor('the command to start', () => (existsSync(join(ctl, 'started')) ? true : undefined));
        renameSync(src, moved);
        symlinkSync('/etc', src);
      } finally {
        writeFileSync(join(ctl, 'go'), '');
      }
      const { result, output } = await running;
      expect(result.exitCode).toBe(0);
      expect(output).toBe('original-1\noriginal-2\n');
    } finally {
      await running.catch(() => undefined);
      if (lstatSync(src).isSymbolicLink()) unlinkSync(src);
    }
  });

  it('(e) a run that fails half-way through its mounts is 125 and leaves host and rootfs unchanged', async () => {
    const fs = makeBusyboxRootfs([], scratch);
    try {
      ageDirs(fs.path);
      const before = treeListing(fs.path);
      const mounts: MountSpec[] = [
        { type: 'tmpfs', destination: '/ok/here', options: ['size=1m'] },
        { type: 'tmpfs', destination: '/bin/busybox/x', options: ['size=1m'] },
      ];
      let error: unknown;
      try {
        await engine.run({ rootfs: fs.path, argv: ['true'], mounts }, { stdio: ['ignore', 'ignore', 'ignore'] });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(BuilderError);
      expect((error as BuilderError).exitCode).toBe(125);
      expect((error as Error).message).toMatch(/^mount tmpfs on \/bin\/busybox\/x: ENOTDIR/);
      expect(treeListing(fs.path)).toEqual(before);
      expect(runrootLeftovers('/run/builder')).toEqual([]);
    } finally {
      fs.remove();
    }
  });
});

/** The entries of one directory with their type and mtime (not recursive). */
function treeListing1(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((e) => {
      const st = lstatSync(join(dir, e));
      return `${e} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.mtimeMs}`;
    })
    .concat(`. ${lstatSync(dir).mtimeMs}`);
}
