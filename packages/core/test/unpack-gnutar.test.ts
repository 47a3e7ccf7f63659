// GNU tar as the oracle: a tree with set-id and sticky modes, several owners, hard links, symlinks, a
// device, a fifo, xattrs (user.* and a binary security.capability) and sub-second mtimes is archived by
// GNU tar (pax format), then extracted by GNU tar and by unpackLayer; the two trees (and the source)
// must agree entry by entry. Also compressed variants, media types and diffIDs. Runs as root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  createReadStream,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  lgetxattr,
  llistxattr,
  lsetxattr,
  makedev,
  mknodat,
  S_IFCHR,
  S_IFIFO,
  utimensat,
} from '@builder/native';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { unpackLayer } from '../src/image/unpack/unpack-layer.js';

let work: string;
let src: string;
let layer: string;
let diffId: string;
const CAP = Buffer.from([1, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // v2, cap_net_raw

function buildTree(root: string): void {
  const p = (r: string) => join(root, r);
  mkdirSync(p('usr/bin'), { recursive: true });
  mkdirSync(p('tmp'));
  mkdirSync(p('srv/shared'), { recursive: true });
  mkdirSync(p('dev'));
  writeFileSync(p('usr/bin/suid'), 'setuid program\n');
  writeFileSync(p('usr/bin/sgid'), 'setgid program\n');
  writeFileSync(p('usr/bin/ping'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 255]));
  writeFileSync(p('srv/data'), 'x'.repeat(70_000));
  writeFileSync(p('srv/empty'), '');
  linkSync(p('srv/data'), p('usr/bin/hardlink-to-data'));
  linkSync(p('srv/data'), p('srv/shared/second-link'));
  symlinkSync('/usr/bin/suid', p('usr/bin/abs-link'));
  symlinkSync('../srv/data', p('usr/rel-link'));
  symlinkSync('dangling/target', p('srv/dangling'));
  mknodat(AT_FDCWD, p('dev/null'), S_IFCHR | 0o666, makedev(1, 3));
  mknodat(AT_FDCWD, p('srv/fifo'), S_IFIFO | 0o640, 0n);

  lchownSync(p('usr/bin/suid'), 1000, 1000);
  chmodSync(p('usr/bin/suid'), 0o4755);
  lchownSync(p('usr/bin/sgid'), 0, 1001);
  chmodSync(p('usr/bin/sgid'), 0o2711);
  chmodSync(p('tmp'), 0o1777);
  lchownSync(p('srv/shared'), 33, 50);
  chmodSync(p('srv/shared'), 0o2775);
  lchownSync(p('srv/data'), 1234, 5678);
  chmodSync(p('srv/data'), 0o640);
  lchownSync(p('usr/rel-link'), 7, 8);
  lchownSync(p('srv/fifo'), 99, 100);
  chmodSync(p('srv/fifo'), 0o640);
  chmodSync(p('srv/empty'), 0o400);

  lsetxattr(p('usr/bin/ping'), 'security.capability', CAP);
  lsetxattr(p('srv/data'), 'user.comment', Buffer.from('hello'));
  lsetxattr(p('srv/data'), 'user.binary', Buffer.from([0, 0xff, 0xfe, 0x80, 0, 10]));
  lsetxattr(p('srv/shared'), 'user.dir', Buffer.from('on a directory'));

  // Sub-second times, deepest first so the directories keep theirs.
  const all = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map(String)
    .sort((a, b) => b.split('/').length - a.split('/').length);
  let i = 0;
  for (const rel of all) {
    const ns = 1_600_000_000_000_000_000n + BigInt(i++) * 1_000_000_123n + 456_789n;
    utimensat(AT_FDCWD, p(rel), ns, ns, AT_SYMLINK_NOFOLLOW);
  }
}

interface Rec {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  mtimeNs: string;
  link?: string;
  nlink: number;
  rdev: number;
  xattrs: Record<string, string>;
}

function snapshot(root: string): Record<string, Rec> {
  const out: Record<string, Rec> = {};
  for (const rel of readdirSync(root, { recursive: true, encoding: 'utf8' }).map(String).sort()) {
    const path = join(root, rel);
    const st = lstatSync(path, { bigint: true });
    const type = st.isFile()
      ? 'file'
      : st.isDirectory()
        ? 'dir'
        : st.isSymbolicLink()
          ? 'symlink'
          : st.isCharacterDevice()
            ? 'char'
            : st.isBlockDevice()
              ? 'block'
              : st.isFIFO()
                ? 'fifo'
                : 'other';
    const xattrs: Record<string, string> = {};
    for (const name of llistxattr(path).sort()) xattrs[name] = lgetxattr(path, name).toString('hex');
    out[rel] = {
      type,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' || type === 'symlink' ? Number(st.size) : 0,
      mtimeNs: String(st.mtimeNs),
      nlink: Number(st.nlink),
      rdev: Number(st.rdev),
      xattrs,
      ...(type === 'file' ? { sha256: createHash('sha256').update(readFileSync(path)).digest('hex') } : {}),
      ...(type === 'symlink' ? { link: readlinkSync(path) } : {}),
    };
  }
  return out;
}

const fresh = () => mkdtempSync(join(work, 'x-'));
const tarArgs = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unpack-gnutar-'));
  src = join(work, 'src');
  mkdirSync(src);
  buildTree(src);
  layer = join(work, 'layer.tar');
  execFileSync('tar', [...tarArgs, '--format=pax', '-C', src, '-cf', layer, '.']);
  diffId = `sha256:${createHash('sha256').update(readFileSync(layer)).digest('hex')}`;
  execFileSync('gzip', ['-k', '-9', layer]);
  execFileSync('zstd', ['-q', '-k', layer, '-o', `${layer}.zst`]);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('GNU tar as the oracle', () => {
  test('the source tree has what the test needs', () => {
    const s = snapshot(src);
    expect(s['usr/bin/suid'].mode).toBe(0o4755);
    expect(s['usr/bin/ping'].xattrs['security.capability']).toBe(CAP.toString('hex'));
    expect(s['srv/data'].nlink).toBe(3);
    expect(s['dev/null'].type).toBe('char');
    expect(Number(BigInt(s['srv/data'].mtimeNs) % 1_000_000_000n)).not.toBe(0);
  });

  test('unpackLayer (flat) gives the same tree as `tar -xpf`, entry by entry', async () => {
    const byTar = fresh();
    execFileSync('tar', [...tarArgs, '-xpf', layer, '-C', byTar]);
    const ours = fresh();
    const r = await unpackLayer(layer, ours, { format: 'flat' });
    expect(r.diffId).toBe(diffId);
    expect(r.entries).toBe(Object.keys(snapshot(src)).length + 1); // + the `./` entry
    const mine = snapshot(ours);
    expect(mine).toEqual(snapshot(byTar));
    expect(mine).toEqual(snapshot(src));
  });

  test('the root entry (`./`): its owner, mode, xattrs and times go on dest, as with GNU tar', async () => {
    const tree = fresh();
    writeFileSync(join(tree, 'f'), 'f');
    lchownSync(tree, 5, 6);
    chmodSync(tree, 0o750);
    lsetxattr(tree, 'user.root', Buffer.from('top'));
    utimensat(AT_FDCWD, tree, 1_500_000_000_123_456_789n, 1_500_000_000_123_456_789n);
    const file = join(work, 'root.tar');
    execFileSync('tar', [...tarArgs, '--format=pax', '-C', tree, '-cf', file, '.']);
    const root = (dir: string) => {
      const st = lstatSync(dir, { bigint: true });
      return [st.mode & 0o7777n, st.uid, st.gid, st.mtimeNs, lgetxattr(dir, 'user.root').toString()];
    };
    const byTar = fresh();
    execFileSync('tar', [...tarArgs, '-xpf', file, '-C', byTar]);
    expect(root(byTar)).toEqual([0o750n, 5n, 6n, 1_500_000_000_123_456_789n, 'top']);
    for (const format of ['flat', 'overlay'] as const) {
      const ours = fresh();
      await unpackLayer(file, ours, { format });
      expect(root(ours)).toEqual(root(byTar));
    }
  });

  test('overlay format gives the same tree for a layer without whiteouts', async () => {
    const ours = fresh();
    await unpackLayer(layer, ours, { format: 'overlay' });
    expect(snapshot(ours)).toEqual(snapshot(src));
  });

  for (const [suffix, mediaType] of [
    ['.gz', 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['.zst', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    ['', 'application/vnd.oci.image.layer.v1.tar'],
  ] as const) {
    test(`compressed '${suffix || 'none'}' as a stream, media type ${mediaType}, diffID checked`, async () => {
      const ours = fresh();
      const seen: number[] = [];
      const r = await unpackLayer(createReadStream(layer + suffix), ours, {
        format: 'flat',
        mediaType,
        diffId,
        onProgress: (n) => seen.push(n),
      });
      expect(r.diffId).toBe(diffId);
      expect(snapshot(ours)).toEqual(snapshot(src));
      expect(seen.at(-1)).toBe(lstatSync(layer + suffix).size);
    });
  }

  test('Docker media type for gzip', async () => {
    const r = await unpackLayer(`${layer}.gz`, fresh(), {
      format: 'flat',
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    });
    expect(r.diffId).toBe(diffId);
  });

  test('a diffID mismatch is a LayerError', async () => {
    const wrong = `sha256:${'0'.repeat(64)}`;
    const err = await unpackLayer(`${layer}.zst`, fresh(), { format: 'flat', diffId: wrong }).catch((e) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect(err.message).toBe(`layer diffID mismatch: expected ${wrong}, got ${diffId}`);
  });

  test('compression that contradicts the media type is a LayerError', async () => {
    await expect(
      unpackLayer(`${layer}.gz`, fresh(), { format: 'flat', mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }),
    ).rejects.toThrow(/says zstd, but the data is gzip/);
    await expect(
      unpackLayer(layer, fresh(), { format: 'flat', mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }),
    ).rejects.toThrow(/says gzip, but the data is not compressed/);
    await expect(unpackLayer(layer, fresh(), { format: 'flat', mediaType: 'text/plain' })).rejects.toThrow(
      /unsupported layer media type/,
    );
  });

  test('gzip: multi-member, and trailing zeros after the last member', async () => {
    const data = readFileSync(layer);
    const half = Math.floor(data.length / 1024) * 512;
    const a = join(work, 'a');
    const b = join(work, 'b');
    writeFileSync(a, data.subarray(0, half));
    writeFileSync(b, data.subarray(half));
    const multi = Buffer.concat([execFileSync('gzip', ['-c', a]), execFileSync('gzip', ['-c', b]), Buffer.alloc(100)]);
    const file = join(work, 'multi.gz');
    writeFileSync(file, multi);
    const ours = fresh();
    const r = await unpackLayer(file, ours, { format: 'flat', diffId });
    expect(r.diffId).toBe(diffId);
    expect(snapshot(ours)).toEqual(snapshot(src));
  });

  test('zstd: a skippable frame in front; corrupt zstd data is a LayerError', async () => {
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(5, 4);
    const file = join(work, 'skip.zst');
    writeFileSync(file, Buffer.concat([skippable, readFileSync(`${layer}.zst`)]));
    expect((await unpackLayer(file, fresh(), { format: 'flat' })).diffId).toBe(diffId);
    const zst = readFileSync(`${layer}.zst`);
    writeFileSync(file, zst.subarray(0, Math.floor(zst.length / 2)));
    await expect(unpackLayer(file, fresh(), { format: 'flat' })).rejects.toBeInstanceOf(LayerError);
    const gz = readFileSync(`${layer}.gz`);
    writeFileSync(file, gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(unpackLayer(file, fresh(), { format: 'flat' })).rejects.toBeInstanceOf(LayerError);
  });
});
