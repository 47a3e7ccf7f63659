// A real Debian root filesystem as the oracle: `debootstrap --variant=minbase bookworm` makes it (cached
// under /var/cache/builder-test, built from nothing when the cache is empty), a few xattrs are added
// (file capabilities v2 and v3, user.* on files and a directory), GNU tar archives it, and then GNU
// tar's extraction, unpackLayer's flat and overlay formats and the view from inside a `builder run
// --image tar:FILE` container must agree entry by entry: type, mode (set-id and sticky bits), owner,
// size, sha256, mtime in ns, symlink target, link count, hard-link groups, devices, xattrs.
// Needs root, network access to deb.debian.org (first run only), and the Debian packages debootstrap,
// tar, libcap2-bin and attr.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unpackLayer } from '../../packages/core/src/image/unpack/unpack-layer.js';
import { run } from '../helpers/cli.js';
import { containerTree, runOwn } from '../helpers/container-tree.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { requireTools, tool } from '../helpers/tools.js';
import { diffTrees, type Tree, type TreeEntry, walkTree } from '../helpers/tree.js';

const CACHE = '/var/cache/builder-test';
const ROOTFS = join(CACHE, 'debootstrap-bookworm-minbase');
const MIRROR = 'http://deb.debian.org/debian';
const TAR_ARGS = ['--numeric-owner', '--xattrs', '--xattrs-include=*'];
/** v2 capability cap_net_raw+ep (what `setcap cap_net_raw+ep` writes). */
const CAP_V2 = '0100000200200000000000000000000000000000';
/** v3 capability cap_net_admin+eip for namespace root uid 1000 (`setcap -n 1000`). */
const CAP_V3 = '0100000300100000001000000000000000000000e8030000';

let work: string;
let layer: string;
let src: Tree;
let byTar: Tree;
let mountsBefore: string;

/** Unmount whatever a failed debootstrap left mounted below `dir` (its /proc, /sys), deepest first. */
function unmountBelow(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) tool('umount', ['-l', p]);
}

/** The cached debootstrap tree (with the test's xattrs), made first when the cache does not have it. */
function debootstrapRootfs(): string {
  if (existsSync(ROOTFS)) return ROOTFS; // complete: it is renamed into place only when done
  mkdirSync(CACHE, { recursive: true });
  for (const name of readdirSync(CACHE)) {
    if (!name.startsWith('debootstrap-bookworm-minbase.tmp-')) continue;
    unmountBelow(join(CACHE, name));
    rmSync(join(CACHE, name), { recursive: true, force: true });
  }
  const tmp = mkdtempSync(`${ROOTFS}.tmp-`);
  try {
    const target = join(tmp, 'rootfs');
    tool('debootstrap', ['--variant=minbase', 'bookworm', target, MIRROR], { timeout: 1_500_000 });
    tool('setcap', ['cap_net_raw+ep', join(target, 'usr/bin/dd')]);
    tool('setcap', ['-n', '1000', 'cap_net_admin+eip', join(target, 'usr/bin/chrt')]);
    tool('setfattr', ['-n', 'user.x', '-v', 'hello', join(target, 'etc/hostname')]);
    tool('setfattr', ['-n', 'user.bin', '-v', '0x00ff80fe00', join(target, 'etc/hostname')]);
    tool('setfattr', ['-n', 'user.dir', '-v', 'on a directory', join(target, 'etc/apt')]);
    tool('setfattr', ['-n', 'user.empty', join(target, 'etc/shells')]);
    renameSync(target, ROOTFS);
  } finally {
    unmountBelow(tmp);
    rmSync(tmp, { recursive: true, force: true });
  }
  return ROOTFS;
}

const expectSame = (expected: Tree, actual: Tree) => expect(diffTrees(expected, actual)).toEqual([]);

beforeAll(() => {
  requireRoot();
  requireTools('debootstrap', 'tar', 'setcap', 'setfattr');
  const rootfs = debootstrapRootfs();
  work = mkdtempSync('/var/tmp/builder-e2e-debootstrap-');
  layer = join(work, 'rootfs.tar');
  tool('tar', [...TAR_ARGS, '-cpf', layer, '-C', rootfs, '.']);
  src = walkTree(rootfs);
  const dest = join(work, 'gnu');
  mkdirSync(dest);
  tool('tar', ['-xpf', layer, ...TAR_ARGS, '-C', dest]);
  byTar = walkTree(dest);
}, 1_800_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  mountsBefore = mountsUnder(work, CACHE);
});
afterEach(() => expect(mountsUnder(work, CACHE)).toBe(mountsBefore));

