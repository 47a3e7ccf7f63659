// The diffID hash rings: the same sha256 as a plain hash over the same bytes, whether a worker thread
// hashed them, this thread did (small input), or the worker was given up on before it started; a
// FileRing hands over exactly the file's bytes, in order. abort() stops the worker thread.
//
// No test depends on how fast a thread starts here: where the worker is to do the work, the ring waits
// for it however long it takes (startMs: Infinity); where it is to be given up on, it is a thread that
// never starts (one that idles, or none at all).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, expect, test, vi } from 'vitest';
import { FileRing, HashRing } from '../src/image/unpack/hash-ring.js';
import { ringBytes } from '../src/image/unpack/ring-layout.js';

const SLOT = 64 << 10;
/** The ring waits for its worker to start however long that takes (up to the ring's stall limit). */
const WAIT_FOR_WORKER = { startMs: Number.POSITIVE_INFINITY };
/** For tests that wait for a worker thread: as long as a loaded machine may need to start one. */
const THREAD_TIMEOUT = 60_000;

function feed(ring: HashRing, data: Buffer, chunk: number): void {
  for (let off = 0; off < data.length; off += chunk) ring.copy(data.subarray(off, off + chunk));
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The worker thread a ring started (read from the ring), and whether it has exited since. */
function watchWorker(ring: HashRing | FileRing): { worker: Worker; exited: () => boolean } {
  const worker = (ring as unknown as { worker?: Worker }).worker;
  if (!worker) throw new Error('the ring has no worker thread');
  let exited = false;
  worker.once('exit', () => {
    exited = true;
  });
  return { worker, exited: () => exited };
}

/** A HashRing whose worker thread never starts hashing: it idles, as a late one does on a busy machine. */
class IdleWorkerRing extends HashRing {
  protected override spawn(): void {
    this.worker = new Worker('setInterval(() => {}, 1 << 30);', { eval: true });
    this.worker.unref();
  }
}

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
  test(
    `large input in chunks of ${chunk}: the worker hashes it, the ring goes round many times`,
    () => {
      const data = randomBytes(40 * SLOT + 999);
      const ring = new HashRing(8, SLOT, WAIT_FOR_WORKER);
      feed(ring, data, chunk);
      expect(ring.digest()).toBe(sha(data));
      expect(ring.threaded).toBe(true);
    },
    THREAD_TIMEOUT,
  );
}

test(
  'a worker that has not started when the ring is full is given up: this thread hashes, nothing lost',
  async () => {
    const data = randomBytes(30 * SLOT);
    const ring = new IdleWorkerRing(8, SLOT, { startMs: 0 });
    ring.startWorker();
    const idle = watchWorker(ring);
    feed(ring, data, SLOT);
    expect(ring.digest()).toBe(sha(data));
    expect(ring.threaded).toBe(false);
    // The thread given up on is terminated.
    await vi.waitFor(() => expect(idle.exited(), 'the idle worker was terminated').toBe(true), {
      timeout: THREAD_TIMEOUT / 2,
      interval: 10,
    });
  },
  THREAD_TIMEOUT,
);

test(
  'abort stops the worker: it has exited when abort() resolves',
  async () => {
    const ring = new HashRing(4, SLOT, WAIT_FOR_WORKER);
    ring.startWorker();
    // Ten slots through a ring of four: the worker has hashed at least six, and waits for more now.
    feed(ring, randomBytes(10 * SLOT), SLOT);
    const w = watchWorker(ring);
    try {
      await ring.abort();
      expect(w.exited(), 'the worker thread has exited').toBe(true);
    } finally {
      if (!w.exited()) await w.worker.terminate();
    }
  },
  THREAD_TIMEOUT,
);

const dir = mkdtempSync(join(tmpdir(), 'file-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything a FileRing over `data` hands out, concatenated, with its digest and byte count. */
function drain(data: Buffer, slots: number) {
  const file = join(dir, `f${data.length}-${slots}`);
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    const ring = FileRing.start(fd, slots, SLOT, WAIT_FOR_WORKER);
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
  test(
    `FileRing over a file of ${size} bytes: its bytes in order, read and hashed by the worker`,
    () => {
      const data = randomBytes(size);
      const r = drain(data, 4);
      expect(r.bytes.equals(data)).toBe(true);
      expect(r.size).toBe(size);
      expect(r.digest).toBe(sha(data));
      expect(r.threaded).toBe(true);
    },
    THREAD_TIMEOUT,
  );
}

test('FileRing whose reader has not started when the first slot is wanted: this thread reads and hashes', () => {
  // The handle of a ring no thread reads (yet), as the unpacking thread may get it from the one that
  // started the reader: a handle is the shared memory and the file; this memory is more than enough.
  const data = randomBytes(10 * SLOT + 5);
  const file = join(dir, 'unread');
  writeFileSync(file, data);
  const fd = openSync(file, 'r');
  try {
    const sab = new SharedArrayBuffer(ringBytes(4, SLOT));
    const ring = FileRing.attach({ sab, slots: 4, slotSize: SLOT, fd }, { startMs: 0 });
    const got: Buffer[] = [];
    for (let slot = ring.take(); slot; slot = ring.take()) {
      got.push(Buffer.from(slot));
      ring.release();
    }
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(ring.bytes).toBe(data.length);
    expect(ring.digest()).toBe(sha(data));
    expect(ring.threaded).toBe(false);
  } finally {
    closeSync(fd);
  }
});

test(
  'FileRing attached from its handle (as another thread does) takes the same slots',
  () => {
    const data = randomBytes(9 * SLOT + 3);
    const file = join(dir, 'attached');
    writeFileSync(file, data);
    const fd = openSync(file, 'r');
    try {
      const owner = FileRing.start(fd, 4, SLOT);
      const ring = FileRing.attach(owner.handle(), WAIT_FOR_WORKER);
      const got: Buffer[] = [];
      for (let slot = ring.take(); slot; slot = ring.take()) {
        got.push(Buffer.from(slot));
        ring.release();
      }
      expect(Buffer.concat(got).equals(data)).toBe(true);
      expect(ring.digest()).toBe(sha(data));
      expect(ring.threaded).toBe(true);
    } finally {
      closeSync(fd);
    }
  },
  THREAD_TIMEOUT,
);

test(
  'FileRing abort stops a reader that waits for a free slot: it has exited when abort() resolves',
  async () => {
    const file = join(dir, 'big');
    writeFileSync(file, randomBytes(40 * SLOT));
    const fd = openSync(file, 'r');
    try {
      const ring = FileRing.start(fd, 2, SLOT, WAIT_FOR_WORKER);
      expect(ring.take()?.length).toBe(SLOT); // the reader is ahead now, then waits for this slot
      const w = watchWorker(ring);
      try {
        await ring.abort();
        expect(w.exited(), 'the reader thread has exited').toBe(true);
      } finally {
        if (!w.exited()) await w.worker.terminate();
      }
    } finally {
      closeSync(fd);
    }
  },
  THREAD_TIMEOUT,
);
