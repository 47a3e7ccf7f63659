// The worker thread that unpacks one layer (see unpack-client.ts). The tarball's bytes arrive as
// messages, one per request, so the main thread reads no faster than this thread writes.
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { unpackLayer } from './unpack.js';
import type { ToWorker, WorkerInit } from './unpack-client.js';

const port = parentPort;
if (!port) throw new Error('unpack-worker runs only as a worker thread');
const { dest, options } = workerData as WorkerInit;

// Up to 8 MiB read ahead of the unpacker, so it rarely waits for the main thread.
const input = new Readable({
  highWaterMark: 8 << 20,
  read() {
    port.postMessage({ more: true });
  },
});
port.on('message', (m: ToWorker) => {
  if ('chunk' in m) input.push(Buffer.from(m.chunk));
  else if ('end' in m) input.push(null);
  else input.destroy(Object.assign(new Error(m.abort), { name: 'AbortError' }));
});

unpackLayer(input, dest, options).then(
  (result) => {
    port.postMessage({ done: result });
    port.close();
  },
  (err: Error) => {
    port.postMessage({ error: { name: err.name, message: err.message } });
    port.close();
  },
);
