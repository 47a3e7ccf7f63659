// unpackInWorker, as the layer store runs it: a plain tarball file read by a reader thread that starts
// next to the unpack worker (FileRing), a gzipped one read by the worker, a stream handed over in
// chunks. The same tree, diffID and errors as unpackLayer on this thread; the blob's digest and size
// checked; an abort stops both threads; no fd is left open either way. Runs as root (file owners).
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { expect, test } from 'vitest';
import { diffTrees, walkTree } from '../../../test/helpers/tree.js';
import { LayerError } from '../src/errors.js';
import { unpackInWorker } from '../src/image/unpack/unpack-client.js';
import { unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { rootScratch } from './scratch.js';
import { type TestEntry, tar } from './tar-writer.js';

const scratch = rootScratch('unpack-worker');
const fresh = scratch.fresh;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** This process's fds open on `path`. */
const fdsOn = (path: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile
    }
  }).length;

// 24 MiB of file data: more than the ring's 8 slots of 1 MiB, so the reader waits for free slots.
const entries: TestEntry[] = [{ name: 'd/', type: 'dir', mode: 0o750, uid: 3, gid: 4, mtime: 1_600_000_000 }];
for (let i = 0; i < 12; i++) {
  entries.push({ name: `d/f${i}`, data: randomBytes(2 * 1024 * 1024 + 777 * i), mode: 0o640, uid: i, gid: 9 });
  entries.push({ name: `d/s${i}`, type: 'symlink', linkname: `f${i}`, mtime: 1_500_000_000 + i });
}
entries.push({ name: 'd/hard', type: 'link', linkname: 'd/f3' });
const layer = tar(entries);
const file = (name: string, data: Buffer) => {
  const path = scratch.path(name);
  writeFileSync(path, data);
  return path;
};

test('a plain tarball file: the same tree, diffID and entries as unpackLayer; its blob checked', async () => {
  const path = file('plain.tar', layer);
  const here = fresh();
  const expected = await unpackLayer(path, here, { format: 'overlay' });
  const there = fresh();
  let progress = 0;
  const got = await unpackInWorker({ file: path }, there, {
    format: 'overlay',
    blob: { digest: sha(layer), size: layer.length },
    onProgress: (b) => {
      progress = b;
    },
  });
  expect(got).toEqual(expected);
  expect(got.diffId).toBe(sha(layer));
  // The roots have no entry in the archive: their times are the directories' own.
  for (const root of [here, there]) utimesSync(root, 0, 0);
  expect(diffTrees(walkTree(here), walkTree(there))).toEqual([]);
  expect(progress).toBeGreaterThan(0);
  expect(progress).toBeLessThanOrEqual(layer.length);
  expect(fdsOn(path)).toBe(0);
});

test('a plain tarball file whose blob digest or size is wrong is refused; no fd stays open', async () => {
  const path = file('wrong.tar', layer);
  const wrong = `sha256:${'0'.repeat(64)}`;
  await expect(
    unpackInWorker({ file: path }, fresh(), { format: 'overlay', blob: { digest: wrong, size: layer.length } }),
  ).rejects.toEqual(new LayerError(`layer blob digest mismatch: expected ${wrong}, got ${sha(layer)}`));
  await expect(
    unpackInWorker({ file: path }, fresh(), { format: 'overlay', blob: { digest: sha(layer), size: 5 } }),
  ).rejects.toEqual(new LayerError(`layer blob size mismatch: expected 5 bytes, read ${layer.length}`));
  expect(fdsOn(path)).toBe(0);
});

test('a gzipped file and a stream give the same result as the plain file', async () => {
  const gz = gzipSync(layer);
  const viaGz = await unpackInWorker({ file: file('layer.tar.gz', gz) }, fresh(), {
    format: 'overlay',
    blob: { digest: sha(gz), size: gz.length },
  });
  const viaStream = await unpackInWorker(Readable.from([layer.subarray(0, 5000), layer.subarray(5000)]), fresh(), {
    format: 'overlay',
  });
  expect(viaGz.diffId).toBe(sha(layer));
  expect(viaStream.diffId).toBe(sha(layer));
  expect(viaGz.entries).toBe(entries.length);
  expect(viaStream.entries).toBe(entries.length);
});

test('an abort stops the unpack worker and the reader: the promise rejects with the reason; no fd stays open', async () => {
  const path = file('abort.tar', layer);
  const ac = new AbortController();
  const running = unpackInWorker({ file: path }, fresh(), { format: 'overlay' }, ac.signal);
  ac.abort(new Error('stop it'));
  await expect(running).rejects.toThrow('stop it');
  expect(fdsOn(path)).toBe(0);
  await expect(unpackInWorker({ file: path }, fresh(), { format: 'overlay' }, ac.signal)).rejects.toThrow('stop it');
});

test('a file that cannot be read is a LayerError naming it', async () => {
  const missing = scratch.path('missing.tar');
  await expect(unpackInWorker({ file: missing }, fresh(), { format: 'overlay' })).rejects.toEqual(
    new LayerError(`layer tarball ${missing} cannot be read: ENOENT: no such file or directory, open '${missing}'`),
  );
});
