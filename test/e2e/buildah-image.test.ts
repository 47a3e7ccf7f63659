// A multi-layer image made by a peer tool: buildah (overlay storage driver, its own storage under the
// test's directory) builds it one committed layer per step, with whiteouts, a directory replaced by a
// file and a file by a directory, an opaque directory (deleted and re-created with new contents),
// hard links to files of lower layers, set-id and sticky modes, owners, xattrs, a fifo and a device;
// buildah pushes it to an OCI layout, skopeo converts it to oci-archive and docker-archive. `builder
// run --image REF` must show the tree buildah shows for the image (`buildah from` + `buildah mount`),
// entry by entry, for each transport.
//
// buildah's own layers never hold a hard link to a file of a lower layer (its overlay driver copies
// the file up into the new layer). Such a layer (docs/layers.md, "Hard links to lower layers"; Bazel and kaniko write
// them) is appended with `umoci raw add-layer`; builder copies the targets up (copy-up.ts). buildah's
// overlay driver refuses that image ("processing tar file(no such file or directory)"); its vfs
// driver, which applies layers onto one directory, accepts it and is the oracle for it.
// Needs root and the Debian packages buildah, skopeo, umoci, libcap2-bin, busybox-static.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TestEntry, tar } from '../../packages/core/test/tar-writer.js';
import { containerTree, runOwn } from '../helpers/container-tree.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { requireTools, tool } from '../helpers/tools.js';
import { diffTrees, type Tree, walkTree } from '../helpers/tree.js';

let work: string;
let mountsBefore: string;
/** What buildah shows for the image made by buildah alone, and for the one with the links layer. */
let expected: Tree;
let expectedLinks: Tree;

const APPLETS = ['sh', 'ls', 'cat', 'ln', 'rm', 'mkdir', 'echo', 'chmod', 'chown', 'touch', 'sleep', 'mkfifo'];
/**
 * Mtimes the links layer repeats for its hard-link targets (buildah's vfs driver applies a link entry's
 * times and mode to the inode; builder, GNU tar and umoci do not). Whole seconds: buildah's layers keep
 * no more.
 */
const T_GREETING = '1600000000';
const T_LIB = '1600000100';

function buildah(storage: string, driver: 'overlay' | 'vfs', args: string[]): string {
  return tool(
    'buildah',
    ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', driver, ...args],
    { timeout: 300_000 },
  ).trim();
}

/** Unmount whatever is still mounted below `dir` (a failed buildah step), deepest first. */
function unmountBelow(dir: string): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) tool('umount', ['-l', p]);
}

/** `buildah from IMAGE` + `buildah mount`: walk what buildah shows, then unmount and remove. */
function buildahView(storage: string, driver: 'overlay' | 'vfs', image: string): Tree {
  const ctr = buildah(storage, driver, ['from', '--pull-never', '-q', image]);
  try {
    const mnt = buildah(storage, driver, ['mount', ctr]);
    try {
      const tree = walkTree(mnt, { skip: runOwn, skipXattr: (k) => k.startsWith('trusted.overlay.') });
      tree.delete('.');
      return tree;
    } finally {
      buildah(storage, driver, ['umount', ctr]);
    }
  } finally {
    buildah(storage, driver, ['rm', ctr]);
  }
}

