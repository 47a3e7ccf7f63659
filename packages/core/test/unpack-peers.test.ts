// The archive shapes of the peers' own breakout and apply tests, written again as layers for builder
// (the shapes only: the peers' code is not used):
// - containerd pkg/archive/tar_test.go: TestBreakouts, TestApplyTar; tar_unix_test.go (device numbers);
// - moby go-archive archive_test.go (TestUntarInvalidFilenames, …ParentTraversalContained,
//   …SiblingPrefixContained, …HardlinkToSymlink, …InvalidHardlink, …AbsoluteHardlink, …InvalidSymlink,
//   …SymlinkBreakout), archive_unix_test.go (implied directories, paths through absolute symlinks, lower
//   layer symlinks), archive_linux_test.go (overlay whiteouts), diff_test.go (TestApplyLayer*);
// - umoci oci/layer/tar_extract_test.go (scoping, non-directory parents, whiteouts, opaque whiteouts,
//   hard links).
// Shapes that unpack.ts's attack tests already cover (unpack-attacks.test.ts: `.wh.`, `.wh..`, `.wh...`,
// `link/.wh.f`, a hard link before its target, …) are not repeated.
//
// Every shape runs inside a box: the parent of the destination holds a victim directory and a sentinel,
// and nothing outside the destination may change. A shape that a peer unpacks is unpacked by builder
// too, in flat format and in overlay format (each layer in its own directory, with the layers below as
// lowers), and the kernel's overlay mount of the overlay-format layers must show the same tree as the
// flat result. Where builder refuses a shape that a peer accepts, the test says why (a real security
// refusal, or POSIX path resolution). Where a check resolves a path through the tree's symlinks, the
// kernel resolves it (python3 chrooted into the result), never builder's own resolver. Runs as root.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr } from '@builder/native';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tool } from '../../../test/helpers/tools.js';
import { LayerError } from '../src/errors.js';
import { type LayerFormat, unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { listing, merged } from './layer-stack.js';
import { header, type TestEntry, tar } from './tar-writer.js';

let work: string;
let n = 0;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unpack-peers-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const HELLO = 'hello from the host\n';

interface Box {
  parent: string;
  /** The flat destination. */
  dest: string;
  /** The overlay-format layer directories, bottom first. */
  dirs: string[];
  tars: string;
  /** Nothing outside the destinations changed; the victim is intact. */
  check(): void;
}

function box(): Box {
  const parent = join(work, `b${n++}`);
  const dest = join(parent, 'dest');
  const tars = join(work, `t${n++}`);
  mkdirSync(dest, { recursive: true });
  mkdirSync(join(parent, 'dest-layers'));
  mkdirSync(tars);
  mkdirSync(join(parent, 'victim'));
  writeFileSync(join(parent, 'victim/hello'), HELLO);
  writeFileSync(join(parent, 'sentinel'), 'keep');
  const snap = () =>
    execFileSync('find', [parent, '-path', `${parent}/dest*`, '-prune', '-o', '-printf', '%p %y %s %m %n %T@\\n'])
      .toString()
      .split('\n')
      .sort()
      .join('\n');
  const before = snap();
  return {
    parent,
    dest,
    dirs: [],
    tars,
    check() {
      expect(snap()).toBe(before);
      expect(readFileSync(join(parent, 'victim/hello'), 'utf8')).toBe(HELLO);
    },
  };
}

/** Apply `layers` (bottom first) flat onto b.dest and, each into its own directory, in overlay format. */
async function apply(b: Box, layers: TestEntry[][]): Promise<void> {
  for (const [i, entries] of layers.entries()) {
    const file = join(b.tars, `l${i}.tar`);
    writeFileSync(file, tar(entries));
    await unpackLayer(file, b.dest, { format: 'flat' });
    const dir = join(b.parent, 'dest-layers', String(i));
    mkdirSync(dir);
    await unpackLayer(file, dir, { format: 'overlay', lowers: [...b.dirs].reverse() });
    b.dirs.push(dir);
  }
}

/** The shape unpacks, stays in the box, and the overlay-format layers show the flat tree. */
async function unpacks(layers: TestEntry[][], check: (root: string) => void): Promise<Box> {
  const b = box();
  await apply(b, layers);
  check(b.dest);
  if (b.dirs.length > 1) expect(merged({ dirs: b.dirs, flat: b.dest, copiedUp: [] }, true)).toBe(listing(b.dest, true));
  else expect(listing(b.dirs[0], true)).toBe(listing(b.dest, true));
  b.check();
  return b;
}

/** The last layer is refused (in both formats) with `re`, and nothing outside dest changed. */
async function refused(layers: TestEntry[][], re: RegExp, formats: LayerFormat[] = ['flat', 'overlay']) {
  for (const format of formats) {
    const b = box();
    await apply(b, layers.slice(0, -1));
    const file = join(b.tars, 'last.tar');
    writeFileSync(file, tar(layers[layers.length - 1]));
    const dest = format === 'flat' ? b.dest : join(b.parent, 'dest-layers', 'last');
    mkdirSync(dest, { recursive: true });
    const lowers = format === 'overlay' ? [...b.dirs].reverse() : undefined;
    const err = await unpackLayer(file, dest, { format, lowers }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, `${format}: expected a refusal`).toBeInstanceOf(LayerError);
    expect((err as Error).message).toMatch(re);
    b.check();
  }
}

// containerd's tartest vocabulary.
const dir = (name: string, mode = 0o755): TestEntry => ({ name, type: 'dir', mode });
const file = (name: string, data: string | Buffer, mode = 0o644): TestEntry => ({ name, data, mode });
const symlink = (target: string, name: string): TestEntry => ({ name, type: 'symlink', linkname: target });
const link = (target: string, name: string): TestEntry => ({ name, type: 'link', linkname: target });

/**
 * The files that `paths` name inside `root` (symlinks followed, the last one too), as the kernel resolves
 * them for a process chrooted there: an absolute symlink starts at `root`, `..` stops at it. The oracle is
 * independent of builder's own resolver (`resolveInRoot`), which places the files being checked.
 */
function kernelStat(root: string, ...paths: string[]): string[] {
  const py = [
    'import os, sys',
    'os.chroot(sys.argv[1])',
    "os.chdir('/')",
    'for p in sys.argv[2:]:',
    '    try:',
    '        st = os.stat(p)',
    "        print(f'dev {st.st_dev} ino {st.st_ino}')",
    '    except OSError as e:',
    "        print(f'{p}: {e.strerror}')",
  ].join('\n');
  return tool('python3', ['-c', py, root, ...paths.map((p) => `/${p}`)])
    .trimEnd()
    .split('\n');
}
const sameFile = (root: string, a: string, b: string) => {
  const [x, y] = kernelStat(root, a, b);
  expect(x, `${a}, resolved by the kernel in the root`).toMatch(/^dev \d+ ino \d+$/);
  expect(y, `${b} and ${a}, resolved by the kernel in the root`).toBe(x);
};
const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');
const gone = (root: string, p: string) => expect(existsSync(join(root, p))).toBe(false);
/** Every path below `root`, directories with a trailing `/` (symlinks never followed). */
function contents(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(rel ? join(root, rel) : root)) {
    const p = rel ? `${rel}/${name}` : name;
    if (lstatSync(join(root, p)).isDirectory()) out.push(`${p}/`, ...contents(root, p));
    else out.push(p);
  }
  return out.sort();
}

