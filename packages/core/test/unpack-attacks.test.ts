// The malicious and tricky layers of docs/layers.md ("Hostile archives"), built at test time, plus
// overlay-format whiteouts. Runs as root: chown, mknod and trusted.* xattrs need it.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr, llistxattr } from '@builder/native';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { type LayerFormat, unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { type TestEntry, tar } from './tar-writer.js';

let work: string;
let n = 0;
const probe = `builder-unpack-probe-${process.pid}`;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unpack-attacks-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Box {
  parent: string;
  dest: string;
  /** The parent of dest (sentinel included) is unchanged, and no probe escaped to the host. */
  check(): void;
}
function box(): Box {
  const parent = join(work, `b${n++}`);
  const dest = join(parent, 'dest');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(parent, 'sentinel'), 'keep');
  const snap = () =>
    execFileSync('find', [parent, '-not', '-path', `${dest}*`, '-printf', '%p %y %s %m %T@\\n']).toString();
  const before = snap();
  return {
    parent,
    dest,
    check() {
      expect(snap()).toBe(before);
      for (const p of [`/${probe}`, `/etc/${probe}`, `/tmp/${probe}`, join(work, probe)])
        expect(existsSync(p)).toBe(false);
    },
  };
}

async function unpack(b: Box, entries: TestEntry[], format: LayerFormat = 'flat') {
  const file = join(work, `l${n++}.tar`);
  writeFileSync(file, tar(entries));
  return unpackLayer(file, b.dest, { format });
}
async function refused(b: Box, entries: TestEntry[], re: RegExp, format: LayerFormat = 'flat') {
  const err = await unpack(b, entries, format).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LayerError);
  expect((err as Error).message).toMatch(re);
  b.check();
}

test('1. `../x` and `a/../../x` are refused; `/abs` and `a/../b` are cleaned into the root', async () => {
  await refused(box(), [{ name: '../x', data: 'x' }], /entry '..\/x' leaves the root/);
  await refused(box(), [{ name: 'a/../../x', data: 'x' }], /leaves the root/);
  await refused(box(), [{ name: `../${probe}`, data: 'x' }], /leaves the root/);
  const b = box();
  await unpack(b, [
    { name: '/abs', data: 'abs' },
    { name: 'a/../b', data: 'b' },
    { name: '//x/./y', data: 'y' },
  ]);
  expect(readFileSync(`${b.dest}/abs`, 'utf8')).toBe('abs');
  expect(readFileSync(`${b.dest}/b`, 'utf8')).toBe('b');
  expect(readFileSync(`${b.dest}/x/y`, 'utf8')).toBe('y');
  b.check();
});

test('2. layer 1 `x -> /`, layer 2 `x/etc/FILE`: written to ROOT/etc/FILE', async () => {
  const b = box();
  await unpack(b, [{ name: 'x', type: 'symlink', linkname: '/' }]);
  await unpack(b, [{ name: `x/etc/${probe}`, data: 'in root' }]);
  expect(readFileSync(`${b.dest}/etc/${probe}`, 'utf8')).toBe('in root');
  expect(readlinkSync(`${b.dest}/x`)).toBe('/');
  b.check();
});

test('3. `x -> ../../../..`, then `x/y`: written to ROOT/y', async () => {
  const b = box();
  await unpack(b, [
    { name: 'x', type: 'symlink', linkname: '../../../../../../..' },
    { name: `x/${probe}`, data: 'y' },
  ]);
  expect(readFileSync(`${b.dest}/${probe}`, 'utf8')).toBe('y');
  b.check();
});

