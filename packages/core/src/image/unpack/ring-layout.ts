// The shared memory of a hash ring (hash-ring.ts), as both its sides see it: the unpacking thread's ring
// classes and the hashing thread (hash-worker.ts).
//
// Control words (Int32, at the start of the SharedArrayBuffer); every wait re-checks its word, so no
// wake-up is lost:
//   FILLED   slots filled. HashRing: twice that, +1 once the input has ended.
//   HASHED   slots hashed (HashRing).
//   TAKEN    slots the unpacking thread is done with (FileRing).
//   DONE     1 when the digest is in DIGEST; 2: the worker failed, its error text follows.
//   STARTED  1 once the worker runs; 2: it was given up on before that.
//   ABORT    1: the worker stops (FileRing: it may be waiting for a free slot).
// A FileRing's byte count is a Float64 after the control words, then one Int32 length per slot; the
// slots start at the next 64-byte boundary; the digest (and a failed worker's error text) follows them.

export const FILLED = 0;
export const HASHED = 1;
export const TAKEN = 2;
export const DONE = 3;
export const STARTED = 4;
export const ABORT = 5;
const CTL_WORDS = 8;
/** Byte offset of the Float64 byte count. */
const BYTES = CTL_WORDS * 4;
/** Byte offset of one Int32 length per slot. */
const LENGTHS = BYTES + 8;
export const DIGEST_BYTES = 32;
const ERROR_BYTES = 1024;

/** What the hashing thread is started with. `fd` given: read that file into the slots (FileRing). */
export interface HashWorkerData {
  sab: SharedArrayBuffer;
  slots: number;
  slotSize: number;
  fd?: number;
}

/** The views both threads make on a ring's shared memory. */
export interface RingMemory {
  ctl: Int32Array;
  /** A FileRing's count of bytes read. */
  bytes: Float64Array;
  lengths: Int32Array;
  /** The slots, one after another. */
  data: Buffer;
  /** The digest (DIGEST_BYTES), then a failed worker's error text (ERROR_BYTES). */
  out: Buffer;
}

/** The offset of the slots: after the lengths, at the next 64-byte boundary. */
const dataOffset = (slots: number) => Math.ceil((LENGTHS + 4 * slots) / 64) * 64;

/** The size of the shared memory of a ring of `slots` slots of `slotSize` bytes. */
export const ringBytes = (slots: number, slotSize: number) =>
  dataOffset(slots) + slots * slotSize + DIGEST_BYTES + ERROR_BYTES;

/** The views on `sab`, laid out for `slots` slots of `slotSize` bytes. */
export function ringMemory(sab: SharedArrayBuffer, slots: number, slotSize: number): RingMemory {
  const data = dataOffset(slots);
  return {
    ctl: new Int32Array(sab, 0, CTL_WORDS),
    bytes: new Float64Array(sab, BYTES, 1),
    lengths: new Int32Array(sab, LENGTHS, slots),
    data: Buffer.from(sab, data, slots * slotSize),
    out: Buffer.from(sab, data + slots * slotSize, DIGEST_BYTES + ERROR_BYTES),
  };
}