describe('containerd TestBreakouts: symlinks in parents are followed inside the root', () => {
  const unbroken = (root: string) => expect(read(root, 'etc/unbroken')).toBe('unbroken');
  test('SymlinkAbsolute', () =>
    unpacks([[dir('etc'), symlink('/etc', 'localetc'), file('/localetc/unbroken', 'unbroken')]], unbroken));
  test('SymlinkUpAndOut', () =>
    unpacks(
      [[dir('etc'), dir('dummy'), symlink('/dummy/../etc', 'localetc'), file('/localetc/unbroken', 'unbroken')]],
      unbroken,
    ));
  test('SymlinkMultipleAbsolute', () =>
    unpacks(
      [
        [
          dir('etc'),
          dir('dummy'),
          symlink('/etc', '/dummy/etc'),
          symlink('/dummy/etc', 'localetc'),
          file('/dummy/etc/unbroken', 'unbroken'),
        ],
      ],
      unbroken,
    ));
  test('SymlinkMultipleRelative', () =>
    unpacks(
      [
        [
          dir('etc'),
          dir('dummy'),
          symlink('/etc', '/dummy/etc'),
          symlink('./dummy/etc', 'localetc'),
          file('/dummy/etc/unbroken', 'unbroken'),
        ],
      ],
      unbroken,
    ));
  test('SymlinkEmptyFile', () =>
    unpacks(
      [[dir('etc'), file('etc/emptied', 'notempty'), symlink('/etc', 'localetc'), file('/localetc/emptied', '')]],
      (root) => expect(read(root, 'etc/emptied')).toBe(''),
    ));
  test('SymlinkOverridePath: a symlink replaces a directory, a directory replaces it again', async () => {
    const probe = `/tmp/builder-breakout-${process.pid}`;
    await unpacks(
      [
        [
          dir('foo'),
          dir('foo/tmp'),
          file(`foo${probe}`, '012'),
          symlink('/', 'foo'),
          file(`foo${probe}`, '345'),
          dir('foo'),
          dir('foo/tmp'),
          file(`foo${probe}`, '678'),
        ],
      ],
      (root) => {
        expect(read(root, `foo${probe}`)).toBe('678');
        expect(read(root, probe.slice(1))).toBe('345'); // through foo -> /: the root's /tmp
      },
    );
    expect(existsSync(probe)).toBe(false);
  });
  test('SymlinkParentRelative, SymlinkSlashEnded', async () => {
    await unpacks(
      [
        [
          dir('etc'),
          file('/etc/passwd', 'inside'),
          symlink('/etc/', 'localetc/sub/..'),
          link('/etc/passwd', '/localetc/localpasswd'),
        ],
      ],
      (root) => sameFile(root, 'localetc/localpasswd', 'etc/passwd'),
    );
    await unpacks(
      [
        [
          dir('etc'),
          file('/etc/passwd', 'inside'),
          dir('localetc/', 0o770),
          link('/etc/passwd', '/localetc/localpasswd'),
        ],
      ],
      (root) => sameFile(root, 'localetc/localpasswd', 'etc/passwd'),
    );
  });
});

