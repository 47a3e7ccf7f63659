#!/usr/bin/env node
// Unpack one layer tarball with builder's unpacker, the way the engine does: @builder/core from its
// built bundle, overlay format, into an existing empty directory. bench/unpack.mjs runs this as a child
// process and times it from spawn to exit; it can also be run by hand under a profiler:
//   node --cpu-prof bench/unpack-layer.mjs /var/tmp/bench/rootfs.tar /tmp/x
//   strace -c -f node bench/unpack-layer.mjs LAYER.tar.gz DEST
// Prints one JSON line on stdout: entries, diffId, unpackMs (the unpackLayer call alone), loadMs
// (importing @builder/core) and maxRssKiB (this process's peak resident set, from getrusage).
// BUILDER_CORE=FILE imports another build of @builder/core's bundle (to compare two builds).
const [layer, dest, format = 'overlay'] = process.argv.slice(2);
if (!layer || !dest) {
  process.stderr.write('usage: node bench/unpack-layer.mjs LAYER DEST [overlay|flat]\n');
  process.exit(2);
}
const t0 = performance.now();
const { unpackLayer } = await import(process.env.BUILDER_CORE || '@builder/core');
const t1 = performance.now();
try {
  const result = await unpackLayer(layer, dest, { format });
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
