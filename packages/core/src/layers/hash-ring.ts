// The diffID hash off the unpacking thread.
//
// sha256 of a 300 MB layer costs about 0.2 s of CPU even with SHA-NI: as much as GNU tar needs for the
// whole extraction to tmpfs. So the bytes go through a ring of slots in shared memory: the unpacking
// thread fills a slot (a read of the file, or a copy of a decompressed chunk), tells the hasher, and goes
// on with the tar entries in that slot while a worker thread hashes it. A slot is filled again only
// after the hasher is done with it. The hash is the same sha256 over the same bytes in the same order.
//
// The worker costs ~30 ms to start and ~13 MB of memory, so it is started only for a large layer: when
// the ring has been filled to a quarter (or at once when the size is known to be large). A layer that
// ends before that is hashed by the unpacking thread itself, from the slots.
//
// Control words (Int32, in the same SharedArrayBuffer): FILLED = 2 * slots filled (+1 once the input has
// ended), HASHED = slots hashed, DONE = 1 when the digest is in DIGEST (2: the worker failed, the error
// text follows), STARTED = 1 once the worker runs (2: it was given up before that). Every wait re-checks
// its word, so no wake-up is lost.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { LayerError } from '../errors.js';

const FILLED = 0;
const HASHED = 1;
const DONE = 2;
const STARTED = 3;
const CTL_WORDS = 8;
const LENGTHS = CTL_WORDS * 4; // byte offset of one Int32 length per slot
const DIGEST_BYTES = 32;
const ERROR_BYTES = 1024;

