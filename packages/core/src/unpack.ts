// @builder/core/unpack: the layer unpacker on its own, for tools and benchmarks. `unpackInWorker` is
// what the layer store runs (a worker thread); `unpackLayer` is the same work on the calling thread.
// Kept out of the main entry: it loads native code (koffi) as soon as it is imported.

export { type LayerFormat, type UnpackOptions, type UnpackResult, unpackLayer } from './layers/unpack.js';
export { unpackInWorker } from './layers/unpack-client.js';