describe('containerd TestBreakouts: hard links', () => {
  const passwd = [dir('etc', 0o770), file('/etc/passwd', 'inside')];
  test('HardlinkRelative, HardlinkDownAndOut: through a symlink that climbs above the root', async () => {
    await unpacks(
      [
        [
          ...passwd,
          dir('breakouts'),
          symlink('../../etc', 'breakouts/d1'),
          link('/breakouts/d1/passwd', 'breakouts/mypasswd'),
        ],
      ],
      (root) => sameFile(root, 'breakouts/mypasswd', 'etc/passwd'),
    );
    await unpacks(
      [
        [
          ...passwd,
          dir('breakouts'),
          dir('downandout'),
          symlink('../downandout/../../etc', 'breakouts/d1'),
          link('/breakouts/d1/passwd', 'breakouts/mypasswd'),
        ],
      ],
      (root) => sameFile(root, 'breakouts/mypasswd', 'etc/passwd'),
    );
  });
  test('HardlinkAbsolute, HardlinkRelativeLong, HardlinkDirectAbsolute', async () => {
    for (const target of ['/etc', '../../../../../../../etc']) {
      await unpacks([[...passwd, symlink(target, 'localetc'), link('/localetc/passwd', 'localpasswd')]], (root) =>
        sameFile(root, 'localpasswd', 'etc/passwd'),
      );
    }
    await unpacks([[...passwd, link('/etc/passwd', 'localpasswd')]], (root) =>
      sameFile(root, 'localpasswd', 'etc/passwd'),
    );
  });
  test('HardlinkRelativeUpAndOut: refused, the symlink goes through a missing directory (POSIX resolution)', async () => {
    // containerd resolves `upandout/../../../etc` lexically (continuity's RootPath skips what is missing);
    // the kernel, and so the container at run time, finds no `upandout` and the symlink dangles.
    await refused(
      [[...passwd, symlink('upandout/../../../etc', 'localetc'), link('/localetc/passwd', 'localpasswd')]],
      /does not exist/,
    );
  });
  test('HardlinkDirectRelative: refused, a hard link target with `..` above the root (moby refuses it too)', async () => {
    // containerd clamps `../../../../../etc/passwd` at the root; moby (TestUntarInvalidHardlink) and
    // research §4 item 5 refuse it: a hard link target is a path inside the archive, never above it.
    await refused(
      [[...passwd, link('../../../../../etc/passwd', 'localpasswd')]],
      /hard link target '.*' leaves the root/,
    );
  });
  test('HardlinkSymlinkBeforeCreateTarget, HardlinkSymlinkRelative, HardlinkSymlinkAbsolute: a link to a symlink links the symlink', async () => {
    await unpacks(
      [
        [
          dir('etc', 0o770),
          symlink('/etc/passwd', 'localpasswd'),
          link('localpasswd', 'localpasswd-dup'),
          file('/etc/passwd', 'after'),
        ],
      ],
      (root) => {
        sameFile(root, 'localpasswd-dup', 'etc/passwd');
        expect(lstatSync(join(root, 'localpasswd-dup')).ino).toBe(lstatSync(join(root, 'localpasswd')).ino);
      },
    );
    for (const target of ['../../../../../etc/passwd', '/etc/passwd']) {
      await unpacks([[...passwd, symlink(target, 'passwdlink'), link('/passwdlink', 'localpasswd')]], (root) => {
        expect(readlinkSync(join(root, 'localpasswd'))).toBe(target);
        expect(lstatSync(join(root, 'localpasswd')).ino).toBe(lstatSync(join(root, 'passwdlink')).ino);
        sameFile(root, 'localpasswd', 'etc/passwd');
      });
    }
  });
  test('HardlinkSymlinkChmod: a link to a symlink that points at a host file changes nothing on the host', async () => {
    const outside = mkdtempSync(join(work, 'host-'));
    const p = join(outside, 'perm400');
    const ep = join(outside, 'also-exists-outside-root');
    writeFileSync(p, '...', { mode: 0o400 });
    writeFileSync(ep, '...', { mode: 0o640 });
    await unpacks([[symlink(p, ep), link(ep, 'sketchylink')]], (root) => {
      expect(readlinkSync(join(root, 'sketchylink'))).toBe(p);
      expect(lstatSync(join(root, ep.slice(1))).isSymbolicLink()).toBe(true);
    });
    expect(lstatSync(p).mode & 0o7777).toBe(0o400);
    expect(lstatSync(ep).mode & 0o7777).toBe(0o640);
  });
});

