// Where the worker threads' files are: the package's `./unpack-worker` and `./hash-worker` exports, the
// built bundles (CommonJS, scripts/bundle.mjs). One resolver for both, made once per thread: the first
// package resolution costs a few ms, and the layer store starts both workers together.
import { createRequire } from 'node:module';

let resolver: NodeJS.Require | undefined;
const files = new Map<string, string>();

export function workerFile(name: 'unpack-worker' | 'hash-worker'): string {
  let file = files.get(name);
  if (file === undefined) {
    resolver ??= createRequire(import.meta.url);
    file = resolver.resolve(`@builder/core/${name}`);
    files.set(name, file);
  }
  return file;
}
