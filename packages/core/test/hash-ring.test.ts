// The diffID hash ring: the same sha256 as a plain hash over the same bytes, whether a worker thread
// hashed them, this thread did (small input), or the worker was given up on before it started.
import { createHash, randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { HashRing } from '../src/layers/hash-ring.js';

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

test('filled slot by slot (next/commit), worker started at once', () => {
  const data = randomBytes(20 * SLOT + 1);
  const ring = new HashRing(4, SLOT);
  ring.startWorker();
  for (let off = 0; off < data.length; ) {
    const slot = ring.next();
    const n = data.copy(slot, 0, off, Math.min(off + ring.slotSize, data.length));
    ring.commit(n);
    off += n;
  }
  expect(ring.digest()).toBe(sha(data));
  expect(ring.threaded).toBe(true);
});

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
  ring.abort();
  await new Promise((r) => setTimeout(r, 50));
});