describe('containerd TestBreakouts: replacing what a lower layer left', () => {
  const lower = [dir('/etc/'), file('/etc/passwd', 'inside')];
  test('SymlinkOverrideDirectory(Relative): a symlink replaces a lower directory', async () => {
    for (const target of ['/etc', '../../etc']) {
      await unpacks(
        [
          [...lower, dir('/localetc/')],
          [symlink(target, 'localetc'), link('/etc/passwd', '/localetc/localpasswd')],
        ],
        (root) => {
          expect(readlinkSync(join(root, 'localetc'))).toBe(target); // still the symlink, not a directory again
          sameFile(root, 'localetc/localpasswd', 'etc/passwd');
        },
      );
    }
  });
  test('DirectoryOverrideSymlink: a directory replaces a lower symlink', () =>
    unpacks(
      [
        [...lower, symlink('/etc', 'localetc')],
        [dir('/localetc/'), link('/etc/passwd', '/localetc/localpasswd')],
      ],
      (root) => {
        expect(lstatSync(join(root, 'localetc')).isDirectory()).toBe(true);
        sameFile(root, 'localetc/localpasswd', 'etc/passwd');
      },
    ));
  test('DirectoryOverrideSymlinkAndHardlink', () =>
    unpacks(
      [
        [...lower, symlink('etc', 'localetc'), link('/etc/passwd', '/localetc/localpasswd')],
        [dir('/localetc/'), file('/localetc/localpasswd', 'different')],
      ],
      (root) => {
        expect(read(root, 'localetc/localpasswd')).toBe('different');
        expect(read(root, 'etc/passwd')).toBe('inside');
        expect(read(root, 'etc/localpasswd')).toBe('inside');
      },
    ));
});

describe('containerd TestBreakouts: whiteouts', () => {
  const lower = [dir('/etc/'), file('/etc/passwd', 'all users'), file('/etc/whitedout', 'ahhhh whiteout')];
  test('WhiteoutSymlink: `.wh.link` removes the symlink, not what it points at', () =>
    unpacks([[...lower, symlink('/etc', 'localetc')], [file('.wh.localetc', '')]], (root) => {
      expect(read(root, 'etc/passwd')).toBe('all users');
      gone(root, 'localetc');
    }));
  test('WhiteoutDirectoryName: a directory named `.wh.etc` is a plain directory', () =>
    unpacks([[...lower, symlink('/etc', 'localetc')], [file('.wh.etc/somefile', 'non-empty')]], (root) => {
      expect(read(root, 'etc/passwd')).toBe('all users');
      expect(read(root, '.wh.etc/somefile')).toBe('non-empty');
    }));
  test('WhiteoutDeadSymlinkParent: a whiteout below a dangling symlink is a no-op', () =>
    unpacks([[...lower, symlink('/dne', 'localetc')], [file('localetc/.wh.etc', '')]], (root) =>
      expect(read(root, 'etc/passwd')).toBe('all users'),
    ));
  test('WhiteoutRelativePath: `dne/../.wh.etc` removes etc', () =>
    unpacks([[...lower, symlink('/dne', 'localetc')], [file('dne/../.wh.etc', '')]], (root) => gone(root, 'etc')));
});

