// The unpacker's fast paths give exact results: a layer larger than the hash ring (the worker thread
// hashes it) from a file, from streams in odd chunk sizes and gzipped; the chown skipped only when a new
// inode already has the archive's owner (setgid directories, a directory's metadata set after its
// children); modes exact whatever the umask and default ACLs; parents opened one component at a time,
// symlinks among them resolved from the root; times before 1970. Runs as root (owners).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { lsetxattr } from '@builder/native';
import { expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { type LayerFormat, unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { rootScratch } from './scratch.js';
import { type TestEntry, tar } from './tar-writer.js';

const scratch = rootScratch('unpack-fast');
const fresh = scratch.fresh;
let n = 0;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function unpack(entries: TestEntry[], format: LayerFormat = 'overlay') {
  const dest = fresh();
  const file = scratch.path(`l${n++}.tar`);
  writeFileSync(file, tar(entries));
  await unpackLayer(file, dest, { format });
  return dest;
}

const owner = (p: string) => {
  const st = lstatSync(p);
  return [st.uid, st.gid, st.mode & 0o7777];
};

// 40 MiB of file data (the ring is 8 MiB), sizes not multiples of 512, plus small files and dirs.
const big: TestEntry[] = [{ name: 'big/', type: 'dir', mode: 0o750, uid: 7, gid: 8 }];
for (let i = 0; i < 20; i++) {
  big.push({ name: `big/f${i}`, data: randomBytes(2 * 1024 * 1024 + 333 * i), mode: 0o640, uid: i, gid: 100 + i });
  big.push({ name: `big/small/s${i}`, data: `small ${i}\n` });
}
const bigTar = tar(big);

function checkBig(dest: string): void {
  for (const e of big) {
    if (e.type === 'dir') continue;
    expect(sha(readFileSync(join(dest, e.name)))).toBe(sha(Buffer.from(e.data as Buffer | string)));
    expect(owner(join(dest, e.name))).toEqual([e.uid ?? 0, e.gid ?? 0, e.mode ?? 0o644]);
  }
  expect(owner(join(dest, 'big'))).toEqual([7, 8, 0o750]);
}

test('a layer larger than the hash ring, from a file: diffID and contents exact', async () => {
  const file = scratch.path('big.tar');
  writeFileSync(file, bigTar);
  const dest = fresh();
  const r = await unpackLayer(file, dest, { format: 'overlay', diffId: sha(bigTar) });
  expect(r).toMatchObject({ diffId: sha(bigTar), entries: big.length, size: bigTar.length });
  checkBig(dest);
});

test('the same layer as streams: fs stream, odd-sized chunks, gzip; progress counts the input bytes', async () => {
  const file = scratch.path('big2.tar');
  writeFileSync(file, bigTar);
  const gz = gzipSync(bigTar, { level: 1 });
  const odd = (data: Buffer, size: number) =>
    Readable.from(
      (function* () {
        for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
      })(),
    );
  for (const [what, input, inBytes] of [
    ['fs stream', createReadStream(file), bigTar.length],
    ['5-byte then 100003-byte chunks', Readable.from([bigTar.subarray(0, 5), bigTar.subarray(5)]), bigTar.length],
    ['100003-byte chunks', odd(bigTar, 100_003), bigTar.length],
    ['gzip, 7777-byte chunks', odd(gz, 7777), gz.length],
  ] as const) {
    const dest = fresh();
    let seen = 0;
    const r = await unpackLayer(input, dest, { format: 'flat', onProgress: (b) => (seen = b) });
    expect([what, r.diffId]).toEqual([what, sha(bigTar)]);
    expect(seen).toBe(inBytes);
    checkBig(dest);
  }
  const gzFile = scratch.path('big.tar.gz');
  writeFileSync(gzFile, gz);
  const dest = fresh();
  expect((await unpackLayer(gzFile, dest, { format: 'overlay', diffId: sha(bigTar) })).entries).toBe(big.length);
  checkBig(dest);
});

test('a layer file of exactly 2 MiB, 2 MiB + 512 and 1 MiB - 512 (reads end on and off a 1 MiB boundary)', async () => {
  const small = tar([{ name: 'f', data: 'x'.repeat(1000) }]);
  for (const size of [2 << 20, (2 << 20) + 512, (1 << 20) - 512]) {
    const data = Buffer.concat([small, Buffer.alloc(size - small.length)]); // zeros after the end: hashed, ignored
    const file = scratch.path(`exact-${size}.tar`);
    writeFileSync(file, data);
    const dest = fresh();
    expect(await unpackLayer(file, dest, { format: 'overlay' })).toMatchObject({
      diffId: sha(data),
      entries: 1,
      size: data.length,
    });
    expect(readFileSync(join(dest, 'f'), 'utf8')).toBe('x'.repeat(1000));
  }
});

test('a wrong diffID of a large layer is still a LayerError', async () => {
  const file = scratch.path('big3.tar');
  writeFileSync(file, bigTar);
  const wrong = `sha256:${'1'.repeat(64)}`;
  await expect(unpackLayer(file, fresh(), { format: 'overlay', diffId: wrong })).rejects.toThrow(
    `layer diffID mismatch: expected ${wrong}, got ${sha(bigTar)}`,
  );
});

test('owners are exact where the chown is skipped: setgid directories, a directory set up after its children', async () => {
  const d = await unpack([
    { name: 'plain/f', data: 'x' }, // our own owner: no chown needed
    { name: 'sg/', type: 'dir', mode: 0o2775, gid: 50 },
    { name: 'sg/inherits', data: 'x', gid: 50 }, // the setgid dir gives gid 50 already
    { name: 'sg/root', data: 'x', gid: 0 }, // must be chowned back to 0
    { name: 'sg/sub/', type: 'dir', mode: 0o755, gid: 0 }, // mkdir inherits 50 and the setgid bit
    { name: 'sg/sub/f', data: 'x', gid: 0 },
    { name: 'sg/link', type: 'symlink', linkname: 'inherits', gid: 0 },
    { name: 'sg/link50', type: 'symlink', linkname: 'inherits', gid: 50 },
    // `late/` exists (made as a parent of late/a) before its own entry makes it setgid 60
    { name: 'late/a', data: 'a', gid: 0 },
    { name: 'late/', type: 'dir', mode: 0o2770, gid: 60 },
    { name: 'late/b', data: 'b', gid: 0 },
    { name: 'late/c', data: 'c', gid: 60 },
    // a group dir that is not setgid: files in it get our group (unless the fs is mounted grpid)
    { name: 'grp/', type: 'dir', mode: 0o775, gid: 70 },
    { name: 'grp/f', data: 'x', gid: 0 },
    { name: 'grp/g', data: 'x', gid: 70 },
    { name: 'other/', type: 'dir', uid: 1000, gid: 1000 },
    { name: 'other/f', data: 'x', uid: 1000, gid: 1000 },
    { name: 'other/g', data: 'x' },
  ]);
  expect(owner(`${d}/plain/f`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/sg`)).toEqual([0, 50, 0o2775]);
  expect(owner(`${d}/sg/inherits`)).toEqual([0, 50, 0o644]);
  expect(owner(`${d}/sg/root`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/sg/sub`)).toEqual([0, 0, 0o755]);
  expect(owner(`${d}/sg/sub/f`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/sg/link`).slice(0, 2)).toEqual([0, 0]);
  expect(owner(`${d}/sg/link50`).slice(0, 2)).toEqual([0, 50]);
  expect(owner(`${d}/late`)).toEqual([0, 60, 0o2770]);
  expect(owner(`${d}/late/a`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/late/b`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/late/c`)).toEqual([0, 60, 0o644]);
  expect(owner(`${d}/grp/f`)).toEqual([0, 0, 0o644]);
  expect(owner(`${d}/grp/g`)).toEqual([0, 70, 0o644]);
  expect(owner(`${d}/other`)).toEqual([1000, 1000, 0o755]);
  expect(owner(`${d}/other/f`)).toEqual([1000, 1000, 0o644]);
  expect(owner(`${d}/other/g`)).toEqual([0, 0, 0o644]);
});

test('a destination directory that is setgid: its group is inherited only where the archive says so', async () => {
  const dest = fresh();
  const { chownSync, chmodSync } = await import('node:fs');
  chownSync(dest, 0, 80);
  chmodSync(dest, 0o2775);
  const file = scratch.path(`l${n++}.tar`);
  writeFileSync(
    file,
    tar([
      { name: 'f0', data: 'x', gid: 0 },
      { name: 'f80', data: 'x', gid: 80 },
      { name: 'new/g', data: 'x', gid: 0 }, // `new` is made as a parent: group 80, setgid
    ]),
  );
  await unpackLayer(file, dest, { format: 'flat' });
  expect(owner(`${dest}/f0`)).toEqual([0, 0, 0o644]);
  expect(owner(`${dest}/f80`)).toEqual([0, 80, 0o644]);
  expect(owner(`${dest}/new/g`)).toEqual([0, 0, 0o644]);
});

/** A POSIX ACL xattr value (version 2): user::rwx, group::---, other::--- */
const ACL_PRIVATE = (() => {
  const b = Buffer.alloc(4 + 3 * 8);
  b.writeUInt32LE(2, 0);
  [
    [0x01, 7],
    [0x04, 0],
    [0x20, 0],
  ].forEach(([tag, perm], i) => {
    b.writeUInt16LE(tag, 4 + i * 8);
    b.writeUInt16LE(perm, 6 + i * 8);
    b.writeUInt32LE(0xffffffff, 8 + i * 8);
  });
  return b;
})();

test('modes are exact whatever the umask and default ACLs (on the destination, or set by the layer, also late)', async () => {
  const old = process.umask(0o027);
  let d: string;
  try {
    d = await unpack([
      { name: 'a', data: 'x', mode: 0o640 },
      { name: 'b', data: 'x', mode: 0o644 }, // the umask would take o+r
      { name: 'c', data: 'x', mode: 0o755 },
      { name: 'd', data: 'x', mode: 0o700 },
      { name: 'e', data: 'x', mode: 0o6750 },
      { name: 'f', data: 'x', mode: 0o000 },
      { name: 'acl/', type: 'dir', pax: { 'SCHILY.xattr.system.posix_acl_default': ACL_PRIVATE } },
      { name: 'acl/g', data: 'x', mode: 0o644 },
      { name: 'acl/h', data: 'x', mode: 0o640 },
      // `late` is opened (as the parent of late/x) before its own entry gives it the default ACL
      { name: 'late/x', data: 'x', mode: 0o640 },
      { name: 'late/', type: 'dir', pax: { 'SCHILY.xattr.system.posix_acl_default': ACL_PRIVATE } },
      { name: 'late/y', data: 'x', mode: 0o640 },
    ]);
  } finally {
    process.umask(old);
  }
  const modes = ['a', 'b', 'c', 'd', 'e', 'f', 'acl/g', 'acl/h', 'late/x', 'late/y'].map((p) => owner(`${d}/${p}`)[2]);
  expect(modes).toEqual([0o640, 0o644, 0o755, 0o700, 0o6750, 0o000, 0o644, 0o640, 0o640, 0o640]);

  // A destination that has a default ACL already (flat format onto an existing tree).
  const dest = fresh();
  lsetxattr(dest, 'system.posix_acl_default', ACL_PRIVATE);
  mkdirSync(`${dest}/sub`); // inherits it
  const file = scratch.path(`l${n++}.tar`);
  writeFileSync(
    file,
    tar([
      { name: 'top', data: 'x', mode: 0o644 },
      { name: 'sub/f', data: 'x', mode: 0o644 },
      { name: 'new/f', data: 'x', mode: 0o640 },
    ]),
  );
  await unpackLayer(file, dest, { format: 'flat' });
  expect(['top', 'sub/f', 'new/f'].map((p) => owner(`${dest}/${p}`)[2])).toEqual([0o644, 0o644, 0o640]);
});

test('parents through symlinks in the middle of a path, relative and absolute, resolved inside the root', async () => {
  const d = await unpack([
    { name: 'a/b/', type: 'dir' },
    { name: 'a/c/', type: 'dir' },
    { name: 'a/b/rel', type: 'symlink', linkname: '../c' },
    { name: 'a/b/abs', type: 'symlink', linkname: '/a/c' },
    { name: 'a/b/up', type: 'symlink', linkname: '../../../../a/c' },
    { name: 'a/b/rel/f', data: 'rel' },
    { name: 'a/b/abs/g', data: 'abs' },
    { name: 'a/b/up/h', data: 'up' },
    { name: 'a/b/rel/deeper/i', data: 'deeper' },
  ]);
  expect(readFileSync(`${d}/a/c/f`, 'utf8')).toBe('rel');
  expect(readFileSync(`${d}/a/c/g`, 'utf8')).toBe('abs');
  expect(readFileSync(`${d}/a/c/h`, 'utf8')).toBe('up');
  expect(readFileSync(`${d}/a/c/deeper/i`, 'utf8')).toBe('deeper');
});

test('times before 1970 (a negative PAX mtime) are set exactly', async () => {
  const d = await unpack([
    { name: 'old/', type: 'dir', pax: { mtime: '-1.25' } },
    { name: 'old/f', data: 'x', pax: { mtime: '-86400.5', atime: '-86400.5' } },
    { name: 'old/s', type: 'symlink', linkname: 'f', pax: { mtime: '-3' } },
  ]);
  expect(lstatSync(`${d}/old`, { bigint: true }).mtimeNs).toBe(-1_250_000_000n);
  expect(lstatSync(`${d}/old/f`, { bigint: true }).mtimeNs).toBe(-86_400_500_000_000n);
  expect(lstatSync(`${d}/old/s`, { bigint: true }).mtimeNs).toBe(-3_000_000_000n);
});

test('a layer file that cannot be read is a LayerError naming it', async () => {
  const missing = scratch.path('no-such-layer.tar');
  await expect(unpackLayer(missing, fresh(), { format: 'overlay' })).rejects.toThrow(
    new LayerError(`layer tarball ${missing} cannot be read: ENOENT: no such file or directory, open '${missing}'`),
  );
  await expect(unpackLayer(scratch.path(''), fresh(), { format: 'overlay' })).rejects.toBeInstanceOf(LayerError);
});

test("a layer file's blob digest and size are checked when given (plain and gzip)", async () => {
  const plain = tar([{ name: 'f', data: 'blob\n' }]);
  const gz = gzipSync(plain);
  const files = { plain: scratch.path('blob.tar'), gz: scratch.path('blob.tar.gz') };
  writeFileSync(files.plain, plain);
  writeFileSync(files.gz, gz);
  const wrong = `sha256:${'2'.repeat(64)}`;
  for (const [file, data] of [
    [files.plain, plain],
    [files.gz, gz],
  ] as const) {
    const ok = await unpackLayer(file, fresh(), { format: 'overlay', blob: { digest: sha(data), size: data.length } });
    expect(ok.diffId).toBe(sha(plain));
    await expect(
      unpackLayer(file, fresh(), { format: 'overlay', blob: { digest: wrong, size: data.length } }),
    ).rejects.toThrow(`layer blob digest mismatch: expected ${wrong}, got ${sha(data)}`);
    await expect(
      unpackLayer(file, fresh(), { format: 'overlay', blob: { digest: sha(data), size: data.length + 1 } }),
    ).rejects.toThrow(`layer blob size mismatch: expected ${data.length + 1} bytes, read ${data.length}`);
  }
});
