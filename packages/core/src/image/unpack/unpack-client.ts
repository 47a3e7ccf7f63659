// Unpacking runs in a worker thread: the unpacker's file system calls are synchronous (3-5x faster
// than async ones for this work, docs/performance.md, "Synchronous calls in a worker"), and off the main thread they leave its
// event loop free for progress, signals, and a library user's other work. A plain layer file is read
// and hashed by a second worker (hash-ring.ts FileRing), started here at the same time as the unpack
// worker so that both boot at once; a compressed file is read by the unpack worker; a stream (that
// any rootfs source may provide) is read here and its bytes handed over on request. The unpack worker
// decompresses, checks and writes. Worker threads share the process's mount namespace, which is
// the host's: unpacking never runs in a stage.
import { closeSync, fstatSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ImageError, LayerError } from '../../errors.js';
import { openBlob } from '../compression.js';
import { FileRing, type FileRingHandle, fileRingSlots, SLOT_BYTES } from './hash-ring.js';
import type { UnpackOptions, UnpackResult } from './unpack-layer.js';
import { workerFile } from './worker-files.js';

/** What the worker is started with: a ring to unpack from, a file to read itself, or neither (the bytes come as messages). */
export interface WorkerInit {
  dest: string;
  options: Omit<UnpackOptions, 'onProgress'>;
  ring?: FileRingHandle;
  file?: string;
}
/** Messages to the worker: a chunk of the tarball, its end, or why it stops. */
export type ToWorker = { chunk: Uint8Array } | { end: true } | { abort: string };
/** Messages from the worker. */
export type FromWorker =
  | { more: true }
  | { progress: number }
  | { done: UnpackResult }
  | { error: { name: string; message: string } };

/**
 * unpackLayer() in a worker thread: the same options, results and errors. The input is a stream, read
 * here and handed over, or a file (`{ file }`), read by worker threads (faster: no copies through this
 * thread, no messages; give `options.blob` to have its digest checked). When `signal` aborts, the
 * workers are stopped and the promise rejects with the signal's reason once they have exited.
 */
export function unpackInWorker(
  input: NodeJS.ReadableStream | { file: string },
  dest: string,
  options: UnpackOptions,
  signal?: AbortSignal,
): Promise<UnpackResult> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { onProgress, ...rest } = options;
  const file = 'file' in input ? input.file : undefined;
  // A plain tarball file: its reader starts now, next to the unpack worker.
  let ring: FileRing | undefined;
  let fd = -1;
  if (file !== undefined) {
    try {
      const blob = openBlob(file);
      if (blob.compression === 'none') {
        fd = blob.fd;
        ring = FileRing.start(fd, fileRingSlots(fstatSync(fd).size), SLOT_BYTES);
      } else closeSync(blob.fd);
    } catch (err) {
      if (fd >= 0) closeSync(fd);
      return Promise.reject(err);
    }
  }
  const source = ring ? { ring: ring.handle() } : file === undefined ? {} : { file };
  const init: WorkerInit = { dest, options: rest, ...source };
  let worker: Worker;
  try {
    worker = new Worker(workerFile('unpack-worker'), { workerData: init });
  } catch (err) {
    return (ring ? ring.abort() : Promise.resolve()).then(() => {
      if (fd >= 0) closeSync(fd);
      throw err;
    });
  }
  const chunks = file === undefined ? (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]() : undefined;
  let bytes = 0;
  let readError: unknown;
  let outcome: { done: UnpackResult } | { error: { name: string; message: string } } | undefined;

  const feed = async (): Promise<void> => {
    if (!chunks) return;
    try {
      const r = await chunks.next();
      if (r.done) {
        worker.postMessage({ end: true } satisfies ToWorker);
        return;
      }
      const chunk = r.value;
      bytes += chunk.length;
      onProgress?.(bytes);
      // Hand the memory over when the chunk owns all of it, else a copy.
      const whole = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
      const data = whole ? new Uint8Array(chunk.buffer) : new Uint8Array(chunk);
      worker.postMessage({ chunk: data } satisfies ToWorker, [data.buffer as ArrayBuffer]);
    } catch (err) {
      readError = err;
      worker.postMessage({ abort: err instanceof Error ? err.message : String(err) } satisfies ToWorker);
    }
  };

  const abort = () => void worker.terminate();
  signal?.addEventListener('abort', abort, { once: true });
  return new Promise<UnpackResult>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if ('more' in m) void feed();
      else if ('progress' in m) onProgress?.(m.progress);
      else outcome = m;
    });
    worker.on('error', (err) => {
      outcome ??= { error: { name: 'Error', message: err.message } };
    });
    const settle = () => {
      signal?.removeEventListener('abort', abort);
      // A read error (a digest mismatch of the blob, a source that failed) explains the abort.
      if (signal?.aborted) reject(signal.reason);
      else if (readError !== undefined) reject(readError);
      else if (outcome && 'done' in outcome) resolve(outcome.done);
      else reject(rebuild(outcome?.error ?? { name: 'Error', message: 'the unpack worker stopped' }));
      if (!file) (input as { destroy?: () => void }).destroy?.();
    };
    worker.on('exit', () => {
      if (!ring) return settle();
      // The reader has stopped (done, or stopped now) before its fd is closed.
      void ring.abort().then(() => {
        closeSync(fd);
        settle();
      });
    });
  });
}

function rebuild(e: { name: string; message: string }): Error {
  if (e.name === 'ImageError') return new ImageError(e.message);
  if (e.name === 'LayerError') return new LayerError(e.message);
  return new LayerError(`cannot unpack layer: ${e.message}`);
}