describe('containerd TestBreakouts and TestApplyTar: names that resolve to the root', () => {
  test('SymlinkParentDirectory: a symlink named `..` is refused (containerd skips it as the root)', async () => {
    // A name that climbs above the root is refused whole, like moby (TestUntarParentTraversalContained
    // refuses a bare `..`); containerd cleans it to the root and skips the entry.
    await refused([[dir('etc', 0o770), file('/etc/passwd', 'inside'), symlink('/etc/', '..')]], /leaves the root/);
  });
  test('SymlinkEmptyFilename: an entry with an empty name is refused (containerd skips it as the root)', async () => {
    // A malformed name; and a non-directory root entry is refused outright (CVE-2021-29136, umoci).
    await refused([[dir('etc', 0o770), symlink('/etc/', '')]], /empty name/);
  });
  test('DirectoryCreation: directories without their parents', () =>
    unpacks(
      [
        [dir('/etc/')],
        [
          dir('/etc/subdir'),
          dir('/etc/subdir2/'),
          dir('/etc/subdir2/more'),
          dir('/other/noparent-1/1'),
          dir('/other/noparent-2/2/'),
        ],
      ],
      (root) => {
        for (const d of ['etc/subdir', 'etc/subdir2/more', 'other/noparent-1/1', 'other/noparent-2/2'])
          expect(lstatSync(join(root, d)).isDirectory()).toBe(true);
        expect(lstatSync(join(root, 'other/noparent-1')).mode & 0o7777).toBe(0o755);
      },
    ));
  test('device numbers above 32 bits are refused (containerd and moby: errInvalidArchive)', async () => {
    // base-256 device numbers: 2^32 does not fit a dev_t's major.
    const e = tar([{ name: 'dev/big', type: 'block' }]);
    const h = header({ name: 'dev/big', type: 'block' }, '4', 0);
    h.fill(0, 329, 337);
    h[329] = 0x80; // base-256
    h[332] = 1; // 2^32
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
    h.copy(e, 0);
    const b = box();
    const f = join(b.tars, 'dev.tar');
    writeFileSync(f, e);
    await expect(unpackLayer(f, b.dest, { format: 'flat' })).rejects.toThrow(
      /device numbers out of range|out of range/,
    );
    b.check();
  });
});

