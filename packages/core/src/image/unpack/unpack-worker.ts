// The worker thread that unpacks one layer (see unpack-client.ts). A plain layer file arrives as a
// FileRing that the main thread started (its reader fills the slots); a compressed file is read here;
// any other input arrives as messages, one chunk per request, so the main thread reads no faster than
// this thread writes.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { FileRing } from './hash-ring.js';
import type { FromWorker, ToWorker, WorkerInit } from './unpack-client.js';
import { type UnpackResult, unpackFileRing, unpackLayer } from './unpack-layer.js';

const port = parentPort;
if (!port) throw new Error('unpack-worker runs only as a worker thread');
const { dest, options, file, ring } = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

let input: Readable | string | undefined;
if (ring !== undefined) {
  input = undefined;
} else if (file !== undefined) {
  input = file;
} else {
  // Up to 8 MiB read ahead of the unpacker, so it rarely waits for the main thread.
  const stream = new Readable({
    highWaterMark: 8 << 20,
    read() {
      post({ more: true });
    },
  });
  port.on('message', (m: ToWorker) => {
    if ('chunk' in m) stream.push(Buffer.from(m.chunk));
    else if ('end' in m) stream.push(null);
    else stream.destroy(Object.assign(new Error(m.abort), { name: 'AbortError' }));
  });
  input = stream;
}

// Progress of a file read here or by the ring's reader, at most every 100 ms.
let shown = 0;
const onProgress =
  input === undefined || typeof input === 'string'
    ? (bytes: number) => {
        const now = Date.now();
        if (now - shown < 100) return;
        shown = now;
        post({ progress: bytes });
      }
    : undefined;
const opts = { ...options, ...(onProgress ? { onProgress } : {}) };

const unpacked: Promise<UnpackResult> = ring
  ? new Promise((resolve) => resolve(unpackFileRing(FileRing.attach(ring), dest, opts)))
  : unpackLayer(input as Readable | string, dest, opts);
unpacked.then(
  (result) => {
    post({ done: result });
    port.close();
  },
  (err: Error) => {
    post({ error: { name: err.name, message: err.message } });
    port.close();
  },
);
