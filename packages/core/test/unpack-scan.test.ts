// tar-scan.ts against Python's tarfile (the oracle) on the corpus archives both read the same way, and Go's
// truncation rule: a cut inside a header or a body is an error, a cut in padding or end blocks is not.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { LayerError } from '../src/errors.js';
import { type TarEntry, TarScanner } from '../src/image/unpack/tar-scan.js';

const CORPUS = fileURLToPath(new URL('./fixtures/corpus', import.meta.url));

function scan(
  data: Buffer,
  chunk = 333,
): { name: string; type: string; size: number; linkname: string; body: string }[] {
  const out: { name: string; type: string; size: number; linkname: string; body: string }[] = [];
  let parts: Buffer[] = [];
  const s = new TarScanner({
    entry: () => {
      parts = [];
    },
    data: (c, start, end) => parts.push(Buffer.from(c.subarray(start, end))),
    entryEnd: (e: TarEntry) =>
      out.push({
        name: e.name,
        type: e.type,
        size: e.size,
        linkname: e.linkname,
        body: Buffer.concat(parts).toString('hex'),
      }),
  });
  for (let i = 0; i < data.length; i += chunk) s.push(data.subarray(i, i + chunk));
  s.finish();
  return out;
}

/** Python's tarfile as the oracle (tar-stream 3 is not usable here: its dependencies are not installed). */
function oracle(data: Buffer) {
  const py = `
import sys, tarfile, io, json
t = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()), mode='r:')
types = {tarfile.REGTYPE: 'file', tarfile.AREGTYPE: 'file', tarfile.CONTTYPE: 'file', tarfile.DIRTYPE: 'dir',
         tarfile.SYMTYPE: 'symlink', tarfile.LNKTYPE: 'link', tarfile.CHRTYPE: 'char', tarfile.BLKTYPE: 'block',
         tarfile.FIFOTYPE: 'fifo'}
out = []
for m in t:
    body = t.extractfile(m).read().hex() if m.isreg() else ''
    out.append({'name': m.name, 'type': types.get(m.type, m.type.decode()), 'size': m.size if m.isreg() else 0,
                'linkname': m.linkname, 'body': body})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync('python3', ['-c', py], { input: data, maxBuffer: 1 << 26 }).toString()) as {
    name: string;
    type: string;
    size: number;
    linkname: string;
    body: string;
  }[];
}

/** Python strips a trailing `/` from directory names; so do we here, for the comparison. */
const norm = (l: ReturnType<typeof scan>) =>
  l.map((e) => ({ ...e, name: e.name.replace(/^\.\/$/, '.').replace(/(.)\/+$/, '$1') }));

const same = [
  'go-archive-tar/gnu.tar',
  'go-archive-tar/star.tar',
  'go-archive-tar/ustar.tar',
  'go-archive-tar/pax.tar',
  'go-archive-tar/pax-records.tar',
  'go-archive-tar/pax-pos-size-file.tar',
  'go-archive-tar/gnu-long-nul.tar',
  'go-archive-tar/gnu-utf8.tar',
  'go-archive-tar/hardlink.tar',
  'go-archive-tar/writer.tar',
  'go-archive-tar/xattrs.tar',
  'go-archive-tar/trailing-slash.tar',
  'node-tar/body-byte-counts.tar',
  'node-tar/links.tar',
  'node-tar/long-paths.tar',
  'node-tar/long-pax.tar',
  'node-tar/next-file-has-long.tar',
  'node-tar/utf8.tar',
  'node-tar/parses.tar',
  'node-tar/dir-normalization.tar',
  'node-tar/sync-gzip-fail.tgz',
];

describe('tar-scan agrees with Python tarfile', () => {
  for (const file of same) {
    test(file, () => {
      let data = readFileSync(`${CORPUS}/${file}`);
      if (file.endsWith('.tgz')) data = gunzipSync(data);
      const ours = scan(data);
      expect(ours.length).toBeGreaterThan(0);
      expect(norm(ours)).toEqual(oracle(data));
      expect(scan(data, 1)).toEqual(ours); // byte-by-byte pushes give the same result
    });
  }
});

/** `[1, 2, 3, 7, 8]` as `['1-3', '7-8']`, for a readable diff. */
function ranges(cuts: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < cuts.length; ) {
    let j = i;
    while (j + 1 < cuts.length && cuts[j + 1] === cuts[j] + 1) j++;
    out.push(`${cuts[i]}-${cuts[j]}`);
    i = j + 1;
  }
  return out;
}

describe('truncation (Go TestReadTruncation rule)', () => {
  for (const file of [
    'go-archive-tar/gnu.tar',
    'go-archive-tar/ustar-file-reg.tar',
    'go-archive-tar/pax-path-hdr.tar',
  ]) {
    test(file, () => {
      const data = readFileSync(`${CORPUS}/${file}`);
      const full = scan(data);
      // Go's rule: a cut inside a header block or inside the bytes of a body (an extended header's
      // too) is an error; a cut in a body's padding or in the end-of-archive blocks is a clean end.
      // Where those lie, read from the headers (their sizes are octal in these three files).
      const expectedBad: number[] = [];
      let at = 0;
      while (at < data.length && data.subarray(at, at + 512).some((b) => b !== 0)) {
        const field = data.toString('latin1', at + 124, at + 136).replace(/[\0 ]+$/, '');
        expect(field).toMatch(/^[0-7]+$/);
        const size = Number.parseInt(field, 8);
        for (let cut = at + 1; cut < at + 512 + size; cut++) expectedBad.push(cut);
        at += 512 + Math.ceil(size / 512) * 512;
      }
      expect(expectedBad.length).toBeGreaterThan(0);
      const cutsBad: number[] = [];
      for (let cut = 1; cut < data.length; cut++) {
        try {
          const got = scan(data.subarray(0, cut));
          expect(full.slice(0, got.length)).toEqual(got);
        } catch (e) {
          expect(e).toBeInstanceOf(LayerError);
          expect((e as Error).message).toMatch(/truncated|not a tar archive/);
          cutsBad.push(cut);
        }
      }
      expect(ranges(cutsBad)).toEqual(ranges(expectedBad));
    });
  }
});
