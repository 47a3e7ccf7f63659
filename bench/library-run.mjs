#!/usr/bin/env node
// Wall-clock time of a warm library run: `engine.run()` of /bin/true on a busybox rootfs, by an engine
// made once with `createEngine({ prestart: true })`, so that every run finds its stage process started
// and its modules loaded, as a CI tool driving many steps through the library would.
//
// Cases, each in a process of its own (two engines in one process would share the pre-started stage):
//   engine.run                   the default confinement (capabilities, seccomp, masked paths, limits)
//   engine.run, privileged       `privileged: true`: what the confinement costs is the paired difference
//   engine.run (baseline)        with --baseline CHECKOUT: the same run by another built checkout's engine
// The runs are interleaved (one of each case per round, the order turning each round), with a pause
// after each so that the engine's next stage has started, as it would between a caller's steps. The
// first rounds are warm-up. Each time is measured inside the case's process, around `await engine.run()`.
//
// Run as root, after `npm run build`:
//   node bench/library-run.mjs                        (20 counted rounds after 3 warm-up ones)
//   node bench/library-run.mjs --runs 40 --baseline ../other
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BenchError,
  busyboxRootfs,
  CHILD_ENV,
  caCertsNote,
  median,
  pairedMedian,
  signedMs,
  toCount,
} from './common.mjs';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const CORE = (checkout) => join(checkout, 'packages/core/bundle/index.js');
const CONFINEMENT_TARGET_MS = 3; // what the default confinement may add over privileged
const BASELINE_TARGET_MS = 2; // what a change may add to the warm library run
/** Between runs: long enough for the engine's next stage process to have started. */
const PAUSE_MS = 150;

// ---- the case process ---------------------------------------------------------------------------

async function worker(core, rootfs, store, privileged) {
  const { createEngine } = await import(core);
  const engine = await createEngine({ prestart: true, root: store });
  const spec = { rootfs, argv: ['/bin/true'], ...(privileged ? { privileged: true } : {}) };
  process.on('message', async () => {
    try {
      const t0 = process.hrtime.bigint();
      const result = await engine.run(spec);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      process.send(result.exitCode === 0 ? { ms } : { error: `exit status ${result.exitCode}` });
    } catch (err) {
      process.send({ error: err.message });
    }
  });
  process.send({ ready: true });
}

// ---- the driver ---------------------------------------------------------------------------------

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write('usage: node bench/library-run.mjs [--runs N] [--warmup N] [--json] [--baseline CHECKOUT]\n');
    process.exit(0);
  }
  const baseline = values.baseline && resolve(values.baseline);
  if (baseline && !existsSync(CORE(baseline)))
    throw new BenchError(`--baseline ${values.baseline}: no ${CORE(baseline)} (a built checkout of builder)`);
  return {
    runs: toCount(values.runs, '--runs', 1),
    warmup: toCount(values.warmup, '--warmup', 0),
    json: values.json,
    baseline,
  };
}

/** Start a case's process; resolves once its engine is made. */
function startCase(name, core, rootfs, store, privileged) {
  const args = ['--worker', core, rootfs, store, privileged ? 'privileged' : 'default'];
  const child = fork(fileURLToPath(import.meta.url), args, {
    env: CHILD_ENV,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolveCase, reject) => {
    child.once('message', () => resolveCase({ name, child, samples: [] }));
    child.once('exit', (code) => reject(new BenchError(`'${name}' exited with ${code} before it was ready`)));
  });
}

function runOnce(c) {
  return new Promise((resolveRun, reject) => {
    c.child.once('message', (m) => (m.error ? reject(new BenchError(`'${c.name}': ${m.error}`)) : resolveRun(m.ms)));
    c.child.send('run');
  });
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (process.argv[2] === '--worker') {
    const [core, rootfs, store, mode] = process.argv.slice(3);
    return worker(core, rootfs, store, mode === 'privileged');
  }
  const options = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new BenchError('must run as root (engine.run needs it)');
  if (!existsSync(CORE(HERE))) throw new BenchError(`no ${CORE(HERE)}: run \`npm run build\` first`);

  const dir = mkdtempSync('/tmp/builder-bench-lib-');
  const cases = [];
  try {
    const rootfs = busyboxRootfs(join(dir, 'rootfs'), ['true']);
    const store = join(dir, 'store');
    cases.push(await startCase('engine.run', CORE(HERE), rootfs, store, false));
    cases.push(await startCase('engine.run, privileged', CORE(HERE), rootfs, store, true));
    if (options.baseline)
      cases.push(await startCase('engine.run (baseline)', CORE(options.baseline), rootfs, store, false));
    if (!options.json)
      console.log(
        `node ${process.version}, linux ${release()}, ${options.warmup} warm-up + ${options.runs} counted rounds`,
      );
    for (let round = 0; round < options.warmup + options.runs; round++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(round + k) % cases.length];
        await pause(PAUSE_MS);
        const ms = await runOnce(c);
        if (round >= options.warmup) c.samples.push(ms);
      }
    }
  } finally {
    for (const c of cases) c.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }

  const [confined, privileged, baseline] = cases;
  const paired = (a, b) => pairedMedian(a.samples, b.samples);
  const results = {
    medians: Object.fromEntries(cases.map((c) => [c.name, median(c.samples)])),
    confinementMs: paired(confined, privileged),
    ...(baseline ? { overBaselineMs: paired(confined, baseline) } : {}),
  };
  if (options.json) {
    console.log(JSON.stringify({ node: process.version, kernel: release(), runs: options.runs, ...results }, null, 2));
    return;
  }
  for (const c of cases) {
    const s = [...c.samples].sort((a, b) => a - b);
    console.log(
      `${c.name.padEnd(24)} min ${s[0].toFixed(1)}  median ${median(s).toFixed(1)}  max ${s.at(-1).toFixed(1)} ms`,
    );
  }
  console.log(
    `confinement: ${signedMs(results.confinementMs)} ms paired over privileged (target <= ${CONFINEMENT_TARGET_MS})`,
  );
  if (baseline)
    console.log(
      `engine.run: ${signedMs(results.overBaselineMs)} ms paired against the baseline checkout (target <= ${BASELINE_TARGET_MS})`,
    );
  const note = caCertsNote();
  if (note) console.log(note);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
