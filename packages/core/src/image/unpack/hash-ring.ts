// The diffID hash off the unpacking thread.
//
// sha256 of a 300 MB layer costs about 0.2 s of CPU even with SHA-NI: half of what GNU tar needs for the
// whole extraction to tmpfs. So the bytes go through a ring of slots in shared memory, and a worker
// thread hashes them while the unpacking thread applies the tar entries in them. The hash is the same
// sha256 over the same bytes in the same order as the ones unpacked; a slot is filled again only once
// both threads are done with it. Two ways the bytes get into the slots:
//
// - FileRing (a plain layer file): the worker reads the file into the slots itself, hashes each one and
//   hands it to the unpacking thread (take, release). The unpacking thread makes no read at all, and
//   waits for nothing once the worker is ahead. It may be started by another thread than the one that
//   unpacks (handle, attach): the layer store starts it next to the unpack worker, so both boot at once.
// - HashRing (a stream, e.g. a layer inside an archive): the unpacking thread copies the chunks it gets
//   into the slots; the worker hashes them behind it. The worker is started only once the ring is a
//   quarter full: a small layer is hashed by the unpacking thread itself, from the slots.
//
// The worker costs ~30 ms to start and ~13 MB of memory. One that has not started after START_MS is
// given up: the unpacking thread then reads and hashes itself (nothing is lost either way).
//
// The shared memory's layout is in ring-layout.ts; the worker's code in hash-worker.ts.
import type { Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { LayerError } from '../../errors.js';
import { digestOf, sha256 } from '../digest.js';
import {
  ABORT,
  DIGEST_BYTES,
  DONE,
  FILLED,
  HASHED,
  type HashWorkerData,
  ringBytes,
  ringMemory,
  STARTED,
  TAKEN,
} from './ring-layout.js';
import { workerFile } from './worker-files.js';

/** Slot size: one read of a layer file, or that much of a stream. */
export const SLOT_BYTES = 1 << 20;
/** Slots of a HashRing: how far unpacking may run ahead of hashing. */
export const RING_SLOTS = 8;
/**
 * Slots of a FileRing: how far its reader may run ahead of unpacking. Where a layer has many small
 * files the reader idles, where it has large ones it is the slower side (reading and hashing ~1 ms
 * per MiB): a longer ring keeps the lead it takes in the first kind for the second. 24 MiB of shared
 * memory (bench/unpack: ~3% faster than 8 slots on a Debian rootfs, +16 MiB peak RSS).
 */
export const FILE_RING_SLOTS = 24;

/**
 * Slots for a FileRing over a file of `bytes`: no more than it fills. The shared memory is zeroed
 * when it is allocated, so a small layer gets a small ring.
 */
export function fileRingSlots(bytes: number): number {
  return Math.max(1, Math.min(FILE_RING_SLOTS, Math.ceil(bytes / SLOT_BYTES)));
}

/** A worker that has not started after this long is given up: this thread hashes (nothing is lost). */
const START_MS = 3_000;
/** How long a wait for a started worker may take before it counts as dead (it hashes GB/s). */
const STALL_MS = 60_000;
const CANCELLED = 2;

/** sha256 on this thread (no ring, no copies): a compressed stream's diffID. */
export class LocalHash {
  private readonly hash = sha256();
  copy(chunk: Buffer): void {
    this.hash.update(chunk);
  }
  digest(): string {
    return digestOf(this.hash);
  }
  abort(): void {}
}

/** What another thread needs to unpack from a FileRing (structured-cloneable: the memory is shared). */
export interface FileRingHandle {
  sab: SharedArrayBuffer;
  slots: number;
  slotSize: number;
  fd: number;
}

/** The shared memory and the worker's life: what both kinds of ring have in common. */
abstract class Ring {
  readonly slotSize: number;
  protected readonly slots: number;
  protected readonly sab: SharedArrayBuffer;
  protected readonly ctl: Int32Array;
  protected readonly lengths: Int32Array;
  protected readonly data: Buffer;
  protected readonly bytesRead: Float64Array;
  private readonly out: Buffer;
  /** The worker, when this thread started it. */
  protected worker?: Worker;
  /** Hashing here: no worker, or it was given up on before it started. */
  protected local?: Hash;
  protected readonly startMs: number;
  /** Whether the digest came from the worker thread (for tests and benchmarks). */
  threaded = false;

  constructor(slots: number, slotSize: number, startMs = START_MS, sab?: SharedArrayBuffer) {
    this.startMs = startMs;
    this.slots = slots;
    this.slotSize = slotSize;
    this.sab = sab ?? new SharedArrayBuffer(ringBytes(slots, slotSize));
    ({
      ctl: this.ctl,
      lengths: this.lengths,
      data: this.data,
      bytes: this.bytesRead,
      out: this.out,
    } = ringMemory(this.sab, slots, slotSize));
  }

  protected slot(seq: number): Buffer {
    const start = (seq % this.slots) * this.slotSize;
    return this.data.subarray(start, start + this.slotSize);
  }

  protected spawn(fd?: number): void {
    const workerData: HashWorkerData = {
      sab: this.sab,
      slots: this.slots,
      slotSize: this.slotSize,
      fd,
    };
    this.worker = new Worker(workerFile('hash-worker'), { workerData });
    this.worker.unref();
    this.worker.on('error', () => {}); // seen through DONE or the stall limit
  }

  /**
   * Wait until `ready()`, re-checked whenever `word` changes. False when the worker never started and
   * was given up on now (this thread takes over); throws when it failed or stalled.
   */
  protected waitFor(word: number, ready: () => boolean): boolean {
    const start = Date.now();
    while (!ready()) {
      const v = Atomics.load(this.ctl, word);
      if (ready()) break;
      if (Atomics.load(this.ctl, DONE) === 2) throw this.workerError();
      const started = Atomics.load(this.ctl, STARTED) !== 0;
      Atomics.wait(this.ctl, word, v, started ? 100 : Math.min(100, this.startMs));
      const waited = Date.now() - start;
      if (waited >= this.startMs && Atomics.compareExchange(this.ctl, STARTED, 0, CANCELLED) === 0) {
        // It never ran, so it did nothing: every slot is as this side left it.
        void this.worker?.terminate().catch(() => {});
        this.worker = undefined;
        return false;
      }
      if (waited > STALL_MS) throw new LayerError('the layer hashing thread stopped');
    }
    return true;
  }

  /** The worker's digest once DONE (waits for it). */
  protected workerDigest(): string {
    if (!this.waitFor(DONE, () => Atomics.load(this.ctl, DONE) !== 0)) return this.localDigest();
    if (Atomics.load(this.ctl, DONE) === 2) throw this.workerError();
    this.worker = undefined; // it exits by itself
    this.threaded = true;
    return `sha256:${this.out.subarray(0, DIGEST_BYTES).toString('hex')}`;
  }

  /** The digest of what this thread hashed (after the worker was given up on, or without one). */
  protected abstract localDigest(): string;

  private workerError(): LayerError {
    const out = this.out.subarray(DIGEST_BYTES);
    return new LayerError(`cannot read or hash the layer: ${out.toString('utf8', 0, out.indexOf(0))}`);
  }

  abstract digest(): string;

  /** Stop the worker (on an error); the ring is unusable afterwards. Resolves once it has stopped. */
  abort(): Promise<void> {
    Atomics.store(this.ctl, ABORT, 1);
    Atomics.notify(this.ctl, TAKEN);
    Atomics.notify(this.ctl, FILLED);
    const w = this.worker;
    this.worker = undefined;
    return w
      ? w.terminate().then(
          () => {},
          () => {},
        )
      : Promise.resolve();
  }
}

/** A plain layer file read and hashed by a worker thread; the unpacking thread takes its slots in order. */
export class FileRing extends Ring {
  private readonly fd: number;
  /** Slots taken by this thread so far. */
  private taken = 0;
  private ended = false;
  /** Bytes read here (after the worker was given up on). */
  private readHere = 0;

  /** Start reading `fd` (a plain tarball, from offset 0) on a new worker thread. */
  static start(fd: number, slots: number, slotSize: number, opts: { startMs?: number } = {}): FileRing {
    const ring = new FileRing(fd, slots, slotSize, opts.startMs);
    ring.spawn(fd);
    return ring;
  }

  /** The ring another thread started (with its handle()). */
  static attach(h: FileRingHandle, opts: { startMs?: number } = {}): FileRing {
    return new FileRing(h.fd, h.slots, h.slotSize, opts.startMs, h.sab);
  }

  private constructor(fd: number, slots: number, slotSize: number, startMs?: number, sab?: SharedArrayBuffer) {
    super(slots, slotSize, startMs, sab);
    this.fd = fd;
  }

  handle(): FileRingHandle {
    return { sab: this.sab, slots: this.slots, slotSize: this.slotSize, fd: this.fd };
  }

  /** The next slot's bytes (valid until release()), or undefined at the end of the file. */
  take(): Buffer | undefined {
    if (this.ended) return undefined;
    const seq = this.taken;
    let n: number;
    if (!this.local && this.waitFor(FILLED, () => Atomics.load(this.ctl, FILLED) > seq)) {
      n = this.lengths[seq % this.slots];
    } else {
      // The worker never started: read (and hash) here. No slot is in use by anyone else.
      this.local ??= sha256();
      const buf = this.slot(seq);
      n = 0;
      for (let got = 1; got > 0 && n < this.slotSize; n += got) {
        got = readSync(this.fd, buf, n, this.slotSize - n, this.readHere + n);
      }
      this.readHere += n;
      this.local.update(buf.subarray(0, n));
    }
    if (n < this.slotSize) this.ended = true;
    if (n === 0) return undefined;
    return this.slot(seq).subarray(0, n);
  }

  /** Done with the slot take() returned. */
  release(): void {
    this.taken++;
    if (!this.local) {
      Atomics.store(this.ctl, TAKEN, this.taken);
      Atomics.notify(this.ctl, TAKEN);
    }
  }

  /** Bytes read from the file (all of it once take() has returned undefined). */
  get bytes(): number {
    return this.local ? this.readHere : this.bytesRead[0];
  }

  /** The file's sha256, `sha256:<hex>`, once take() has returned undefined. */
  digest(): string {
    return this.local ? this.localDigest() : this.workerDigest();
  }

  protected localDigest(): string {
    if (!this.local) throw new LayerError('the layer hashing thread was given up on after it started');
    return digestOf(this.local);
  }
}

/** Chunks of a stream copied into the slots by this thread and hashed by a worker behind it. */
export class HashRing extends Ring {
  /** Slots filled so far (sequence number of the next one). */
  private filled = 0;
  /** Slots hashed by this thread (before any worker, or without one). */
  private hashedHere = 0;
  private ended = false;
  /** The slot copy() is filling, and how far. */
  private current?: Buffer;
  private partial = 0;

  /** `startMs`: how long to wait for the worker to start before hashing here instead. */
  constructor(slots: number, slotSize: number, opts: { startMs?: number } = {}) {
    super(slots, slotSize, opts.startMs);
  }

  /** Start the hashing thread now (a large input); otherwise it starts once a quarter of the ring is in use. */
  startWorker(): void {
    if (this.worker || this.ended || this.hashedHere > 0) return;
    this.spawn();
  }

  /**
   * Hash `chunk`: it is copied into slots, which are handed over as they fill up. The chunk itself is
   * the caller's to unpack from.
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

  /** The buffer of the next slot to fill, once the hasher is done with its previous contents. */
  private next(): Buffer {
    const seq = this.filled;
    if (seq >= this.slots) {
      const count = seq - this.slots + 1;
      if (!this.worker || !this.waitFor(HASHED, () => Atomics.load(this.ctl, HASHED) >= count)) {
        this.worker = undefined;
        this.hashLocally(count);
      }
    }
    return this.slot(seq);
  }

  /** The slot returned by next() holds `length` bytes now; the hasher may take it. */
  private commit(length: number): void {
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

  private flush(): void {
    if (this.current && this.partial) this.commit(this.partial);
    this.current = undefined;
    this.partial = 0;
  }

  /** The end of the input: waits for the hash of everything committed, `sha256:<hex>`. */
  digest(): string {
    this.flush();
    this.ended = true;
    if (!this.worker) return this.localDigest();
    Atomics.add(this.ctl, FILLED, 1);
    Atomics.notify(this.ctl, FILLED);
    return this.workerDigest();
  }

  protected localDigest(): string {
    this.worker = undefined;
    this.hashLocally(this.filled);
    return digestOf(this.local as Hash);
  }

  private hashLocally(upTo: number): void {
    this.local ??= sha256();
    for (; this.hashedHere < upTo; this.hashedHere++) {
      const slot = this.hashedHere % this.slots;
      const start = slot * this.slotSize;
      this.local.update(this.data.subarray(start, start + this.lengths[slot]));
    }
  }
}
