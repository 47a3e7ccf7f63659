// Bundles for start-up speed: ESM loading costs about 1.5 ms per module file on Node 20, and
// unbundled inversify alone costs ≈ 150 ms (docs/performance.md, "Start-up"). tsc has already compiled to dist/; each
// bundle is made from that JavaScript, so decorators are already lowered.
//   @builder/core:    index, di, launcher and unpack share chunks, so the engine and every plugin
//                     that imports `@builder/core/di` use one inversify. The unpack worker is one
//                     CommonJS file with @builder/native inside: a worker thread starts ~12 ms sooner
//                     without the ESM loader and a dozen module files (it shares nothing with the
//                     main thread's modules anyway). The hash ring's worker (hash-worker.ts) likewise, on
//                     its own: it needs only Node's fs and crypto.
//   @builder/plugins: one file; core stays external (shared).
//   @builder/native:  the stage entry as one file; the package's index and pure entries share chunks
//                     (one copy of each module when both are loaded); koffi stays external (native
//                     binary). Bundled, native loads in ~15 ms instead of ~33 ms (16 files).
//   The stage protocol's constants (`@builder/native/protocol`: fds, the parent env variable, the
//   signals) are compiled into core's bundle: the launcher, which the CLI loads before it starts the
//   stage, then loads no module of native at all (each module file costs ~1.5 ms).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  // esbuild renames decorated classes (`TmpfsMountKind2`); error messages name plugin classes.
  keepNames: true,
};
const pkg = (name) => new URL(`../packages/${name}`, import.meta.url).pathname;
// The unpack worker takes @builder/native from its compiled modules (its bundle is made alongside).
const nativeFromDist = {
  name: 'native-from-dist',
  setup(b) {
    b.onResolve({ filter: /^@builder\/native$/ }, () => ({ path: `${pkg('native')}/dist/index.js` }));
  },
};
// core's bundle takes the stage protocol's constants from native's compiled module (see the top). The
// plugin is needed: `external: ['@builder/native']` alone would make every subpath external too.
const protocolInline = {
  name: 'native-protocol-inline',
  setup(b) {
    b.onResolve({ filter: /^@builder\/native\/protocol$/ }, () => ({
      path: `${pkg('native')}/dist/stage/protocol.js`,
    }));
  },
};
// The worker threads, as CommonJS files.
const cjsWorker = { outExtension: { '.js': '.cjs' }, format: 'cjs', outdir: 'bundle' };
// In the unpack worker, `import.meta.url` (how worker-files.ts finds the hashing thread's file) is the
// bundle's own URL.
const importMetaUrl = {
  banner: { js: "'use strict';\nconst importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': 'importMetaUrl' },
};
for (const name of ['core', 'plugins', 'native']) rmSync(`${pkg(name)}/bundle`, { recursive: true, force: true });

await Promise.all([
  build({
    ...common,
    absWorkingDir: pkg('core'),
    entryPoints: {
      index: 'dist/index.js',
      di: 'dist/di.js',
      launcher: 'dist/run/stage-launcher.js',
      unpack: 'dist/image/unpack-entry.js',
    },
    outdir: 'bundle',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    external: [
      '@builder/native',
      '@builder/native/pure',
      '@builder/native/stage',
      '@builder/plugins',
      'winston',
      'koffi',
    ],
    plugins: [protocolInline],
  }),
  build({
    ...common,
    absWorkingDir: pkg('core'),
    ...cjsWorker,
    ...importMetaUrl,
    entryPoints: { 'unpack-worker': 'dist/image/unpack/unpack-worker.js' },
    external: ['koffi'],
    plugins: [nativeFromDist],
  }),
  build({
    ...common,
    absWorkingDir: pkg('core'),
    ...cjsWorker,
    entryPoints: { 'hash-worker': 'dist/image/unpack/hash-worker.js' },
  }),
  build({
    ...common,
    absWorkingDir: pkg('plugins'),
    entryPoints: { index: 'dist/index.js' },
    outdir: 'bundle',
    external: ['@builder/core', '@builder/core/*'],
  }),
  build({
    ...common,
    absWorkingDir: pkg('native'),
    entryPoints: { stage: 'dist/stage/main.js' },
    outdir: 'bundle',
    external: ['koffi'],
  }),
  build({
    ...common,
    absWorkingDir: pkg('native'),
    entryPoints: { index: 'dist/index.js', pure: 'dist/pure.js' },
    outdir: 'bundle',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    external: ['koffi'],
  }),
]);