/** The image, one committed layer per step; pushed to `oci:DIR:final`. */
function buildImage(storage: string, layout: string): void {
  const b = (...args: string[]) => buildah(storage, 'overlay', args);
  // Layer 1: a busybox rootfs and files of every kind, written through buildah's mount.
  const c1 = b('from', 'scratch');
  const m = b('mount', c1);
  const p = (rel: string) => join(m, rel);
  for (const dir of ['bin', 'etc', 'data/dir', 'opq/sub', 'usr/lib', 'srv/private', 'tmp', 'swap'])
    mkdirSync(p(dir), { recursive: true });
  copyFileSync('/bin/busybox', p('bin/busybox'));
  for (const a of APPLETS) tool('ln', ['-s', 'busybox', p(`bin/${a}`)]);
  tool('ln', ['-s', 'usr/lib', p('lib')]);
  writeFileSync(p('etc/greeting'), 'hello\n');
  writeFileSync(p('etc/motd'), 'v1\n');
  writeFileSync(p('etc/deleted'), 'gone\n');
  writeFileSync(p('data/dir/f'), 'x\n');
  writeFileSync(p('opq/old'), 'old\n');
  writeFileSync(p('opq/sub/o'), 'old\n');
  writeFileSync(p('usr/lib/libfake.so'), 'ELF\n');
  writeFileSync(p('srv/private/secret'), 'secret\n');
  writeFileSync(p('swap/file'), 'becomes a directory\n');
  copyFileSync('/bin/busybox', p('bin/su'));
  tool('chmod', ['4755', p('bin/su')]);
  tool('chmod', ['1777', p('tmp')]);
  tool('chown', ['-R', '1000:1000', p('srv/private')]);
  tool('chmod', ['2750', p('srv/private')]);
  tool('chmod', ['600', p('srv/private/secret')]);
  tool('ln', [p('etc/motd'), p('etc/motd.hardlink')]);
  tool('mkfifo', ['-m', '640', p('srv/fifo')]);
  tool('mknod', ['-m', '666', p('srv/null'), 'c', '1', '3']);
  tool('setcap', ['cap_net_raw+ep', p('bin/su')]);
  tool('setfattr', ['-n', 'user.note', '-v', 'on a file', p('etc/greeting')]);
  tool('setfattr', ['-n', 'user.dir', '-v', '0x00ff', p('srv/private')]);
  tool('touch', ['-d', `@${T_GREETING}`, p('etc/greeting')]);
  tool('touch', ['-d', `@${T_LIB}`, p('usr/lib/libfake.so')]);
  b('umount', c1);
  b('commit', '-q', c1, 'img:l1');
  b('rm', c1);
  // Layer 2: deletions, a directory replaced by a file, a hard link to a lower file, a changed owner.
  const c2 = b('from', '--pull-never', '-q', 'img:l1');
  b(
    'run',
    '--isolation',
    'chroot',
    c2,
    '--',
    'sh',
    '-c',
    [
      'rm /etc/deleted',
      'rm -r /data/dir',
      'echo file > /data/dir',
      'ln /etc/greeting /etc/greeting.link',
      'echo v2 > /etc/motd',
      'chown 7:8 /opq/old',
      'rm /swap/file',
      'mkdir /swap/file',
      'echo inside > /swap/file/new',
    ].join(' && '),
  );
  b('commit', '-q', c2, 'img:l2');
  b('rm', c2);
  // Layer 3: an opaque directory, another hard link to a lower file.
  const c3 = b('from', '--pull-never', '-q', 'img:l2');
  b(
    'run',
    '--isolation',
    'chroot',
    c3,
    '--',
    'sh',
    '-c',
    'rm -r /opq && mkdir /opq && echo new > /opq/new && ln /bin/busybox /bin/bb && chmod 700 /opq',
  );
  b('commit', '-q', c3, 'img:final');
  b('rm', c3);
  b('push', '-q', 'img:final', `oci:${layout}:final`);
}

/** The links layer: hard links to files of lower layers (and through a lower symlink), with their dirs. */
function linksLayer(file: string): void {
  const dir = (name: string): TestEntry => ({ name, type: 'dir', mode: 0o755, pax: { mtime: '1650000000.25' } });
  const link = (name: string, linkname: string, mtime: string, mode = 0o644): TestEntry => ({
    name,
    type: 'link',
    linkname,
    mode,
    pax: { mtime },
  });
  writeFileSync(
    file,
    tar([
      dir('etc/'),
      link('etc/greeting.copy', 'etc/greeting', T_GREETING),
      dir('links/'),
      link('links/lib', 'lib/libfake.so', T_LIB),
      link('links/greeting', '/etc/greeting.link', T_GREETING),
    ]),
  );
}

