// Every archive of the tar corpus (fixtures/corpus: Go's archive/tar test data and node-tar's test
// tarballs, each set with a README of what to expect) is either unpacked as its README says or refused
// with a clear LayerError, and nothing is ever written outside dest. Runs as root (chown, mknod).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
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
import { fileURLToPath } from 'node:url';
import { lgetxattr, llistxattr } from '@builder/native';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { unpackLayer } from '../src/image/unpack/unpack-layer.js';

const CORPUS = fileURLToPath(new URL('./fixtures/corpus', import.meta.url));
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'unpack-corpus-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const md5 = (p: string) => createHash('md5').update(readFileSync(p)).digest('hex');
const listTree = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map(String).sort();

type Check = (dest: string) => void;
const reject = (re: RegExp) => ({ reject: re });

const go: Record<string, Check | { reject: RegExp }> = {
  'gnu.tar': (d) => {
    expect(md5(`${d}/small.txt`)).toMatch(/^e38b27ea/);
    expect(md5(`${d}/small2.txt`)).toMatch(/^c65bd2e5/);
    const st = lstatSync(`${d}/small.txt`);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 73025, 5000]);
  },
  'star.tar': (d) => expect(listTree(d)).toEqual(['small.txt', 'small2.txt']),
  'v7.tar': (d) => expect(listTree(d)).toEqual(['small.txt', 'small2.txt']),
  'ustar.tar': (d) => expect(listTree(d).at(-1)).toMatch(/^(longname\/){15}file\.txt$/),
  'ustar-file-reg.tar': (d) => expect(lstatSync(`${d}/foo`).size).toBe(684),
  'ustar-file-devs.tar': (d) => expect(lstatSync(`${d}/file`).isFile()).toBe(true),
  'pax.tar': (d) => {
    const names = listTree(d);
    const file = names.find((n) => n.endsWith('100') && lstatSync(`${d}/${n}`).isFile()) as string;
    expect(file).toBeDefined();
    const st = lstatSync(`${d}/${file}`, { bigint: true });
    expect(st.mtimeNs % 1_000_000_000n).not.toBe(0n); // PAX sub-second mtime applied
    expect(names.some((n) => lstatSync(`${d}/${n}`).isSymbolicLink())).toBe(true);
  },
  'pax-records.tar': (d) => expect(listTree(d)).toEqual(['file']),
  'pax-pos-size-file.tar': (d) => expect(lstatSync(`${d}/foo`).size).toBe(999),
  'pax-global-records.tar': (d) => expect(listTree(d)).toEqual(['file1', 'file2', 'file3', 'file4']),
  'pax-multi-hdrs.tar': (d) => {
    expect(listTree(d)).toEqual(['bar']);
    expect(readlinkSync(`${d}/bar`)).toMatch(/^PAX4\//);
  },
  'gnu-multi-hdrs.tar': (d) => expect(readlinkSync(`${d}/GNU2/GNU2/long-path-name`)).toMatch(/^GNU4\/GNU4\//),
  'gnu-long-nul.tar': (d) => expect(listTree(d)).toEqual(['0123456789']),
  'gnu-utf8.tar': (d) => expect(listTree(d)[0]).toMatch(/^(☺☻☹)+/),
  'gnu-not-utf8.tar': reject(/not valid UTF-8/),
  'nil-uid.tar': (d) => expect(lstatSync(`${d}/P1050238.JPG.log`).uid).toBe(0),
  'invalid-go17.tar': (d) => expect(listTree(d)).toEqual(['foo']), // GNU magic: the prefix is not read
  'xattrs.tar': (d) => {
    expect(lgetxattr(`${d}/small.txt`, 'user.key').toString()).toBe('value');
    expect(lgetxattr(`${d}/small.txt`, 'user.key2').toString()).toBe('value2');
    expect(llistxattr(`${d}/small.txt`)).not.toContain('security.selinux');
  },
  'trailing-slash.tar': (d) => {
    const deepest = listTree(d).at(-1) as string;
    expect(lstatSync(`${d}/${deepest}`).isDirectory()).toBe(true);
  },
  'file-and-dir.tar': (d) => {
    expect(lstatSync(`${d}/dir`).isDirectory()).toBe(true);
    expect(lstatSync(`${d}/small.txt`).isFile()).toBe(true);
  },
  'hardlink.tar': (d) => expect(lstatSync(`${d}/hard.txt`).ino).toBe(lstatSync(`${d}/file.txt`).ino),
  'writer.tar': (d) => expect(readlinkSync(`${d}/link.txt`)).toBe('small.txt'),
  'hdr-only.tar': reject(/non-zero size/),
  'sparse-formats.tar': reject(/unsupported type 'S'/),
  'gnu-sparse-big.tar': reject(/unsupported type 'S'/),
  'pax-sparse-big.tar': reject(/sparse file in PAX header/),
  'gnu-nil-sparse-data.tar': reject(/unsupported type 'S'/),
  'gnu-nil-sparse-hole.tar': reject(/unsupported type 'S'/),
  'pax-nil-sparse-data.tar': reject(/sparse file in PAX header/),
  'pax-nil-sparse-hole.tar': reject(/sparse file in PAX header/),
  'gnu-incremental.tar': reject(/unsupported type 'D'/),
  'pax-path-hdr.tar': (d) => expect(listTree(d)).toEqual([]),
  'pax-bad-hdr-file.tar': reject(/malformed PAX header/),
  'pax-bad-hdr-large.tar.bz2': reject(/bzip2 layers are not supported/),
  'pax-bad-mtime-file.tar': reject(/bad PAX mtime/),
  'pax-nul-xattrs.tar': reject(/NUL byte in a key/),
  'pax-nul-path.tar': reject(/NUL byte in 'path'/),
  'neg-size.tar': reject(/size .* out of range/),
  'issue10968.tar': reject(/bad checksum/),
  'issue11169.tar': reject(/bad checksum/),
  'issue12435.tar': reject(/size .* out of range/),
  'writer-big.tar': reject(/truncated \(in the body of 'tmp\/16gig.txt'\)/),
  'writer-big-long.tar': reject(/truncated \(in the body of/),
};

const x10 = (d: string) => {
  expect(listTree(d)).toEqual(['x', ...Array.from({ length: 10 }, (_, i) => `x/${i + 1}`).sort()]);
};
const nodeTar: Record<string, Check | { reject: RegExp }> = {
  'file.tar': (d) => expect(readFileSync(`${d}/one-byte.txt`, 'utf8')).toBe('a'),
  'dir.tar': (d) => expect(lstatSync(`${d}/dir`).isDirectory()).toBe(true),
  'body-byte-counts.tar': (d) => {
    expect(lstatSync(`${d}/1024-bytes.txt`).size).toBe(1024);
    expect(lstatSync(`${d}/512-bytes.txt`).size).toBe(512);
    expect(readFileSync(`${d}/one-byte.txt`, 'utf8')).toBe('a');
    expect(lstatSync(`${d}/zero-byte.txt`).size).toBe(0);
  },
  'links.tar': (d) => {
    expect(lstatSync(`${d}/hardlink-2`).ino).toBe(lstatSync(`${d}/hardlink-1`).ino);
    expect(lstatSync(`${d}/hardlink-1`).size).toBe(26);
    expect(readlinkSync(`${d}/symlink`)).toBe('hardlink-2');
  },
  'links-strip.tar': (d) => {
    const link = listTree(d).find((n) => n.startsWith('strip-dir/1/2/3/')) as string;
    expect(lstatSync(`${d}/${link}`).ino).toBe(lstatSync(`${d}/strip-dir/hardlink-1`).ino);
  },
  'links-invalid.tar': reject(/hard link without a target/),
  'long-paths.tar': (d) => {
    const names = listTree(d);
    expect(names.some((n) => n.endsWith('Ω.txt'))).toBe(true);
    expect(names.length).toBeGreaterThan(25);
  },
  'long-pax.tar': (d) => expect(listTree(d)[0]).toMatch(/^120-byte-filename-c+$/),
  'next-file-has-long.tar': (d) => {
    expect(listTree(d)).toHaveLength(2);
    expect(readlinkSync(`${d}/longlink`)).toMatch(/^170-byte-filename-c+$/);
  },
  'long-linkname.tar': (d) => expect(readlinkSync(`${d}/test`).length).toBe(144),
  'utf8.tar': (d) => {
    expect(readFileSync(`${d}/Ω.txt`, 'utf8')).toBe('Ω');
    expect(listTree(d).some((n) => n.endsWith('🌟.txt'))).toBe(true);
  },
  'emptypax.tar': (d) => {
    expect(listTree(d)).toEqual(['one-byte.txt', '🌟.txt']);
    expect(readFileSync(`${d}/one-byte.txt`, 'utf8')).toBe('a');
  },
  'global-header.tar': (d) => expect(listTree(d)).toEqual(['one-byte.txt']),
  'null-byte.tar': (d) => expect(listTree(d).at(-1)).toMatch(/with_a_lot_of_characters\.tgz$/),
  'trailing-slash-corner-case.tar': (d) => expect(listTree(d)).toHaveLength(3),
  'path-missing.tar': reject(/empty name/),
  'bad-cksum.tar': reject(/bad checksum in header at offset 1024/),
  'excessively-deep.tar': reject(/path over 4096 bytes|levels deep/),
  'dir-normalization.tar': (d) => expect(readlinkSync(`${d}/fixtures/the-chumbler`)).toBe('/a/b/c/d/the-chumbler'),
  'parses.tar': (d) => expect(listTree(d).filter((n) => n.endsWith('.json')).length).toBeGreaterThan(100),
  'sync-gzip-fail.tgz': x10,
  'example.tzst': x10,
  'example.tbr': reject(/not a tar archive \(unknown compression\?\)/),
};

function sentinelDest(): { parent: string; dest: string; check: () => void } {
  const parent = mkdtempSync(join(work, 's-'));
  writeFileSync(join(parent, 'sentinel'), 'keep');
  const dest = join(parent, 'dest');
  mkdirSync(dest);
  const before = execFileSync('find', [
    parent,
    '-not',
    '-path',
    `${dest}*`,
    '-printf',
    '%p %y %s %m %T@\\n',
  ]).toString();
  return {
    parent,
    dest,
    check: () => {
      const after = execFileSync('find', [parent, '-not', '-path', `${dest}*`, '-printf', '%p %y %s %m %T@\\n']);
      expect(after.toString()).toBe(before);
    },
  };
}

for (const [dir, table] of [
  ['go-archive-tar', go],
  ['node-tar', nodeTar],
] as const) {
  describe(`corpus ${dir}`, () => {
    test('the table covers every archive', () => {
      const files = readdirSync(join(CORPUS, dir)).filter(
        (f) => !['README.md', 'LICENSE', 'expected-parse'].includes(f),
      );
      expect(files.sort()).toEqual(Object.keys(table).sort());
    });
    for (const [file, expected] of Object.entries(table)) {
      for (const format of ['flat', 'overlay'] as const) {
        test(`${file} (${format})`, async () => {
          const s = sentinelDest();
          const run = unpackLayer(join(CORPUS, dir, file), s.dest, { format });
          if (typeof expected === 'function') {
            const r = await run;
            expect(r.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
            expected(s.dest);
          } else {
            const err = await run.then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(LayerError);
            expect((err as Error).message).toMatch(expected.reject);
          }
          s.check();
        });
      }
    }
  });
}

test('pax-bad-hdr-large (bunzip2ed): a PAX header over 1 MiB is refused', async () => {
  const plain = execFileSync('bzip2', ['-dc', join(CORPUS, 'go-archive-tar/pax-bad-hdr-large.tar.bz2')], {
    maxBuffer: 1 << 24,
  });
  const s = sentinelDest();
  const file = join(work, 'large.tar');
  writeFileSync(file, plain);
  await expect(unpackLayer(file, s.dest, { format: 'flat' })).rejects.toThrow(
    /extended header at offset 0 is 1048577 bytes \(limit 1048576\)/,
  );
  s.check();
});

test('the diffID of a corpus archive is the sha256 of its uncompressed bytes', async () => {
  const s = sentinelDest();
  const r = await unpackLayer(join(CORPUS, 'node-tar/sync-gzip-fail.tgz'), s.dest, { format: 'flat' });
  const plain = execFileSync('gzip', ['-dc', join(CORPUS, 'node-tar/sync-gzip-fail.tgz')]);
  expect(r.diffId).toBe(`sha256:${createHash('sha256').update(plain).digest('hex')}`);
});
