// The diffID hash rings: the same sha256 as a plain hash over the same bytes, whether a worker thread
// hashed them, this thread did (small input), or the worker was given up on before it started; a
// FileRing hands over exactly the file's bytes, in order.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { FileRing, HashRing } from '../src/layers/hash-ring.js';

const SLOT = 64 << 10;

function feed(ring: HashRing, data: Buffer, chunk: number): void {
  for (let off = 0; off < data.length; off += chunk) ring.copy(data.subarray(off, off + chunk));
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('small input (in small chunks, packed into slots): hashed here, no worker', () => {
  const data = randomBytes(SLOT + 123);
  const ring = new HashRing(16, SLOT);
  feed(ring, data, 1000);
  expect(ring.digest()).toBe(sha(data));
  expect(ring.threaded).toBe(false);
});

test('empty input', () => {
  const ring = new HashRing(4, SLOT);
  expect(ring.digest()).toBe(sha(Buffer.alloc(0)));
});

for (const chunk of [SLOT, 77_777, 3 * SLOT + 5]) {
  test(`large input in chunks of ${chunk}: the worker hashes it, the ring goes round many times`, () => {
    const data = randomBytes(40 * SLOT + 999);
    const ring = new HashRing(8, SLOT);
    feed(ring, data, chunk);
    expect(ring.digest()).toBe(sha(data));
    expect(ring.threaded).toBe(true);
  });
}

test('a worker that has not started when the ring is full is given up: this thread hashes, nothing lost', () => {
  const data = randomBytes(30 * SLOT);
  const ring = new HashRing(8, SLOT, { startMs: 0 });
  ring.startWorker();
  feed(ring, data, SLOT);
  expect(ring.digest()).toBe(sha(data));
  expect(ring.threaded).toBe(false);
});

test('abort stops the worker (the test process would not exit otherwise)', async () => {
  const ring = new HashRing(4, SLOT);
  ring.startWorker();
  feed(ring, randomBytes(10 * SLOT), SLOT);
  await ring.abort();
});

const dir = mkdtempSync(join(tmpdir(), 'file-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything a FileRing over `data` hands out, concatenated, with its digest and byte count. */
function drain(data: Buffer, slots: number, opts: { startMs?: number } = {}) {
  const file = join(dir, `f${data.length}-${slots}-${opts.startMs ?? 'd'}`);
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    const ring = FileRing.start(fd, slots, SLOT, opts);
    const got: Buffer[] = [];
    for (let slot = ring.take(); slot; slot = ring.take()) {
      got.push(Buffer.from(slot));
      ring.release();
    }
    return { bytes: Buffer.concat(got), digest: ring.digest(), size: ring.bytes, threaded: ring.threaded };
  } finally {
    closeSync(fd);
  }
}

for (const size of [0, 1, SLOT, 3 * SLOT, 40 * SLOT + 999]) {
  test(`FileRing over a file of ${size} bytes: its bytes in order, read and hashed by the worker`, () => {
    const data = randomBytes(size);
    const r = drain(data, 4);
    expect(r.bytes.equals(data)).toBe(true);
    expect(r.size).toBe(size);
    expect(r.digest).toBe(sha(data));
    expect(r.threaded).toBe(true);
  });
}

test('FileRing whose reader has not started when the first slot is wanted: this thread reads and hashes', () => {
  const data = randomBytes(10 * SLOT + 5);
  const r = drain(data, 4, { startMs: 0 });
  expect(r.bytes.equals(data)).toBe(true);
  expect(r.size).toBe(data.length);
  expect(r.digest).toBe(sha(data));
  expect(r.threaded).toBe(false);
});

test('FileRing attached from its handle (as another thread does) takes the same slots', () => {
  const data = randomBytes(9 * SLOT + 3);
  const file = join(dir, 'attached');
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    const owner = FileRing.start(fd, 4, SLOT);
    const ring = FileRing.attach(owner.handle());
    const got: Buffer[] = [];
    for (let slot = ring.take(); slot; slot = ring.take()) {
      got.push(Buffer.from(slot));
      ring.release();
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(ring.digest()).toBe(sha(data));
  } finally {
    closeSync(fd);
  }
});

test('FileRing abort stops a reader that waits for a free slot', async () => {
  const file = join(dir, 'big');
  writeFileSync(file, randomBytes(40 * SLOT));
  const fd = openSync(file, 'r');
  try {
    const ring = FileRing.start(fd, 2, SLOT);
    expect(ring.take()?.length).toBe(SLOT); // the reader is ahead now, then waits for this slot
    await ring.abort();
  } finally {
    closeSync(fd);
  }
});
