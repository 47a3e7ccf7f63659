// The hashing thread of a ring (hash-ring.ts). One file for both kinds: with an `fd` it is a FileRing's
// reader (it reads the file into the slots, hands each one over, then hashes it); without, a HashRing's
// hasher (it hashes the slots the unpacking thread fills, behind it). Bundled on its own as CommonJS
// (bundle/hash-worker.cjs, the package's `./hash-worker` export), like the unpack worker: it loads
// nothing but node:fs, node:crypto and node:worker_threads, so it starts as soon as a thread can.
import type { Hash } from 'node:crypto';
import { readSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { sha256 } from '../digest.js';
import * as ring from './ring-layout.js';

const { sab, slots, slotSize, fd } = workerData as ring.HashWorkerData;
const { ctl, bytes, lengths, data, out } = ring.ringMemory(sab, slots, slotSize);
const slotAt = (seq: number) => data.subarray((seq % slots) * slotSize, ((seq % slots) + 1) * slotSize);

/** Wait until ready() (re-checked whenever ctl[word] changes); false when told to stop. */
function wait(word: number, ready: () => boolean): boolean {
  for (;;) {
    const v = Atomics.load(ctl, word);
    if (ready()) return true;
    if (Atomics.load(ctl, ring.ABORT)) return false;
    Atomics.wait(ctl, word, v, 1000);
  }
}

function finish(code: number): void {
  Atomics.store(ctl, ring.DONE, code);
  Atomics.notify(ctl, ring.DONE);
  Atomics.notify(ctl, ring.FILLED);
}

/** FileRing: read the file into the slots, each handed over, then hashed; false when told to stop first. */
function readFile(hash: Hash, file: number): boolean {
  let pos = 0;
  for (let seq = 0; ; seq++) {
    if (!wait(ring.TAKEN, () => Atomics.load(ctl, ring.TAKEN) > seq - slots)) return false;
    const slot = slotAt(seq);
    let n = 0;
    for (let got = 1; got > 0 && n < slotSize; n += got) got = readSync(file, slot, n, slotSize - n, pos + n);
    pos += n;
    lengths[seq % slots] = n;
    bytes[0] = pos;
    // Handed over before it is hashed: the unpacking thread only reads it, and only this thread refills it.
    Atomics.store(ctl, ring.FILLED, seq + 1);
    Atomics.notify(ctl, ring.FILLED);
    hash.update(slot.subarray(0, n));
    if (n < slotSize) return true;
  }
}

/** HashRing: hash the slots as they are filled, to the input's end; false when told to stop first. */
function hashSlots(hash: Hash): boolean {
  for (let seq = 0; ; seq++) {
    if (
      !wait(ring.FILLED, () => Atomics.load(ctl, ring.FILLED) >> 1 > seq || (Atomics.load(ctl, ring.FILLED) & 1) !== 0)
    ) {
      return false;
    }
    if (Atomics.load(ctl, ring.FILLED) >> 1 <= seq) return true;
    hash.update(slotAt(seq).subarray(0, lengths[seq % slots]));
    Atomics.store(ctl, ring.HASHED, seq + 1);
    Atomics.notify(ctl, ring.HASHED);
  }
}

// Too late (given up on): the caller hashes itself.
if (Atomics.compareExchange(ctl, ring.STARTED, 0, 1) === 0) {
  try {
    const hash = sha256();
    if (fd !== undefined ? readFile(hash, fd) : hashSlots(hash)) {
      hash.digest().copy(out, 0);
      finish(1);
    }
  } catch (err) {
    out.write(String((err as { message?: unknown } | null)?.message || err).slice(0, 500), ring.DIGEST_BYTES);
    finish(2);
  }
}