test('4. a hard link to /etc/shadow links ROOT/etc/shadow (or is refused), never the host file', async () => {
  await refused(box(), [{ name: 'l', type: 'link', linkname: '/etc/shadow' }], /does not exist/);
  const b = box();
  await unpack(b, [
    { name: 'etc/shadow', data: 'root shadow' },
    { name: 'h', type: 'symlink', linkname: '/etc' },
    { name: 'l1', type: 'link', linkname: '/etc/shadow' },
    { name: 'l2', type: 'link', linkname: 'h/shadow' },
    { name: 'l3', type: 'link', linkname: 'h' }, // links the symlink itself (final component not followed)
  ]);
  const ino = lstatSync(`${b.dest}/etc/shadow`).ino;
  expect(lstatSync(`${b.dest}/l1`).ino).toBe(ino);
  expect(lstatSync(`${b.dest}/l2`).ino).toBe(ino);
  expect(lstatSync(`${b.dest}/etc/shadow`).nlink).toBe(3);
  expect(lstatSync(`${b.dest}/l3`).isSymbolicLink()).toBe(true);
  expect(lstatSync('/etc/shadow').ino).not.toBe(ino);
  b.check();
});

test('5. a hard link to `../x` is refused', async () => {
  await refused(box(), [{ name: 'l', type: 'link', linkname: '../x' }], /hard link target '..\/x' leaves the root/);
});

test('6. a symlink (or file) named `.` is refused; a `.` directory entry is fine', async () => {
  await refused(box(), [{ name: '.', type: 'symlink', linkname: '/etc' }], /would replace the root directory/);
  await refused(box(), [{ name: './', type: 'symlink', linkname: '/etc' }], /would replace the root directory/);
  await refused(box(), [{ name: '.', data: 'x' }], /would replace the root directory/);
  const b = box();
  await unpack(b, [
    { name: './', type: 'dir' },
    { name: './a', data: 'a' },
  ]);
  expect(readFileSync(`${b.dest}/a`, 'utf8')).toBe('a');
  b.check();
});

describe('7. `.wh.`, `.wh..`, `.wh...` are refused', () => {
  for (const format of ['flat', 'overlay'] as const) {
    for (const name of ['.wh.', 'a/.wh.', 'a/.wh..', '.wh..', 'a/b/.wh...']) {
      test(`${name} (${format})`, async () => {
        const b = box();
        mkdirSync(`${b.dest}/a/b`, { recursive: true });
        await refused(b, [{ name }], /invalid whiteout/, format);
        expect(existsSync(`${b.dest}/a/b`)).toBe(true);
      });
    }
  }
});

test('8. flat: an opaque marker after this layer’s own entries (parents without entries) keeps them', async () => {
  const b = box();
  mkdirSync(`${b.dest}/a/b/c`, { recursive: true });
  writeFileSync(`${b.dest}/a/old`, 'lower');
  writeFileSync(`${b.dest}/a/b/c/lowerfile`, 'lower');
  writeFileSync(`${b.dest}/keep`, 'lower');
  await unpack(b, [{ name: 'a/b/c/foo', data: 'upper' }, { name: 'a/.wh..wh..opq' }, { name: 'a/late', data: 'late' }]);
  expect(readFileSync(`${b.dest}/a/b/c/foo`, 'utf8')).toBe('upper');
  expect(readFileSync(`${b.dest}/a/late`, 'utf8')).toBe('late');
  expect(existsSync(`${b.dest}/a/old`)).toBe(false);
  expect(existsSync(`${b.dest}/a/b/c/lowerfile`)).toBe(false);
  expect(existsSync(`${b.dest}/keep`)).toBe(true);
  expect(existsSync(`${b.dest}/a/.wh..wh..opq`)).toBe(false);
  b.check();
});

