// After unshare, only the main thread is in the new namespaces: libuv's thread pool is not.
// Any request that runs on the pool (async fs, dns lookups, zlib, crypto) would act on the host's
// view. This hook turns such a request into an immediate engine error instead of a silent leak.
import { createHook } from 'node:async_hooks';

export const THREADPOOL_RESOURCES: ReadonlySet<string> = new Set([
  'FSREQCALLBACK',
  'FSREQPROMISE',
  'FILEHANDLE',
  'FILEHANDLECLOSEREQ',
  'STATWATCHER',
  'FSEVENTWRAP',
  'GETADDRINFOREQWRAP',
  'GETNAMEINFOREQWRAP',
  'ZLIB',
  'PBKDF2REQUEST',
  'RANDOMBYTESREQUEST',
  'SCRYPTREQUEST',
  'HASHREQUEST',
  'CIPHERREQUEST',
]);

/** From now on, creating a thread-pool request calls `onViolation` with the resource type. */
export function forbidThreadPool(onViolation: (type: string) => void): void {
  createHook({
    init(_id, type) {
      if (THREADPOOL_RESOURCES.has(type)) onViolation(type);
    },
  }).enable();
}