describe('a debootstrap rootfs, GNU tar as the oracle', () => {
  it('has what the comparison needs: set-id and sticky modes, hard links, devices, symlinks, xattrs, ns times', () => {
    expect(src.size).toBeGreaterThan(5000);
    expect(src.get('usr/bin/passwd')?.mode).toBe('4755');
    expect(src.get('usr/bin/chage')?.mode).toBe('2755');
    expect(src.get('tmp')?.mode).toBe('1777');
    expect(src.get('var/mail')?.mode).toBe('2775');
    expect(src.get('var/mail')?.gid).toBe(8);
    expect(src.get('dev/null')).toMatchObject({ type: 'char', rdev: String(0x103) });
    expect(src.get('lib')).toMatchObject({ type: 'symlink', link: 'usr/lib' });
    expect(src.get('usr/bin/perl')?.group).toBe('usr/bin/perl');
    expect(src.get('usr/bin/perl5.36.0')?.group).toBe('usr/bin/perl');
    expect(src.get('usr/bin/dd')?.xattrs).toEqual({ 'security.capability': CAP_V2 });
    expect(src.get('usr/bin/chrt')?.xattrs).toEqual({ 'security.capability': CAP_V3 });
    expect(src.get('etc/hostname')?.xattrs).toEqual({
      'user.bin': '00ff80fe00',
      'user.x': Buffer.from('hello').toString('hex'),
    });
    expect(src.get('etc/apt')?.xattrs).toEqual({ 'user.dir': Buffer.from('on a directory').toString('hex') });
    expect(src.get('etc/shells')?.xattrs).toEqual({ 'user.empty': '' });
    const subSecond = [...src.values()].filter((e) => !e.mtimeNs.endsWith('000000000'));
    expect(subSecond.length).toBeGreaterThan(100);
  });

  it('GNU tar’s own round trip gives the source tree back', () => {
    expectSame(src, byTar);
  });

  for (const format of ['flat', 'overlay'] as const) {
    it(`unpackLayer (${format}) gives the same tree as GNU tar, entry by entry`, async () => {
      const dest = join(work, format);
      mkdirSync(dest);
      const diffId = `sha256:${createHash('sha256').update(readFileSync(layer)).digest('hex')}`;
      const r = await unpackLayer(layer, dest, { format, diffId });
      expect(r.diffId).toBe(diffId);
      expect(r.entries).toBe(src.size);
      expectSame(byTar, walkTree(dest));
      rmSync(dest, { recursive: true, force: true });
    }, 600_000);
  }

  it('`builder run --image tar:FILE` shows the same tree from inside the container', async () => {
    // find and sha256sum of the image itself list every entry (no xattrs: the image has no getfattr);
    // /proc, /sys, /dev and the generated /etc files are the run's own mounts, and the root directory is the run's upper
    // directory: those are left out.
    const script = [
      "find / -xdev -printf '%y %m %U %G %s %T@ %n %i %P\\0%l\\0'",
      "printf '\\0==SUMS==\\0'",
      'find / -xdev -type f -print0 | xargs -0 sha256sum -z',
    ].join('; ');
    // The layer store is the test's own.
    const image = ['--root', join(work, 'store'), '--image', `tar:${layer}`];
    const r = await run(undefined, ['sh', '-c', script], image);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [listing, sums] = r.stdout.split('\0==SUMS==\0');
    const inside: Tree = new Map();
    const inodes = new Map<string, string[]>();
    const fields = listing.split('\0');
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const [y, m, uid, gid, size, t, nlink, ino, ...rest] = fields[i].split(' ');
      const rel = rest.join(' ') || '.';
      const [sec, frac = ''] = t.split('.');
      const type = ({ f: 'file', d: 'dir', l: 'symlink', c: 'char', b: 'block', p: 'fifo' } as const)[y];
      if (!type) throw new Error(`unexpected find type ${y} for ${rel}`);
      const e: TreeEntry = {
        type,
        mode: m.padStart(4, '0'),
        uid: Number(uid),
        gid: Number(gid),
        size: type === 'file' || type === 'symlink' ? Number(size) : 0,
        mtimeNs: String(BigInt(sec) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9))),
        nlink: Number(nlink),
        xattrs: {},
      };
      if (type === 'symlink') e.link = fields[i + 1];
      if (type !== 'dir' && e.nlink > 1) inodes.set(ino, [...(inodes.get(ino) ?? []), rel]);
      inside.set(rel, e);
    }
    for (const names of inodes.values()) {
      names.sort();
      for (const n of names) (inside.get(n) as TreeEntry).group = names[0];
    }
    for (const line of sums.split('\0')) {
      if (!line) continue;
      const hash = line.slice(0, 64);
      const rel = line.slice(66).replace(/^\//, '');
      (inside.get(rel) as TreeEntry).sha256 = hash;
    }
    const outside = (rel: string) => rel === '.' || runOwn(rel);
    // The image has no /etc/hosts: the run creates its mount target in /etc, on the run's upper layer,
    // which gives /etc a new mtime (and, copied up, overlayfs' nlink 1). The rest of /etc is compared.
    const stubbed = ['etc/hosts', 'etc/hostname', 'etc/resolv.conf'].some((f) => !byTar.has(f));
    const etcTimes = ([rel, e]: [string, TreeEntry]): [string, TreeEntry] =>
      rel === 'etc' && stubbed ? [rel, { ...e, mtimeNs: '', nlink: 0 }] : [rel, e];
    const project = (t: Tree): Tree =>
      new Map(
        [...t]
          .filter(([rel]) => !outside(rel))
          .map(etcTimes)
          .map(([rel, e]) => {
            const { rdev: _rdev, xattrs: _xattrs, ...rest } = e;
            return [rel, { ...rest, xattrs: {} }];
          }),
      );
    expect(inside.size).toBeGreaterThan(5000);
    expectSame(project(byTar), project(inside));
    // The same container's root walked from the host through /proc/PID/root: xattrs and devices too.
    const seen = await containerTree(image);
    expectSame(new Map([...byTar].filter(([rel]) => !outside(rel)).map(etcTimes)), new Map([...seen].map(etcTimes)));
    expect(seen.get('usr/bin/dd')?.xattrs).toEqual({ 'security.capability': CAP_V2 });
  }, 600_000);
});