test('8. overlay: the opaque marker is trusted.overlay.opaque=y and this layer’s files stay', async () => {
  const b = box();
  await unpack(
    b,
    [{ name: 'a/b/c/foo', data: 'upper' }, { name: 'a/.wh.gone' }, { name: 'a/.wh..wh..opq' }, { name: 'a/.wh.later' }],
    'overlay',
  );
  expect(readFileSync(`${b.dest}/a/b/c/foo`, 'utf8')).toBe('upper');
  expect(lgetxattr(`${b.dest}/a`, 'trusted.overlay.opaque').toString()).toBe('y');
  // umoci: plain whiteouts under a directory this layer made opaque are not kept.
  expect(existsSync(`${b.dest}/a/gone`)).toBe(false);
  expect(existsSync(`${b.dest}/a/later`)).toBe(false);
  b.check();
});

test('overlay: `.wh.X` is a 0:0 char device; a whiteout that later becomes a parent turns into an opaque dir', async () => {
  const b = box();
  await unpack(
    b,
    [
      { name: 'd/.wh.x', uid: 5, gid: 5 },
      { name: 'd/.wh.y' },
      { name: 'd/y/z', data: 'z' },
      { name: '.wh.top' },
      { name: '.wh..wh.plnk' }, // AUFS metadata: skipped
    ],
    'overlay',
  );
  const st = lstatSync(`${b.dest}/d/x`);
  expect([st.isCharacterDevice(), st.rdev, st.uid, st.gid]).toEqual([true, 0, 0, 0]);
  expect(lstatSync(`${b.dest}/top`).isCharacterDevice()).toBe(true);
  expect(lstatSync(`${b.dest}/d/y`).isDirectory()).toBe(true);
  expect(lgetxattr(`${b.dest}/d/y`, 'trusted.overlay.opaque').toString()).toBe('y');
  expect(readFileSync(`${b.dest}/d/y/z`, 'utf8')).toBe('z');
  expect(existsSync(`${b.dest}/.wh..wh.plnk`)).toBe(false);
  b.check();
});

test('flat: `.wh.X` removes what lower layers left, never what this layer wrote', async () => {
  const b = box();
  mkdirSync(`${b.dest}/d/sub`, { recursive: true });
  writeFileSync(`${b.dest}/d/sub/f`, 'lower');
  writeFileSync(`${b.dest}/d/lower`, 'lower');
  await unpack(b, [
    { name: 'd/mine', data: 'mine' },
    { name: 'd/.wh.mine' },
    { name: 'd/.wh.sub' },
    { name: 'd/.wh.lower' },
    { name: 'd/.wh.missing' },
  ]);
  expect(readFileSync(`${b.dest}/d/mine`, 'utf8')).toBe('mine');
  expect(existsSync(`${b.dest}/d/sub`)).toBe(false);
  expect(existsSync(`${b.dest}/d/lower`)).toBe(false);
  b.check();
});

test('9. `link/.wh.f` where `link -> /etc` deletes ROOT/etc/f', async () => {
  const b = box();
  mkdirSync(`${b.dest}/etc`);
  writeFileSync(`${b.dest}/etc/f`, 'lower');
  writeFileSync(`${b.dest}/etc/g`, 'lower');
  await unpack(b, [{ name: 'link', type: 'symlink', linkname: '/etc' }, { name: 'link/.wh.f' }]);
  expect(existsSync(`${b.dest}/etc/f`)).toBe(false);
  expect(existsSync(`${b.dest}/etc/g`)).toBe(true);
  b.check();
});

test('10. a file over a directory tree, and a directory over a file; a directory over a directory keeps it', async () => {
  const b = box();
  mkdirSync(`${b.dest}/d/sub`, { recursive: true });
  writeFileSync(`${b.dest}/d/sub/f`, 'lower');
  writeFileSync(`${b.dest}/f`, 'lower');
  mkdirSync(`${b.dest}/keep`);
  writeFileSync(`${b.dest}/keep/child`, 'lower');
  await unpack(b, [
    { name: 'd', data: 'now a file' },
    { name: 'f', type: 'dir', mode: 0o750 },
    { name: 'keep', type: 'dir', mode: 0o711, uid: 7 },
  ]);
  expect(readFileSync(`${b.dest}/d`, 'utf8')).toBe('now a file');
  expect(lstatSync(`${b.dest}/f`).isDirectory()).toBe(true);
  expect(lstatSync(`${b.dest}/f`).mode & 0o7777).toBe(0o750);
  expect(readFileSync(`${b.dest}/keep/child`, 'utf8')).toBe('lower');
  expect([lstatSync(`${b.dest}/keep`).mode & 0o7777, lstatSync(`${b.dest}/keep`).uid]).toEqual([0o711, 7]);
  b.check();
});