describe('moby go-archive', () => {
  test('TestUntarInvalidFilenames, TestUntarParentTraversalContained, TestApplyLayerInvalidFilenames: refused', async () => {
    // umoci and containerd clean these into the root; moby refuses them, and so does builder (a name
    // above the root is an attack, not a layer).
    for (const name of ['../victim/dotdot', '/../victim/slash-dotdot', '..', '../pwned', '../../pwned'])
      await refused([[file(name, 'bad')]], /leaves the root/);
  });
  test('TestUntarSiblingPrefixContained, TestUntarInvalidHardlink: hard links to `../…` are refused', async () => {
    await refused([[link('../dest-evil/secret', 'grab')]], /leaves the root/);
    for (const shape of [
      [link('../victim/hello', 'dotdot')],
      [link('/../victim/hello', 'slash-dotdot')],
      [link('../victim', 'loophole-victim'), file('loophole-victim/file', 'x')],
      [link('../victim', 'loophole-victim'), symlink('loophole-victim/hello', 'symlink')],
      [link('../victim', 'loophole-victim'), link('loophole-victim/hello', 'hardlink')],
      [link('../victim', 'loophole-victim'), file('loophole-victim', 'x')],
    ])
      await refused([shape], /leaves the root/);
  });
  test('TestUntarInvalidSymlink: symlinks to `../victim` are stored as they are, and resolved inside the root', async () => {
    const shapes: [TestEntry[], (root: string) => void][] = [
      [[symlink('../victim/hello', 'dotdot')], (r) => expect(readlinkSync(join(r, 'dotdot'))).toBe('../victim/hello')],
      [[symlink('/../victim/hello', 'slash-dotdot')], (r) => gone(r, 'victim')],
      [
        [symlink('../victim', 'loophole-victim'), file('loophole-victim/file', 'x')],
        (r) => expect(read(r, 'victim/file')).toBe('x'),
      ],
      [
        [symlink('../victim', 'loophole-victim'), symlink('loophole-victim/hello', 'symlink')],
        (r) => gone(r, 'victim/hello'),
      ],
      [
        [symlink('../victim', 'loophole-victim'), file('loophole-victim', 'x')],
        (r) => expect(read(r, 'loophole-victim')).toBe('x'),
      ],
      [
        [symlink('../../victim', 'dir/loophole'), file('dir/loophole/newdir/newfile', 'x')],
        (r) => expect(read(r, 'victim/newdir/newfile')).toBe('x'),
      ],
    ];
    for (const [layer, check] of shapes) await unpacks([layer], check);
    // The hard link variant: `loophole-victim/hello` resolves to ROOT/victim/hello, which is not there.
    await refused(
      [[symlink('../victim', 'loophole-victim'), link('loophole-victim/hello', 'hardlink')]],
      /does not exist/,
    );
  });
  test('TestUntarSymlinkBreakout: a two-hop symlink chain stays inside', () =>
    unpacks(
      [
        [
          dir('inner'),
          symlink('..', 'inner/go_up'),
          symlink('../victim', 'inner/go_up/escape'),
          file('inner/go_up/escape/newfile', 'x'),
        ],
      ],
      (root) => {
        expect(readlinkSync(join(root, 'escape'))).toBe('../victim');
        expect(read(root, 'victim/newfile')).toBe('x');
      },
    ));
  test('TestUntarHardlinkToSymlink, TestUntarAbsoluteHardlink', async () => {
    await unpacks([[symlink('regfile', 'symlink1'), link('symlink1', 'symlink2'), file('regfile', '')]], (root) => {
      expect(lstatSync(join(root, 'symlink2')).ino).toBe(lstatSync(join(root, 'symlink1')).ino);
      expect(readlinkSync(join(root, 'symlink2'))).toBe('regfile');
    });
    await unpacks([[file('usr/bin/perlbug', 'hello', 0o755), link('/usr/bin/perlbug', 'usr/bin/perlthanks')]], (root) =>
      sameFile(root, 'usr/bin/perlthanks', 'usr/bin/perlbug'),
    );
  });
  test('TestImpliedDirectoryPermissions, TestUntarParentPathPermissions: implied 0755, explicit modes exact', async () => {
    const old = process.umask(0o027);
    try {
      await unpacks(
        [
          [
            file('deeply/nested/and/implied', ''),
            dir('explicit/', 0o644),
            dir('explicit/permissions/', 0o600),
            dir('explicit/permissions/specified/', 0o400),
            dir('explicit/permissions/umask/', 0o777),
            file('explicit/permissions/umask/file', '', 0o666),
            dir('implied/dir-without-trailing-slash', 0o700),
          ],
        ],
        (root) => {
          const mode = (p: string) => lstatSync(join(root, p)).mode & 0o7777;
          for (const d of ['deeply', 'deeply/nested', 'deeply/nested/and', 'implied']) expect(mode(d)).toBe(0o755);
          expect(mode('explicit')).toBe(0o644);
          expect(mode('explicit/permissions')).toBe(0o600);
          expect(mode('explicit/permissions/specified')).toBe(0o400);
          expect(mode('explicit/permissions/umask')).toBe(0o777);
          expect(mode('explicit/permissions/umask/file')).toBe(0o666);
          expect(mode('implied/dir-without-trailing-slash')).toBe(0o700);
        },
      );
    } finally {
      process.umask(old);
    }
  });
  test('TestUnpackLayerCreatesImpliedDirectoriesThroughLowerLayerSymlink: `lib/…` over a lower `lib -> usr/lib`', () =>
    unpacks(
      [
        [dir('usr/'), dir('usr/lib/'), symlink('usr/lib', 'lib')],
        [file('lib/systemd/system/container.service', 'content')],
      ],
      (root) => {
        expect(readlinkSync(join(root, 'lib'))).toBe('usr/lib');
        expect(read(root, 'usr/lib/systemd/system/container.service')).toBe('content');
      },
    ));
  test('TestUntarThroughAbsoluteSymlink, TestHardlinkSourceThroughAbsoluteSymlink: var/run -> /run', async () => {
    for (const existing of [true, false]) {
      await unpacks(
        [
          [dir('var'), symlink('/run', 'var/run'), ...(existing ? [dir('run'), dir('run/existing')] : [])],
          [file('var/run/existing/non-existing/file', 'content')],
        ],
        (root) => expect(read(root, 'run/existing/non-existing/file')).toBe('content'),
      );
    }
    await unpacks(
      [
        [dir('var'), symlink('/run', 'var/run')],
        [file('var/run/source', 'content'), link('var/run/source', 'var/run/link')],
      ],
      (root) => {
        expect(lstatSync(join(root, 'run/link')).ino).toBe(lstatSync(join(root, 'run/source')).ino);
        expect(lstatSync(join(root, 'run/source')).nlink).toBe(2);
      },
    );
  });
  test('TestUnpackRejectsRelativeEscapeBeforeAbsoluteSymlink: resolved inside the root instead (chroot rules)', async () => {
    // moby refuses a relative symlink that climbs above the root; builder (like containerd and umoci)
    // resolves `..` at the root to the root, so `escape/absolute/file` is ROOT/target/file.
    await unpacks(
      [[dir('target'), symlink('..', 'escape'), symlink('/target', 'absolute')], [file('escape/absolute/file', 'x')]],
      (root) => expect(read(root, 'target/file')).toBe('x'),
    );
  });
  test('TestOverlayTarUntar: opaque directories and whiteouts in overlay format', async () => {
    const b = await unpacks(
      [
        [dir('d1', 0o700), file('d1/old', ''), dir('d3', 0o700), file('d3/f1', '')],
        [
          dir('d1/', 0o700),
          file('d1/.wh..wh..opq', '', 0o700),
          file('d1/f1', '', 0o600),
          dir('d2/', 0o750),
          file('d2/.wh..wh..opq', '', 0o750),
          file('d2/f1', '', 0o660),
          dir('d3/', 0o700),
          file('d3/.wh.f1', '', 0o644),
        ],
      ],
      (root) => {
        expect(readdirSync(join(root, 'd1'))).toEqual(['f1']);
        gone(root, 'd3/f1');
      },
    );
    const top = b.dirs[1];
    const mode = (p: string) => lstatSync(join(top, p)).mode & 0o7777;
    expect([mode('d1'), mode('d2'), mode('d3'), mode('d1/f1'), mode('d2/f1')]).toEqual([
      0o700, 0o750, 0o700, 0o600, 0o660,
    ]);
    expect(lgetxattr(join(top, 'd1'), 'trusted.overlay.opaque').toString()).toBe('y');
    expect(lgetxattr(join(top, 'd2'), 'trusted.overlay.opaque').toString()).toBe('y');
    expect(() => lgetxattr(join(top, 'd3'), 'trusted.overlay.opaque')).toThrow(/ENODATA/);
    const wh = lstatSync(join(top, 'd3/f1'));
    expect([wh.isCharacterDevice(), wh.rdev]).toEqual([true, 0]);
  });
  test('TestApplyLayerWhiteouts: four layers of whiteouts and opaque directories', async () => {
    const entries = (paths: string[]) => paths.map((p) => (p.endsWith('/') ? dir(p, 0o700) : file(p, '', 0o600)));
    const layers = [
      [
        '.baz',
        'bar/',
        'bar/bax',
        'bar/bay/',
        'baz',
        'foo/',
        'foo/.abc',
        'foo/.bcd/',
        'foo/.bcd/a',
        'foo/cde/',
        'foo/cde/def',
        'foo/cde/efg',
        'foo/fgh',
        'foobar',
      ],
      ['.bay', '.wh.baz', 'foo/', 'foo/.bce', 'foo/.wh..wh..opq', 'foo/cde/', 'foo/cde/efg'],
      ['.bay', '.wh..baz', '.wh.foobar', 'foo/', 'foo/.abc', 'foo/.wh.cde', 'bar/'],
      ['.abc', '.wh..wh..opq', 'foobar'],
    ];
    const expected = [
      layers[0],
      ['.bay', '.baz', 'bar/', 'bar/bax', 'bar/bay/', 'foo/', 'foo/.bce', 'foo/cde/', 'foo/cde/efg', 'foobar'],
      ['.bay', 'bar/', 'bar/bax', 'bar/bay/', 'foo/', 'foo/.abc', 'foo/.bce'],
      ['.abc', 'foobar'],
    ];
    for (let i = 1; i <= layers.length; i++) {
      await unpacks(layers.slice(0, i).map(entries), (root) =>
        expect(contents(root)).toEqual([...expected[i - 1]].sort()),
      );
    }
  });
});

