// @builder/core/unpack: the layer unpacker on its own, for tools and benchmarks. `unpackInWorker` is
// what the layer store runs (a worker thread); `unpackLayer` is the same work on the calling thread.
// Kept out of the main entry. Importing it is cheap: the unpacker and its native code (koffi) load in
// the worker, or here on the first unpackLayer call.
import type { UnpackOptions, UnpackResult } from './unpack/unpack-layer.js';

export { unpackInWorker } from './unpack/unpack-client.js';
export type { LayerFormat, UnpackOptions, UnpackResult } from './unpack/unpack-layer.js';

/** Unpack a layer on the calling thread (its file system calls block it); see unpackInWorker. */
export async function unpackLayer(
  input: NodeJS.ReadableStream | string,
  dest: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const unpacker = await import('./unpack/unpack-layer.js');
  return unpacker.unpackLayer(input, dest, opts);
}