test('10. a directory over a symlink to a directory replaces the symlink', async () => {
  const b = box();
  mkdirSync(`${b.dest}/real`);
  writeFileSync(`${b.dest}/real/f`, 'x');
  await unpack(b, [
    { name: 'l', type: 'symlink', linkname: 'real' },
    { name: 'l', type: 'dir' },
  ]);
  expect(lstatSync(`${b.dest}/l`).isDirectory()).toBe(true);
  expect(existsSync(`${b.dest}/real/f`)).toBe(true);
  b.check();
});

test('11. a non-directory in the middle of a path is replaced by a directory (umoci; containerd and moby refuse)', async () => {
  for (const format of ['flat', 'overlay'] as const) {
    const b = box();
    await unpack(
      b,
      [
        { name: 'f', data: 'x' },
        { name: 'f/x', data: 'y' },
        { name: 'g', data: 'x' },
        { name: 'g/deep/er/x', data: 'y' },
        { name: 'target', data: 'a file' },
        { name: 'l', type: 'symlink', linkname: '/target' },
        { name: 'l/x', data: 'through the symlink' },
      ],
      format,
    );
    expect(readFileSync(`${b.dest}/f/x`, 'utf8')).toBe('y');
    expect(readFileSync(`${b.dest}/g/deep/er/x`, 'utf8')).toBe('y');
    // The symlink stays; what it points at (inside the root) becomes the directory.
    expect(readlinkSync(`${b.dest}/l`)).toBe('/target');
    expect(readFileSync(`${b.dest}/target/x`, 'utf8')).toBe('through the symlink');
    b.check();
  }
});

test('12. a hard link that comes before its target is an error', async () => {
  await refused(
    box(),
    [
      { name: 'l', type: 'link', linkname: 't' },
      { name: 't', data: 't' },
    ],
    /hard link 'l' points at 't', which does not exist/,
  );
});

test('13. a duplicate path: the last one wins', async () => {
  const b = box();
  await unpack(b, [
    { name: 'f', data: 'first', mode: 0o600 },
    { name: 'f', data: 'second', mode: 0o640 },
    { name: 's', type: 'symlink', linkname: 'one' },
    { name: 's', type: 'symlink', linkname: 'two' },
  ]);
  expect(readFileSync(`${b.dest}/f`, 'utf8')).toBe('second');
  expect(lstatSync(`${b.dest}/f`).mode & 0o7777).toBe(0o640);
  expect(readlinkSync(`${b.dest}/s`)).toBe('two');
  b.check();
});

test('14. setuid/setgid survive the chown; a sticky directory; modes are exact whatever the umask', async () => {
  const b = box();
  const old = process.umask(0o077);
  try {
    await unpack(b, [
      { name: 'suid', data: '#!', mode: 0o4755, uid: 1000, gid: 1000 },
      { name: 'sgid', data: '#!', mode: 0o2711, uid: 0, gid: 50 },
      { name: 'tmp', type: 'dir', mode: 0o1777 },
      { name: 'open', data: '', mode: 0o666 },
    ]);
  } finally {
    process.umask(old);
  }
  const m = (p: string) => {
    const st = lstatSync(`${b.dest}/${p}`);
    return [st.mode & 0o7777, st.uid, st.gid];
  };
  expect(m('suid')).toEqual([0o4755, 1000, 1000]);
  expect(m('sgid')).toEqual([0o2711, 0, 50]);
  expect(m('tmp')).toEqual([0o1777, 0, 0]);
  expect(m('open')).toEqual([0o666, 0, 0]);
  b.check();
});