beforeAll(() => {
  requireRoot();
  requireTools('buildah', 'skopeo', 'umoci', 'setcap', 'setfattr');
  // Lower case: buildah names an image pulled from `oci:DIR` after DIR, and refuses capitals.
  work = `/var/tmp/builder-e2e-buildah-${randomBytes(6).toString('hex')}`;
  mkdirSync(work, { mode: 0o700 });
  const storage = join(work, 'storage');
  const layout = join(work, 'oci');
  buildImage(storage, layout);
  expected = buildahView(storage, 'overlay', 'img:final');
  // The same image with the links layer on top, under another tag.
  linksLayer(join(work, 'links.tar'));
  tool('umoci', ['raw', 'add-layer', '--image', `${layout}:final`, '--tag', 'links', join(work, 'links.tar')]);
  const vfs = join(work, 'vfs');
  buildah(vfs, 'vfs', ['pull', '-q', `oci:${layout}:links`]);
  const [id] = buildah(vfs, 'vfs', ['images', '-q']).split('\n');
  expectedLinks = buildahView(vfs, 'vfs', id);
  writeFileSync(join(work, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
  for (const dest of [`oci-archive:${join(work, 'image.tar')}:final`, `docker-archive:${join(work, 'docker.tar')}`]) {
    tool('skopeo', ['--policy', join(work, 'policy.json'), 'copy', '-q', `oci:${layout}:final`, dest]);
  }
}, 900_000);

afterAll(() => {
  if (!work) return;
  for (const [storage, driver] of [
    [join(work, 'storage'), 'overlay'],
    [join(work, 'vfs'), 'vfs'],
  ] as const) {
    try {
      buildah(storage, driver, ['rm', '--all']);
    } catch {
      // nothing to remove, or no storage yet
    }
    unmountBelow(storage);
  }
  rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => expect(mountsUnder(work)).toBe(mountsBefore));

/** `builder run --root STORE --image REF`'s tree: the layer store is the test's own. */
const imageTree = (ref: string) => containerTree(['--root', join(work, 'store'), '--image', ref]);

const expectSame = (want: Tree, got: Tree) => expect(diffTrees(want, got)).toEqual([]);

/**
 * Link counts as the visible hard-link groups: overlayfs reports 1 for a merged directory, and a lower
 * inode's own count even where a higher layer hides some of its names (buildah's overlay driver shows
 * the same), while a flat tree counts what is there.
 */
function visibleLinks(tree: Tree): Tree {
  const sizes = new Map<string, number>();
  for (const e of tree.values()) if (e.group) sizes.set(e.group, (sizes.get(e.group) ?? 0) + 1);
  const out: Tree = new Map();
  for (const [rel, e] of tree) {
    const size = e.group ? (sizes.get(e.group) ?? 1) : 1;
    out.set(rel, { ...e, nlink: e.type === 'dir' ? 0 : size, group: size > 1 ? e.group : undefined });
  }
  return out;
}

describe('an image built by buildah', () => {
  it('has what the comparison needs', () => {
    expect(expected.get('bin/su')).toMatchObject({ mode: '4755' });
    expect(expected.get('bin/su')?.xattrs['security.capability']).toBeDefined();
    expect(expected.get('tmp')?.mode).toBe('1777');
    expect(expected.get('srv/private')).toMatchObject({ mode: '2750', uid: 1000, gid: 1000 });
    expect(expected.get('srv/null')).toMatchObject({ type: 'char', rdev: String(0x103) });
    expect(expected.get('srv/fifo')?.type).toBe('fifo');
    expect(expected.get('etc/deleted')).toBeUndefined();
    expect(expected.get('data/dir')?.type).toBe('file');
    expect(expected.get('swap/file')?.type).toBe('dir');
    expect([...expected.keys()].filter((k) => k.startsWith('opq/'))).toEqual(['opq/new']);
    expect(expected.get('etc/greeting.link')?.group).toBe('etc/greeting');
    expect(expected.get('bin/busybox')?.group).toBe('bin/bb');
    expect(expected.get('opq/old')).toBeUndefined();
  });

  for (const ref of ['oci:oci:final', 'oci-archive:image.tar:final', 'docker-archive:docker.tar']) {
    it(`builder run --image ${ref} shows buildah's tree`, async () => {
      const [transport, path, ...tag] = ref.split(':');
      const tree = await imageTree([transport, join(work, path), ...tag].join(':'));
      expectSame(expected, tree);
    }, 300_000);
  }

  it('a layer with hard links to files of lower layers: copied up, the same tree as buildah (vfs) shows', async () => {
    expect(expectedLinks.get('links/lib')?.group).toBe('links/lib');
    expect(expectedLinks.get('usr/lib/libfake.so')?.group).toBe('links/lib');
    expect(expectedLinks.get('etc/greeting')?.nlink).toBe(4);
    const tree = await imageTree(`oci:${join(work, 'oci')}:links`);
    expect(tree.get('etc/greeting')?.nlink).toBe(4);
    expectSame(visibleLinks(expectedLinks), visibleLinks(tree));
  }, 300_000);
});
