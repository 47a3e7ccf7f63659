// Hard links to files of lower layers in overlay format: the target is looked up through the lowers
// with overlayfs' rules and copied up into the layer (copy-up.ts). Each stack of layers is also
// checked against the truth: the kernel's overlay mount of the overlay-format layers (in a private
// mount namespace) must show the same tree as the same layers applied in flat format. Runs as root.
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr, llistxattr } from '@builder/native';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { hasOpaqueRoot } from '../src/image/store/opaque-root.js';
import { visibleLayers } from '../src/image/store/visible-layers.js';
import { unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { listing, merged, stack } from './layer-stack.js';
import { type TestEntry, tar } from './tar-writer.js';

let work: string;
let n = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unpack-copyup-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CAP = Buffer.from([1, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

async function refused(layers: TestEntry[][], re: RegExp) {
  const last = layers.length - 1;
  const s = await stack(work, layers.slice(0, last));
  const file = join(work, `r${n++}.tar`);
  writeFileSync(file, tar(layers[last]));
  const dest = mkdtempSync(join(work, 'refused-'));
  const err = await unpackLayer(file, dest, { format: 'overlay', lowers: [...s.dirs].reverse() }).catch((e) => e);
  expect(err).toBeInstanceOf(LayerError);
  expect(err.message).toMatch(re);
}

const ino = (p: string) => lstatSync(p).ino;

describe('hard links to lower layers (overlay format)', () => {
  test('a link to a file of the layer below copies it up: contents, owner, mode, xattrs, times, parents', async () => {
    const s = await stack(work, [
      [
        { name: 'usr/', type: 'dir', mode: 0o755, mtime: 1_500_000_000 },
        {
          name: 'usr/bin/',
          type: 'dir',
          mode: 0o750,
          uid: 7,
          gid: 8,
          mtime: 1_500_000_001,
          pax: { 'SCHILY.xattr.user.d': 'dir' },
        },
        {
          name: 'usr/bin/tool',
          data: 'the tool\n',
          mode: 0o4755,
          uid: 1000,
          gid: 50,
          pax: { mtime: '1600000000.123456789', 'SCHILY.xattr.security.capability': CAP, 'SCHILY.xattr.user.a': 'b' },
        },
      ],
      [
        { name: 'opt/', type: 'dir' },
        { name: 'opt/tool2', type: 'link', linkname: 'usr/bin/tool' },
      ],
    ]);
    const [l1, l2] = s.dirs;
    expect(s.copiedUp).toEqual([0, 1]);
    const copy = lstatSync(join(l2, 'usr/bin/tool'), { bigint: true });
    expect([copy.mode & 0o7777n, copy.uid, copy.gid, copy.nlink, copy.mtimeNs]).toEqual([
      0o4755n,
      1000n,
      50n,
      2n,
      1_600_000_000_123_456_789n,
    ]);
    expect(readFileSync(join(l2, 'usr/bin/tool'), 'utf8')).toBe('the tool\n');
    expect(lgetxattr(join(l2, 'usr/bin/tool'), 'security.capability')).toEqual(CAP);
    expect(lgetxattr(join(l2, 'usr/bin/tool'), 'user.a').toString()).toBe('b');
    expect(ino(join(l2, 'opt/tool2'))).toBe(ino(join(l2, 'usr/bin/tool')));
    expect(ino(join(l2, 'usr/bin/tool'))).not.toBe(ino(join(l1, 'usr/bin/tool')));
    const dir = lstatSync(join(l2, 'usr/bin'), { bigint: true });
    expect([dir.mode & 0o7777n, dir.uid, dir.gid, dir.mtimeNs]).toEqual([0o750n, 7n, 8n, 1_500_000_001_000_000_000n]);
    expect(lgetxattr(join(l2, 'usr/bin'), 'user.d').toString()).toBe('dir');
    expect(lstatSync(join(l2, 'usr'), { bigint: true }).mtimeNs).toBe(1_500_000_000_000_000_000n);
    expect(lstatSync(join(l1, 'usr/bin/tool')).nlink).toBe(1); // the lower is never touched
    expect(merged(s)).toBe(listing(s.flat));
  });

  test('the parents of the target may be symlinks of another layer; the copy goes to the resolved path', async () => {
    const s = await stack(work, [
      [
        { name: 'usr/lib/', type: 'dir' },
        { name: 'usr/lib/libx.so', data: 'lib' },
      ],
      [{ name: 'lib', type: 'symlink', linkname: 'usr/lib' }],
      [{ name: 'abs', type: 'symlink', linkname: '/lib' }],
      [
        { name: 'a', type: 'link', linkname: 'lib/libx.so' },
        { name: 'b', type: 'link', linkname: '/abs/../lib/./libx.so' },
      ],
    ]);
    const top = s.dirs[3];
    expect(s.copiedUp).toEqual([0, 0, 0, 1]);
    expect(readFileSync(join(top, 'usr/lib/libx.so'), 'utf8')).toBe('lib');
    expect(existsSync(join(top, 'lib'))).toBe(false);
    expect(ino(join(top, 'a'))).toBe(ino(join(top, 'usr/lib/libx.so')));
    expect(ino(join(top, 'b'))).toBe(ino(join(top, 'usr/lib/libx.so')));
    expect(lstatSync(join(top, 'a')).nlink).toBe(3);
    expect(merged(s, true)).toBe(listing(s.flat, true));
  });

  test('the topmost layer wins; two links to one lower file copy it once', async () => {
    const s = await stack(work, [
      [{ name: 'f', data: 'one' }],
      [{ name: 'f', data: 'two', mode: 0o600 }],
      [
        { name: 'x', type: 'link', linkname: 'f' },
        { name: 'y', type: 'link', linkname: 'f' },
      ],
    ]);
    expect(s.copiedUp).toEqual([0, 0, 1]);
    expect(readFileSync(join(s.dirs[2], 'y'), 'utf8')).toBe('two');
    expect(lstatSync(join(s.dirs[2], 'f')).nlink).toBe(3);
    expect(merged(s)).toBe(listing(s.flat));
  });

  test('the other visible names of a lower inode follow it up, so the group stays one inode', async () => {
    const s = await stack(work, [
      [
        { name: 'bin/', type: 'dir' },
        { name: 'bin/gzip', data: 'gzip', mode: 0o755 },
        { name: 'bin/gunzip', type: 'link', linkname: 'bin/gzip' },
        { name: 'bin/zcat', type: 'link', linkname: 'bin/gzip' },
        { name: 'sbin/', type: 'dir', mode: 0o700, uid: 4 },
        { name: 'sbin/gz', type: 'link', linkname: 'bin/gzip' },
        { name: 'hidden/', type: 'dir' },
        { name: 'hidden/gz', type: 'link', linkname: 'bin/gzip' },
        { name: 'replaced', type: 'link', linkname: 'bin/gzip' },
      ],
      [
        { name: 'bin/.wh.zcat' },
        { name: 'hidden/', type: 'dir' },
        { name: 'hidden/.wh..wh..opq' },
        { name: 'replaced', data: 'other' },
      ],
      [{ name: 'usr/bin/gz', type: 'link', linkname: 'bin/gunzip' }],
    ]);
    const top = s.dirs[2];
    expect(s.copiedUp).toEqual([0, 0, 1]);
    const group = ['bin/gzip', 'bin/gunzip', 'sbin/gz', 'usr/bin/gz'].map((p) => ino(join(top, p)));
    expect(new Set(group).size).toBe(1);
    expect(lstatSync(join(top, 'bin/gzip')).nlink).toBe(4);
    for (const gone of ['bin/zcat', 'hidden/gz', 'replaced']) expect(existsSync(join(top, gone))).toBe(false);
    const sbin = lstatSync(join(top, 'sbin'));
    expect([sbin.mode & 0o7777, sbin.uid]).toEqual([0o700, 4]);
    expect(merged(s, true)).toBe(listing(s.flat, true));
  });

  test('a link to a lower symlink copies the symlink (never what it points at); devices and fifos too', async () => {
    const s = await stack(work, [
      [
        { name: 'etc/', type: 'dir' },
        { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
        { name: 's', type: 'symlink', linkname: '/etc/passwd', uid: 3 },
        { name: 'dev/', type: 'dir' },
        { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
        { name: 'fifo', type: 'fifo', mode: 0o640, uid: 9 },
      ],
      [
        { name: 'h', type: 'link', linkname: 's' },
        { name: 'n', type: 'link', linkname: 'dev/null' },
        { name: 'p', type: 'link', linkname: 'fifo' },
      ],
    ]);
    const top = s.dirs[1];
    expect(s.copiedUp).toEqual([0, 3]);
    expect(readlinkSync(join(top, 'h'))).toBe('/etc/passwd');
    expect(lstatSync(join(top, 's')).uid).toBe(3);
    expect(ino(join(top, 'h'))).toBe(ino(join(top, 's')));
    expect(existsSync(join(top, 'etc/passwd'))).toBe(false);
    const nul = lstatSync(join(top, 'n'));
    expect([nul.isCharacterDevice(), nul.rdev, nul.mode & 0o7777, nul.nlink]).toEqual([true, 0x103, 0o666, 2]);
    expect([lstatSync(join(top, 'p')).isFIFO(), lstatSync(join(top, 'p')).uid]).toEqual([true, 9]);
    expect(merged(s)).toBe(listing(s.flat));
  });

  test('whiteouts, opaque directories and non-directories of higher layers hide the target', async () => {
    const base: TestEntry[] = [
      { name: 'a/', type: 'dir' },
      { name: 'a/f', data: 'lower' },
      { name: 'd/', type: 'dir' },
      { name: 'd/f', data: 'lower' },
      { name: 'o/', type: 'dir' },
      { name: 'o/f', data: 'lower' },
      { name: 'w', data: 'lower' },
    ];
    const missing = /points at '.*', which does not exist/;
    await refused([base, [{ name: 'a/.wh.f' }], [{ name: 'l', type: 'link', linkname: 'a/f' }]], missing);
    await refused([base, [{ name: '.wh.a' }], [{ name: 'l', type: 'link', linkname: 'a/f' }]], missing);
    await refused([base, [{ name: 'd', data: 'a file now' }], [{ name: 'l', type: 'link', linkname: 'd/f' }]], missing);
    await refused(
      [base, [{ name: 'o/', type: 'dir' }, { name: 'o/.wh..wh..opq' }], [{ name: 'l', type: 'link', linkname: 'o/f' }]],
      missing,
    );
    // In the same layer: a whiteout of this layer hides the lower file from its own later links too.
    await refused([base, [{ name: '.wh.w' }, { name: 'l', type: 'link', linkname: 'w' }]], missing);
    // An opaque layer root hides every layer below it (and the mount leaves those layers out).
    await refused([base, [{ name: '.wh..wh..opq' }, { name: 'l', type: 'link', linkname: 'w' }]], missing);
    // What the opaque directory itself holds is still found.
    const s = await stack(work, [
      base,
      [{ name: 'o/', type: 'dir' }, { name: 'o/.wh..wh..opq' }, { name: 'o/g', data: 'upper' }],
      [{ name: 'l', type: 'link', linkname: 'o/g' }],
    ]);
    expect(s.copiedUp).toEqual([0, 0, 1]);
    expect(merged(s)).toBe(listing(s.flat));
  });

  test('a copy-up that a later opaque marker or whiteout of the same layer hides is dropped; the link stays', async () => {
    const s = await stack(work, [
      [
        { name: 'a/', type: 'dir' },
        { name: 'a/sub/', type: 'dir' },
        { name: 'a/sub/f', data: 'f' },
        { name: 'b/g', data: 'g' },
      ],
      [
        { name: 'l1', type: 'link', linkname: 'a/sub/f' },
        { name: 'l2', type: 'link', linkname: 'b/g' },
        { name: 'a/.wh..wh..opq' },
        { name: 'b/.wh.g' },
      ],
    ]);
    const top = s.dirs[1];
    expect(s.copiedUp).toEqual([0, 2]);
    expect(existsSync(join(top, 'a/sub'))).toBe(false);
    expect(lstatSync(join(top, 'b/g')).isCharacterDevice()).toBe(true);
    expect(readFileSync(join(top, 'l1'), 'utf8')).toBe('f');
    expect(readFileSync(join(top, 'l2'), 'utf8')).toBe('g');
    expect(merged(s, true)).toBe(listing(s.flat, true));
  });

  test('symlinks in the lowers never lead out of the layers', async () => {
    const s = await stack(work, [
      [
        { name: 'etc/hostname', data: 'inside\n' },
        { name: 'up', type: 'symlink', linkname: '../../../../../../..' },
        { name: 'root', type: 'symlink', linkname: '/' },
      ],
      [
        { name: 'a', type: 'link', linkname: 'up/etc/hostname' },
        { name: 'b', type: 'link', linkname: 'root/etc/hostname' },
      ],
    ]);
    expect(readFileSync(join(s.dirs[1], 'a'), 'utf8')).toBe('inside\n');
    expect(ino(join(s.dirs[1], 'b'))).toBe(ino(join(s.dirs[1], 'a')));
    await refused(
      [
        [{ name: 'up', type: 'symlink', linkname: '../../../..' }],
        [{ name: 'x', type: 'link', linkname: 'up/etc/shadow' }],
      ],
      /does not exist/,
    );
    await refused([[{ name: 'f', data: 'x' }], [{ name: 'x', type: 'link', linkname: '../f' }]], /leaves the root/);
  });

  test('a link to a lower directory is refused; without lowers a missing target stays an error', async () => {
    await refused(
      [[{ name: 'd/', type: 'dir' }], [{ name: 'x', type: 'link', linkname: 'd' }]],
      /points at a directory \('d'\)/,
    );
    const file = join(work, `nl${n++}.tar`);
    writeFileSync(file, tar([{ name: 'x', type: 'link', linkname: 'f' }]));
    await expect(unpackLayer(file, mkdtempSync(join(work, 'nl-')), { format: 'overlay' })).rejects.toThrow(
      /hard link 'x' points at 'f', which does not exist/,
    );
    await expect(unpackLayer(file, mkdtempSync(join(work, 'nl-')), { format: 'flat', lowers: [work] })).rejects.toThrow(
      /only apply to the overlay format/,
    );
  });

  test('the copy keeps exactly the lower file’s xattrs, trusted.overlay.* aside', async () => {
    const s = await stack(work, [
      [
        { name: 'd/', type: 'dir' },
        { name: 'd/.wh..wh..opq' },
        { name: 'd/f', data: 'x', pax: { 'SCHILY.xattr.user.k': 'v' } },
      ],
      [{ name: 'l', type: 'link', linkname: 'd/f' }],
    ]);
    expect(llistxattr(join(s.dirs[1], 'd')).filter((k) => k.startsWith('trusted.'))).toEqual([]);
    expect(llistxattr(join(s.dirs[1], 'd/f'))).toEqual(['user.k']);
  });
});

test('visibleLayers cuts the stack below a layer whose root is opaque', async () => {
  const s = await stack(work, [
    [{ name: 'a', data: 'a' }],
    [{ name: '.wh..wh..opq' }, { name: 'b', data: 'b' }],
    [{ name: 'c', data: 'c' }],
  ]);
  const top = [...s.dirs].reverse();
  expect(visibleLayers(top, hasOpaqueRoot)).toEqual(top.slice(0, 2));
  expect(visibleLayers(top.slice(2), hasOpaqueRoot)).toEqual(top.slice(2));
  expect(merged(s, true)).toBe(listing(s.flat, true));
});