/** A worker that has not started after this long is given up: this thread hashes (nothing is lost). */
const START_MS = 3_000;
/** How long a wait for a started hasher may take before it counts as dead (it hashes GB/s). */
const STALL_MS = 60_000;
const CANCELLED = 2;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { sab, slots, slotSize, dataOffset, digestOffset } = workerData;
const ctl = new Int32Array(sab, 0, ${CTL_WORDS});
const lengths = new Int32Array(sab, ${LENGTHS}, slots);
const data = Buffer.from(sab, dataOffset, slots * slotSize);
const out = Buffer.from(sab, digestOffset, ${DIGEST_BYTES + ERROR_BYTES});
// Too late (given up on): the caller hashes itself.
if (Atomics.compareExchange(ctl, ${STARTED}, 0, 1) === 0) try {
  const hash = createHash('sha256');
  for (let seq = 0; ; seq++) {
    let w = Atomics.load(ctl, ${FILLED});
    while (w >> 1 <= seq && (w & 1) === 0) {
      Atomics.wait(ctl, ${FILLED}, w);
      w = Atomics.load(ctl, ${FILLED});
    }
    if (w >> 1 <= seq) break;
    const slot = seq % slots;
    hash.update(data.subarray(slot * slotSize, slot * slotSize + lengths[slot]));
    Atomics.store(ctl, ${HASHED}, seq + 1);
    Atomics.notify(ctl, ${HASHED});
  }
  hash.digest().copy(out, 0);
  Atomics.store(ctl, ${DONE}, 1);
  Atomics.notify(ctl, ${DONE});
} catch (err) {
  out.write(String(err && err.message || err).slice(0, 500), ${DIGEST_BYTES});
  Atomics.store(ctl, ${DONE}, 2);
  Atomics.notify(ctl, ${DONE});
}
`;

/** What unpackLayer hashes the uncompressed stream with. */
export interface Hasher {
  copy(chunk: Buffer): void;
  digest(): string;
  abort(): void;
}

/** sha256 on this thread (no ring, no copies). */
export class LocalHash implements Hasher {
  private readonly hash = createHash('sha256');
  copy(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
  abort(): void {}
}

export class HashRing implements Hasher {
  readonly slotSize: number;
  private readonly slots: number;
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly lengths: Int32Array;
  private readonly data: Buffer;
  private readonly dataOffset: number;
  private readonly digestOffset: number;
  private worker?: Worker;
  /** Slots filled so far (sequence number of the next one). */
  private filled = 0;
  /** Slots hashed by this thread (before any worker, or without one). */
  private hashedHere = 0;
  private local = createHash('sha256');
  private ended = false;
  /** The slot copy() is filling, and how far. */
  private current?: Buffer;
  private partial = 0;
  private readonly startMs: number;
  /** Whether the digest came from the worker thread (for tests and benchmarks). */
  threaded = false;

  /** `startMs`: how long to wait for the worker to start before hashing here instead. */
  constructor(slots: number, slotSize: number, opts: { startMs?: number } = {}) {
    this.startMs = opts.startMs ?? START_MS;
    this.slots = slots;
    this.slotSize = slotSize;
    this.dataOffset = Math.ceil((LENGTHS + 4 * slots) / 64) * 64;
    this.digestOffset = this.dataOffset + slots * slotSize;
    this.sab = new SharedArrayBuffer(this.digestOffset + DIGEST_BYTES + ERROR_BYTES);
    this.ctl = new Int32Array(this.sab, 0, CTL_WORDS);
    this.lengths = new Int32Array(this.sab, LENGTHS, slots);
    this.data = Buffer.from(this.sab, this.dataOffset, slots * slotSize);
  }

  /** Start the hashing thread now (a large input); otherwise it starts once a quarter of the ring is in use. */
  startWorker(): void {
    if (this.worker || this.ended || this.hashedHere > 0) return;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        sab: this.sab,
        slots: this.slots,
        slotSize: this.slotSize,
        dataOffset: this.dataOffset,
        digestOffset: this.digestOffset,
      },
    });
    this.worker.unref();
    this.worker.on('error', () => {}); // seen through DONE or the stall limit
  }

  /** The buffer of the next slot to fill, once the hasher is done with its previous contents. */
  next(): Buffer {
    return this.slotAt(0);
  }

  /** The buffer of the slot `ahead` slots after next()'s (to read ahead into); committed in order. */
  slotAt(ahead: number): Buffer {
    const seq = this.filled + ahead;
    if (seq >= this.slots) this.waitHashed(seq - this.slots + 1);
    const slot = seq % this.slots;
    return this.data.subarray(slot * this.slotSize, (slot + 1) * this.slotSize);
  }

  /** The slot returned by next() holds `length` bytes now; the hasher may take it. */
  commit(length: number): void {
    const seq = this.filled++;
    this.lengths[seq % this.slots] = length;
    if (this.worker) {
      Atomics.add(this.ctl, FILLED, 2);
      Atomics.notify(this.ctl, FILLED);
    } else if (this.filled >= this.slots / 4) {
      this.startWorker();
      Atomics.store(this.ctl, FILLED, 2 * this.filled);
      Atomics.notify(this.ctl, FILLED);
    }
  }

  /**
   * Hash `chunk` (input that does not arrive in slots): it is copied into slots, which are handed over
   * as they fill up. Not to be mixed with next() and commit().
   */
  copy(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; ) {
      this.current ??= this.next();
      const n = chunk.copy(this.current, this.partial, off);
      this.partial += n;
      off += n;
      if (this.partial === this.slotSize) this.flush();
    }
  }

  private flush(): void {
    if (this.current && this.partial) this.commit(this.partial);
    this.current = undefined;
    this.partial = 0;
  }

  /** The end of the input: waits for the hash of everything committed, `sha256:<hex>`. */
  digest(): string {
    this.flush();
    this.ended = true;
    if (this.worker) {
      Atomics.add(this.ctl, FILLED, 1);
      Atomics.notify(this.ctl, FILLED);
      this.waitFor(DONE, () => Atomics.load(this.ctl, DONE) !== 0);
    }
    if (!this.worker) {
      this.hashLocally(this.filled);
      return `sha256:${this.local.digest('hex')}`;
    }
    const out = Buffer.from(this.sab, this.digestOffset, DIGEST_BYTES + ERROR_BYTES);
    this.worker = undefined; // it exits by itself
    if (Atomics.load(this.ctl, DONE) === 2) {
      const text = out.toString('utf8', DIGEST_BYTES, out.indexOf(0, DIGEST_BYTES));
      throw new LayerError(`cannot hash the layer: ${text}`);
    }
    this.threaded = true;
    return `sha256:${out.toString('hex', 0, DIGEST_BYTES)}`;
  }

  /** Stop the hasher (on an error); the ring is unusable afterwards. */
  abort(): void {
    this.ended = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) {
      Atomics.add(this.ctl, FILLED, 1);
      Atomics.notify(this.ctl, FILLED);
      void w.terminate().catch(() => {});
    }
  }

  private hashLocally(upTo: number): void {
    for (; this.hashedHere < upTo; this.hashedHere++) {
      const slot = this.hashedHere % this.slots;
      const start = slot * this.slotSize;
      this.local.update(this.data.subarray(start, start + this.lengths[slot]));
    }
  }

  /** Until `count` slots are hashed: by the worker, or here when there is none (or it never started). */
  private waitHashed(count: number): void {
    if (this.worker) this.waitFor(HASHED, () => Atomics.load(this.ctl, HASHED) >= count);
    if (!this.worker) this.hashLocally(count);
  }

  /** Wait until `ready()`, re-checked whenever `word` changes; drops a worker that never started. */
  private waitFor(word: number, ready: () => boolean): void {
    const start = Date.now();
    while (!ready()) {
      const v = Atomics.load(this.ctl, word);
      if (ready()) break;
      Atomics.wait(this.ctl, word, v, Atomics.load(this.ctl, STARTED) ? 100 : Math.min(100, this.startMs));
      const waited = Date.now() - start;
      if (waited >= this.startMs && Atomics.compareExchange(this.ctl, STARTED, 0, CANCELLED) === 0) {
        // It never ran, so it hashed nothing and every slot still holds its bytes: hash them here.
        void this.worker?.terminate().catch(() => {});
        this.worker = undefined;
        return;
      }
      if (waited > STALL_MS) throw new LayerError('the layer hashing thread stopped');
    }
  }
}