describe('umoci tar_extract_test.go', () => {
  test('TestUnpackEntrySanitiseScoping: `/../file` and `../file` are refused (umoci cleans them)', async () => {
    // umoci cleans them lexically into the root; builder refuses them, as moby does (see above).
    for (const name of ['/../file', '../file']) await refused([[file(name, 'container content')]], /leaves the root/);
  });
  test('TestUnpackEntrySymlinkScoping: `link/file` with link -> /, /../, /../../…, /./../.., ..', async () => {
    for (const prefix of [
      '/',
      '/../',
      `${'/..'.repeat(15)}/`,
      '/./.././.././.././.././.././.././.././.././../',
      '..',
    ]) {
      await unpacks([[symlink(prefix, 'link'), file('link/file', 'container content')]], (root) =>
        expect(read(root, 'file')).toBe('container content'),
      );
    }
  });
  test('TestUnpackEntryNonDirParent: a non-directory in the middle of a path becomes a directory', () =>
    unpacks([[file('nondir', ''), file('nondir/foo/bar/baz', '')]], (root) => {
      for (const d of ['nondir', 'nondir/foo', 'nondir/foo/bar'])
        expect(lstatSync(join(root, d)).isDirectory()).toBe(true);
      expect(lstatSync(join(root, 'nondir/foo/bar/baz')).isFile()).toBe(true);
    }));
  test('TestUnpackEntryNonDirParent across layers: a lower file in the middle of a path becomes a directory', () =>
    unpacks([[file('nondir', 'lower')], [file('nondir/foo/bar/baz', '')]], (root) =>
      expect(lstatSync(join(root, 'nondir')).isDirectory()).toBe(true),
    ));
  test('TestUnpackEntryWhiteout: files and directories, hidden or not, in the root or below; the parent keeps its times', async () => {
    for (const path of ['rootpath', '.hiddenroot', 'some/path/file', 'another/path/.hiddenfile']) {
      for (const isDir of [false, true]) {
        const i = path.lastIndexOf('/');
        const parent = i < 0 ? '' : path.slice(0, i + 1);
        const lower: TestEntry[] = isDir
          ? [
              dir(path),
              file(`${path}/file1`, 'v'),
              file(`${path}/file2`, 'v'),
              dir(`${path}/.subdir`),
              file(`${path}/.subdir/file3`, 'v'),
            ]
          : [file(path, 'some value')];
        if (parent)
          lower.unshift({ name: parent, type: 'dir', pax: { mtime: '123.000000456', atime: '789.000000111' } });
        await unpacks([lower, [file(`${parent}.wh.${path.slice(i + 1)}`, '')]], (root) => {
          gone(root, path);
          if (parent) expect(lstatSync(join(root, parent), { bigint: true }).mtimeNs).toBe(123_000_000_456n);
        });
      }
    }
  });
  test('TestUnpackOpaqueWhiteout: an opaque marker keeps this layer’s entries at every level, removes the lower ones', async () => {
    const lower = [
      dir('test-subdir'),
      file('test-subdir/level1_file', ''),
      symlink('..', 'test-subdir/level1_link'),
      dir('test-subdir/level1a'),
      file('test-subdir/level1a/level2_file', ''),
      dir('test-subdir/level1a/level2a'),
      file('test-subdir/level1a/level2a/level3_fileA', ''),
      file('test-subdir/level1a/level2b/level3_fileB', ''),
      dir('test-subdir/level1b/level2'),
      file('test-subdir/level1b/level2/level3_file', ''),
      dir('some/dir'),
      file('some/dir/somewhere', 'lower'),
      file('test-subdir/fileC', ''),
    ];
    const upper = [
      file('test-subdir/level1_file', 'upper'),
      dir('test-subdir/level1a'),
      symlink('../../../', 'test-subdir/level1a/level2_link'),
      dir('test-subdir/level1a/level2b'),
      file('test-subdir/level1a/level2b/level3_fileA', ''),
      symlink('../../../../../../../../../../../../etc/shadow', 'test-subdir/verybadlink'),
      file('test-subdir/.wh.fileB', ''),
      file('test-subdir/fileB', ''),
      file('test-subdir/.wh.fileC', ''),
      file('test-subdir/.wh..wh..opq', ''),
    ];
    await unpacks([lower, upper], (root) => {
      expect(contents(join(root, 'test-subdir'))).toEqual(
        [
          'fileB',
          'level1_file',
          'level1a/',
          'level1a/level2_link',
          'level1a/level2b/',
          'level1a/level2b/level3_fileA',
          'verybadlink',
        ].sort(),
      );
      expect(read(root, 'some/dir/somewhere')).toBe('lower');
    });
  });
  test('TestUnpackHardlink: a link to a file, a link to a symlink; a link entry’s owner is not applied', () =>
    unpacks(
      [
        [
          { ...file('regular', 'some content we won’t check'), uid: 0, gid: 0 },
          { ...link('/regular', 'hard link'), uid: 1337, gid: 2020 },
          symlink('../../../regular', 'link'),
          { ...link('../../../link', 'hard link to symlink'), uid: 1337, gid: 2020 },
        ],
      ],
      () => {},
    ).then(
      () => expect.unreachable('a hard link target with `..` above the root is refused'),
      (e: unknown) => expect(String(e)).toMatch(/leaves the root/),
    ));
  test('TestUnpackHardlink without the `../../../` prefix on the link target', () =>
    unpacks(
      [
        [
          file('regular', 'content'),
          { ...link('/regular', 'hard link'), uid: 1337, gid: 2020 },
          symlink('../../../regular', 'link'),
          { ...link('link', 'hard link to symlink'), uid: 1337, gid: 2020 },
        ],
      ],
      (root) => {
        const st = (p: string) => lstatSync(join(root, p));
        expect(st('hard link').ino).toBe(st('regular').ino);
        expect(st('hard link to symlink').ino).toBe(st('link').ino);
        expect([st('regular').uid, st('regular').gid, st('link').uid]).toEqual([0, 0, 0]);
        expect(readlinkSync(join(root, 'hard link to symlink'))).toBe('../../../regular');
      },
    ));
});