test('15. a directory with mode 0555 that has children; directory times are set last', async () => {
  const b = box();
  await unpack(b, [
    { name: 'ro', type: 'dir', mode: 0o555, mtime: 1_000_000_000, pax: { mtime: '1000000000.123456789' } },
    { name: 'ro/sub', type: 'dir', mode: 0o555, mtime: 1_100_000_000 },
    { name: 'ro/sub/f', data: 'f', mtime: 1_200_000_000 },
    { name: 'ro/g', data: 'g' },
  ]);
  expect(readFileSync(`${b.dest}/ro/sub/f`, 'utf8')).toBe('f');
  expect(lstatSync(`${b.dest}/ro`).mode & 0o7777).toBe(0o555);
  expect(lstatSync(`${b.dest}/ro`, { bigint: true }).mtimeNs).toBe(1_000_000_000_123_456_789n);
  expect(lstatSync(`${b.dest}/ro/sub`, { bigint: true }).mtimeNs).toBe(1_100_000_000_000_000_000n);
  expect(lstatSync(`${b.dest}/ro/sub/f`, { bigint: true }).mtimeNs).toBe(1_200_000_000_000_000_000n);
  b.check();
});

test('16. a char device, a block device, a fifo', async () => {
  const b = box();
  await unpack(b, [
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'fifo', type: 'fifo', mode: 0o640, uid: 3 },
  ]);
  const nul = lstatSync(`${b.dest}/dev/null`);
  expect([nul.isCharacterDevice(), nul.rdev, nul.mode & 0o7777]).toEqual([true, 0x103, 0o666]);
  const sda = lstatSync(`${b.dest}/dev/sda`);
  expect([sda.isBlockDevice(), sda.rdev, sda.mode & 0o7777, sda.gid]).toEqual([true, 0x800, 0o660, 6]);
  const fifo = lstatSync(`${b.dest}/fifo`);
  expect([fifo.isFIFO(), fifo.mode & 0o7777, fifo.uid]).toEqual([true, 0o640, 3]);
  b.check();
});

test('16. a non-regular entry with a size is refused', async () => {
  await refused(box(), [{ name: 's', type: 'symlink', linkname: 'x', size: 5, data: 'xxxxx' }], /non-zero size/);
});

test('17. xattrs: user.* set, security.capability byte for byte, security.selinux skipped, trusted.* refused', async () => {
  const b = box();
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00, 0xc3, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  await unpack(b, [
    {
      name: 'bin/ping',
      data: 'ELF',
      mode: 0o755,
      uid: 0,
      gid: 0,
      pax: {
        'SCHILY.xattr.security.capability': cap,
        'SCHILY.xattr.user.bin': Buffer.from([0, 1, 2, 0xff]),
        'SCHILY.xattr.security.selinux': 'system_u:object_r:bin_t:s0\0',
      },
    },
  ]);
  expect(lgetxattr(`${b.dest}/bin/ping`, 'security.capability')).toEqual(cap);
  expect(lgetxattr(`${b.dest}/bin/ping`, 'user.bin')).toEqual(Buffer.from([0, 1, 2, 0xff]));
  expect(llistxattr(`${b.dest}/bin/ping`)).not.toContain('security.selinux');
  await refused(
    box(),
    [{ name: 'd', type: 'dir', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }],
    /xattr 'trusted.overlay.opaque' \(refused\)/,
    'overlay',
  );
});

