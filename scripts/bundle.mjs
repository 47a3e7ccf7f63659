// Bundle @builder/core with its dependencies (inversify above all: unbundled it costs ≈ 150 ms to load).
// tsc has already compiled to dist/; the bundle is made from that JavaScript. Entries share chunks,
// so `@builder/core` and `@builder/core/di` use one inversify, which third-party plugins share too.
import { build } from 'esbuild';

await build({
  absWorkingDir: new URL('../packages/core', import.meta.url).pathname,
  entryPoints: { index: 'dist/index.js', di: 'dist/di.js', launcher: 'dist/run/stage-launcher.js' },
  outdir: 'bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@builder/native', '@builder/native/*', '@builder/plugins', 'winston', 'koffi'],
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
});
