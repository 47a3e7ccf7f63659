#!/usr/bin/env node
// Unpack one layer tarball with builder's unpacker, the way the layer store does: @builder/core/unpack
// from its built bundle, in a worker thread that reads the file itself and checks its digest
// (LAYER_DIGEST, computed once by bench/unpack.mjs; without it, no blob check), overlay format, into an
// existing empty directory. bench/unpack.mjs runs this as a child
// process and times it from spawn to exit; it can also be run by hand under a profiler:
//   node --cpu-prof bench/unpack-layer.mjs /var/tmp/bench/rootfs.tar /tmp/x
//   strace -c -f node bench/unpack-layer.mjs LAYER.tar.gz DEST
// Prints one JSON line on stdout: entries, diffId, unpackMs (the unpackLayer call alone), loadMs
// (importing @builder/core) and maxRssKiB (this process's peak resident set, from getrusage).
// BUILDER_CORE=FILE imports another build of @builder/core/unpack's bundle (to compare two builds).
import { statSync } from 'node:fs';

const [layer, dest, format = 'overlay'] = process.argv.slice(2);
if (!layer || !dest) {
  process.stderr.write('usage: node bench/unpack-layer.mjs LAYER DEST [overlay|flat]\n');
  process.exit(2);
}
const t0 = performance.now();
const { unpackInWorker } = await import(process.env.BUILDER_CORE || '@builder/core/unpack');
const t1 = performance.now();
try {
  const digest = process.env.LAYER_DIGEST;
  const blob = digest ? { blob: { digest, size: statSync(layer).size } } : {};
  const result = await unpackInWorker({ file: layer }, dest, { format, ...blob });
  const t2 = performance.now();
  const out = {
    entries: result.entries,
    diffId: result.diffId,
    loadMs: t1 - t0,
    unpackMs: t2 - t1,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (err) {
  process.stderr.write(`unpack-layer: ${err?.message ?? err}\n`);
  process.exit(1);
}
