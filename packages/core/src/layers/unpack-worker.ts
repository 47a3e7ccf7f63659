// The worker thread that unpacks one layer (see unpack-client.ts). A layer that is a file is read
// here; any other arrives as messages, one chunk per request, so the main thread reads no faster than
// this thread writes.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { unpackLayer } from './unpack.js';
import type { FromWorker, ToWorker, WorkerInit } from './unpack-client.js';

const port = parentPort;
if (!port) throw new Error('unpack-worker runs only as a worker thread');
const { dest, options, file } = workerData as WorkerInit;
const post = (m: FromWorker) => port.postMessage(m);

let input: Readable | string;
if (file !== undefined) {
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

// Progress of a file read here, at most every 100 ms.
let shown = 0;
const onProgress =
  file === undefined
    ? undefined
    : (bytes: number) => {
        const now = Date.now();
        if (now - shown < 100) return;
        shown = now;
        post({ progress: bytes });
      };

unpackLayer(input, dest, { ...options, ...(onProgress ? { onProgress } : {}) }).then(
  (result) => {
    post({ done: result });
    port.close();
  },
  (err: Error) => {
    post({ error: { name: err.name, message: err.message } });
    port.close();
  },
);