test('PAX: uid/gid/mtime/atime are applied; a size of 1e3 or 12abc is refused', async () => {
  const b = box();
  await unpack(b, [
    { name: 'f', data: 'x', pax: { uid: '3000000', gid: '3000001', mtime: '1234567890.5', atime: '1234567899.25' } },
  ]);
  const st = lstatSync(`${b.dest}/f`, { bigint: true });
  expect([st.uid, st.gid, st.mtimeNs, st.atimeNs]).toEqual([
    3000000n,
    3000001n,
    1_234_567_890_500_000_000n,
    1_234_567_899_250_000_000n,
  ]);
  await refused(box(), [{ name: 'f', data: 'x', pax: { size: '1e3' } }], /bad PAX size '1e3'/);
  await refused(box(), [{ name: 'f', data: 'x', pax: { size: '12abc' } }], /bad PAX size '12abc'/);
  await refused(box(), [{ name: 'f', data: 'x', pax: { 'GNU.sparse.size': '10' } }], /sparse/);
  await refused(box(), [{ name: 'a/'.repeat(1025) + 'f', data: 'x' }], /levels deep/);
  await refused(box(), [{ name: `${'c'.repeat(256)}/f`, data: 'x' }], /component over 255/);
  await refused(box(), [{ name: 'x/'.repeat(2100), type: 'dir' }], /levels deep|over 4096 bytes/);
});

test('a truncated layer and a 0-byte layer are refused; a layer of end blocks only is empty', async () => {
  const b = box();
  const whole = tar([{ name: 'f', data: 'x'.repeat(1000) }]);
  const file = join(work, 'cut.tar');
  writeFileSync(file, whole.subarray(0, 700));
  await expect(unpackLayer(file, b.dest, { format: 'flat' })).rejects.toThrow(/truncated \(in the body of 'f'\)/);
  writeFileSync(file, whole.subarray(0, 300));
  await expect(unpackLayer(file, box().dest, { format: 'flat' })).rejects.toThrow(/not a tar archive|truncated/);
  writeFileSync(file, '');
  await expect(unpackLayer(file, box().dest, { format: 'flat' })).rejects.toThrow(/empty/);
  writeFileSync(file, Buffer.alloc(1024));
  const e = box();
  expect((await unpackLayer(file, e.dest, { format: 'flat' })).entries).toBe(0);
  b.check();
});

test('many directories, replacements and hard links across them (the parent-fd cache is bounded and dropped)', async () => {
  const b = box();
  const entries: TestEntry[] = [];
  for (let i = 0; i < 300; i++) entries.push({ name: `d${i}/sub/f`, data: `f${i}` });
  for (let i = 0; i < 300; i += 7) entries.push({ name: `l/${i}`, type: 'link', linkname: `d${i}/sub/f` });
  entries.push({ name: 'd1', type: 'symlink', linkname: '/d2' }, { name: 'd1/sub/g', data: 'through d1' });
  entries.push({ name: 'd3/sub', data: 'file over dir' }, { name: 'd3/other/x', data: 'x' });
  await unpack(b, entries);
  for (let i = 0; i < 300; i += 7) {
    if (i === 1 || i === 3) continue;
    expect(lstatSync(`${b.dest}/l/${i}`).ino).toBe(lstatSync(`${b.dest}/d${i}/sub/f`).ino);
  }
  expect(readFileSync(`${b.dest}/d2/sub/g`, 'utf8')).toBe('through d1');
  expect(readFileSync(`${b.dest}/d3/sub`, 'utf8')).toBe('file over dir');
  expect(readFileSync(`${b.dest}/d3/other/x`, 'utf8')).toBe('x');
  b.check();
});

test('a whiteout under a path this layer made a non-directory hides nothing (umoci 0.4 writes these)', async () => {
  for (const format of ['overlay', 'flat'] as const) {
    const b = box();
    await unpack(
      b,
      [{ name: 'data/', type: 'dir' }, { name: 'data/dir', data: 'file\n' }, { name: 'data/dir/.wh.f' }],
      format,
    );
    expect(readFileSync(join(b.dest, 'data/dir'), 'utf8')).toBe('file\n');
    b.check();
  }
});
