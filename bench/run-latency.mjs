#!/usr/bin/env node
// Wall-clock latency of `builder run` for a trivial command, next to reference points.
//
// Every command is a whole process, timed from spawn to exit with process.hrtime.bigint():
//   node -e 0                                     what it costs just to start Node (the baseline)
//   builder run --rootfs R -- /bin/true           the thing being measured
//   builder run --privileged ... /bin/true        the same without the confinement (capabilities, seccomp,
//                                                 masked paths): the paired difference is what it costs
//   bwrap --bind R / --proc /proc ... /bin/true   a small C sandbox tool doing similar namespace work
//   unshare -m chroot R /bin/true                 close to the bare minimum
//   builder run --image oci:L:base -- /bin/true   the same rootfs as a 5-layer OCI image (made by umoci),
//                                                 already unpacked in a layer store of its own
// R is a throw-away busybox-static rootfs built in a fresh /tmp directory and removed at the end, with
// the image and its store.
//
// The commands are run interleaved (A B C D, B C D A, ...) so that drift in machine load hits all of
// them alike; the first rounds are warm-up and are not counted. For each command the table gives
// min/median/max in ms, its median over the baseline's median, and the median of the per-round
// ratios (command / `node -e 0` of the same round). The summary line uses the latter.
//
// Run as root, after `npm run build`:
//   npm run bench
//   node bench/run-latency.mjs --runs 30            (more counted rounds; default 20)
//   node bench/run-latency.mjs --warmup 5 --json    (warm-up rounds, default 3; JSON output)
//   node bench/run-latency.mjs --baseline ../other  (also time another built checkout's builder cases in
//                                                    the same rounds, and print each one's paired change)
//
// To add a case, append an entry to the array returned by makeCases().
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BenchError,
  BUSYBOX,
  busyboxRootfs,
  CHILD_ENV,
  caCertsNote,
  findOnPath,
  median,
  pairedMedian,
  signedMs,
  toCount,
} from './common.mjs';

const BUILDER = fileURLToPath(new URL('../packages/cli/bin/builder.js', import.meta.url));
const BUSYBOX_APPLETS = ['sh', 'true', 'false', 'echo', 'cat', 'ls', 'env', 'sleep', 'mount'];
const TARGET = 2.5; // builder run's median paired ratio to `node -e 0` should not exceed this
const MOUNTS_TARGET_MS = 5; // what 10 mounts may add to builder run's median
const IMAGE_TARGET_MS = 5; // what --image of an unpacked 5-layer image may add over --rootfs
const CONFINEMENT_TARGET_MS = 3; // what the default confinement may add over --privileged

/**
 * The commands to time. The first is the baseline the ratios are computed against.
 * `needs` lists what must exist beforehand: { bin } is looked up on PATH, { file } is a path; `hint`
 * says how to get it. A missing one fails the whole benchmark rather than skipping the case.
 */
function makeCases(rootfs, image = '$IMAGE', store = '$STORE') {
  return [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'], needs: [] },
    {
      name: 'builder run /bin/true',
      argv: [process.execPath, BUILDER, 'run', '--rootfs', rootfs, '--', '/bin/true'],
      needs: [{ file: BUILDER, hint: 'run `npm run build` in the repository root' }],
    },
    {
      name: 'builder run --privileged /bin/true',
      argv: [process.execPath, BUILDER, 'run', '--privileged', '--rootfs', rootfs, '--', '/bin/true'],
      needs: [{ file: BUILDER, hint: 'run `npm run build` in the repository root' }],
    },
    {
      name: 'builder run, 10 mounts',
      argv: [process.execPath, BUILDER, 'run', '--rootfs', rootfs, ...tenMounts(rootfs), '--', '/bin/true'],
      needs: [{ file: BUILDER, hint: 'run `npm run build` in the repository root' }],
    },
    {
      name: 'builder run --image, 5 layers',
      argv: [process.execPath, BUILDER, 'run', '--root', store, '--image', image, '--', '/bin/true'],
      needs: [
        { file: BUILDER, hint: 'run `npm run build` in the repository root' },
        { bin: 'umoci', hint: 'apt-get install umoci' },
      ],
    },
    {
      name: 'bwrap /bin/true',
      argv: ['bwrap', '--bind', rootfs, '/', '--proc', '/proc', '--dev', '/dev', '--unshare-pid', '/bin/true'],
      needs: [{ bin: 'bwrap', hint: 'apt-get install bubblewrap' }],
    },
    {
      name: 'unshare -m chroot /bin/true',
      argv: ['unshare', '-m', 'chroot', rootfs, '/bin/true'],
      needs: [
        { bin: 'unshare', hint: 'apt-get install util-linux' },
        { bin: 'chroot', hint: 'apt-get install coreutils' },
      ],
    },
  ];
}

/**
 * The mount mix of the 10-mount case: 4 binds (2 staged, 2 nobind), 3 tmpfs, 2 overlays, 1 devpts.
 * Sources live under the rootfs's /hostsrc and the mountpoints exist, so no stubs are made.
 */
const MOUNT_POINTS = ['b1', 'b2', 'b3', 'b4', 't1', 't2', 't3', 'o1', 'o2', 'pts'];
const HOST_SOURCES = ['b1', 'b2', 'b3', 'b4', 'o1a', 'o1b', 'o2'];

function tenMounts(root) {
  const src = (name) => join(root, 'hostsrc', name);
  return [
    `type=bind,src=${src('b1')},dst=/m/b1`,
    `type=bind,src=${src('b2')},dst=/m/b2,ro`,
    `type=bind,src=${src('b3')},dst=/m/b3,nobind`,
    `type=bind,src=${src('b4')},dst=/m/b4,nobind,ro`,
    'type=tmpfs,dst=/m/t1',
    'type=tmpfs,dst=/m/t2,size=1m',
    'type=tmpfs,dst=/m/t3,mode=1777',
    `type=overlay,dst=/m/o1,lowerdir=${src('o1a')}:${src('o1b')}`,
    `type=overlay,dst=/m/o2,source=${src('o2')},tmpfs-upper`,
    'type=devpts,dst=/m/pts,newinstance',
  ].flatMap((m) => ['--mount', m]);
}

// ---- options ----------------------------------------------------------------------------------

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
    process.stdout.write('usage: node bench/run-latency.mjs [--runs N] [--warmup N] [--json] [--baseline CHECKOUT]\n');
    process.exit(0);
  }
  return {
    runs: toCount(values.runs, '--runs', 1),
    warmup: toCount(values.warmup, '--warmup', 0),
    json: values.json,
    baseline: values.baseline && baselineBuilder(values.baseline),
  };
}

/** The CLI of another built checkout, whose builder cases are timed beside this one's. */
function baselineBuilder(checkout) {
  const bin = join(checkout, 'packages/cli/bin/builder.js');
  if (!existsSync(bin)) throw new BenchError(`--baseline ${checkout}: no ${bin} (a built checkout of builder)`);
  return bin;
}

/** Each builder case again, with the baseline checkout's CLI: `<name> (baseline)`. */
function withBaseline(cases, bin) {
  const twins = cases
    .filter((c) => c.argv[1] === BUILDER)
    .map((c) => ({ ...c, name: `${c.name} (baseline)`, argv: c.argv.map((a) => (a === BUILDER ? bin : a)) }));
  return [...cases, ...twins];
}

// ---- prerequisites ----------------------------------------------------------------------------

function checkPrerequisites(cases) {
  const problems = [];
  if (process.getuid?.() !== 0) problems.push('must run as root (builder run and unshare -m need it)');
  if (!existsSync(BUSYBOX)) problems.push(`${BUSYBOX} not found: apt-get install busybox-static`);
  for (const c of cases) {
    for (const need of c.needs) {
      const missing = need.bin ? !findOnPath(need.bin) : !existsSync(need.file);
      if (missing) problems.push(`'${c.name}' needs ${need.bin ?? need.file}, which is missing: ${need.hint}`);
    }
  }
  if (problems.length) throw new BenchError(`cannot run the benchmark:\n  ${problems.join('\n  ')}`);
}

// ---- the rootfs -------------------------------------------------------------------------------

let rootfs;

function buildRootfs() {
  rootfs = busyboxRootfs(mkdtempSync('/tmp/builder-bench-'), BUSYBOX_APPLETS);
  for (const dir of MOUNT_POINTS) mkdirSync(join(rootfs, 'm', dir), { recursive: true });
  for (const dir of HOST_SOURCES) mkdirSync(join(rootfs, 'hostsrc', dir), { recursive: true });
  return rootfs;
}

/**
 * The rootfs as a 5-layer OCI image made by umoci, in `<rootfs>-image/L`: the rootfs, then four layers
 * of one small file each. Returns the reference and an empty store directory for it.
 */
function buildImage(dir) {
  const work = `${dir}-image`;
  mkdirSync(work);
  const umoci = (...args) => {
    const r = spawnSync('umoci', args, { cwd: work, encoding: 'utf8' });
    if (r.status !== 0) throw new BenchError(`umoci ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  };
  umoci('init', '--layout', 'L');
  umoci('new', '--image', 'L:base');
  for (let layer = 1; layer <= 5; layer++) {
    umoci('unpack', '--image', 'L:base', 'bundle');
    const root = join(work, 'bundle/rootfs');
    if (layer === 1) spawnSync('cp', ['-a', `${dir}/.`, root]);
    else writeFileSync(join(root, `layer-${layer}`), `${layer}\n`);
    umoci('repack', '--image', 'L:base', 'bundle');
    rmSync(join(work, 'bundle'), { recursive: true });
  }
  const store = join(work, 'store');
  mkdirSync(store);
  return { image: `oci:${join(work, 'L')}:base`, store };
}

/** Remove the rootfs, unless something is still mounted inside it (recursing into a bind mount of /dev would be bad). */
function removeRootfs() {
  if (!rootfs) return;
  const dir = rootfs;
  rootfs = undefined;
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point) => point && (point === dir || point.startsWith(`${dir}/`)));
  if (mounted.length) {
    process.stderr.write(`bench: not removing ${dir}, still mounted there: ${mounted.join(', ')}\n`);
    return;
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(`${dir}-image`, { recursive: true, force: true });
}

// ---- running ----------------------------------------------------------------------------------

let active; // the child being timed, so that a signal can be passed on to it
let interrupted; // the name of the signal that asked us to stop

function onSignal(signal) {
  if (interrupted) {
    // A second signal: stop waiting for the child.
    removeRootfs();
    process.exit(128 + osConstants.signals[signal]);
  }
  interrupted = signal;
  active?.kill(signal); // a Ctrl-C reaches it anyway; a SIGTERM sent to us alone does not
}

class Interrupted extends Error {}

/** Run argv once; resolve with its wall-clock time in ms. Rejects if it does not exit 0. */
function timeOnce(c) {
  if (interrupted) return Promise.reject(new Interrupted());
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(c.argv[0], c.argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: CHILD_ENV });
    active = child;
    let ms;
    let exit;
    const stderr = [];
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', (err) => {
      active = undefined;
      reject(new BenchError(`'${c.name}': cannot start ${c.argv[0]}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      ms = Number(process.hrtime.bigint() - start) / 1e6;
      exit = { code, signal };
      // Wait for stderr to close too (so nothing it left behind overlaps the next run), but not forever.
      setTimeout(() => child.stderr.destroy(), 5000).unref();
    });
    child.on('close', () => {
      active = undefined;
      if (!exit) return; // it never started: 'error' has rejected already
      if (interrupted) return reject(new Interrupted());
      if (exit.code === 0) return resolve(ms);
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
      const text = Buffer.concat(stderr).toString().trimEnd() || '(no stderr)';
      reject(new BenchError(`'${c.name}' ${how}\n  command: ${c.argv.join(' ')}\n  stderr:\n${text}`));
    });
  });
}

/** Round-robin over the cases, each round starting one case further on. Returns samples[case][round]. */
async function measure(cases, { runs, warmup }, progress) {
  const samples = cases.map(() => []);
  for (let round = 0; round < warmup + runs; round++) {
    progress(round < warmup ? `warm-up ${round + 1}/${warmup}` : `round ${round - warmup + 1}/${runs}`);
    for (let k = 0; k < cases.length; k++) {
      const i = (round + k) % cases.length;
      const ms = await timeOnce(cases[i]);
      if (round >= warmup) samples[i].push(ms);
    }
  }
  progress('');
  return samples;
}

// ---- statistics and output --------------------------------------------------------------------

function summarize(cases, samples) {
  const base = samples[0];
  const baseMedian = median(base);
  return cases.map((c, i) => {
    const ms = samples[i];
    return {
      name: c.name,
      argv: c.argv.map((a) => (a === c.rootfs ? '$ROOTFS' : a)),
      samplesMs: ms,
      minMs: Math.min(...ms),
      medianMs: median(ms),
      maxMs: Math.max(...ms),
      ratioOfMedians: median(ms) / baseMedian,
      medianPairedRatio: median(ms.map((t, round) => t / base[round])),
    };
  });
}

function formatTable(results, baseName) {
  const header = ['command', 'min ms', 'median ms', 'max ms', 'median ratio', 'paired ratio'];
  const rows = results.map((r) => [
    r.name,
    r.minMs.toFixed(2),
    r.medianMs.toFixed(2),
    r.maxMs.toFixed(2),
    `${r.ratioOfMedians.toFixed(2)}x`,
    `${r.medianPairedRatio.toFixed(2)}x`,
  ]);
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col].length)));
  const line = (cells) =>
    cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    `(ratios are to '${baseName}': of the medians, and the median of the per-round ratios)`,
  ].join('\n');
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  checkPrerequisites(makeCases('$ROOTFS'));

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', removeRootfs);

  const dir = buildRootfs();
  const { image, store } = buildImage(dir);
  const made = makeCases(dir, image, store).map((c) => ({ ...c, rootfs: dir }));
  const cases = options.baseline ? withBaseline(made, options.baseline) : made;
  const tty = process.stderr.isTTY && !options.json;
  const progress = (text) => tty && process.stderr.write(`\r\x1b[K${text}`);
  if (!options.json) {
    console.log(
      `node ${process.version}, linux ${release()}, ${options.warmup} warm-up + ${options.runs} counted rounds`,
    );
  }

  let samples;
  try {
    samples = await measure(cases, options, progress);
  } finally {
    progress('');
    removeRootfs();
  }

  const results = summarize(cases, samples);
  const builder = results.find((r) => r.name.startsWith('builder run'));
  if (options.json) {
    const out = {
      node: process.version,
      kernel: release(),
      runs: options.runs,
      warmup: options.warmup,
      baseline: results[0].name,
      target: TARGET,
      builderRatio: builder.medianPairedRatio,
      results,
    };
    console.log(JSON.stringify(out, null, 2));
  } else {
    console.log(formatTable(results, results[0].name));
    console.log(`builder run: ${builder.medianPairedRatio.toFixed(2)} x ${results[0].name} (target <= ${TARGET})`);
    const mounts = results.find((r) => r.name === 'builder run, 10 mounts');
    const paired = pairedMedian(mounts.samplesMs, builder.samplesMs);
    console.log(
      `10 mounts: +${(mounts.medianMs - builder.medianMs).toFixed(2)} ms of medians, +${paired.toFixed(2)} ms paired, over no mounts (target <= ${MOUNTS_TARGET_MS})`,
    );
    const privileged = results.find((r) => r.name === 'builder run --privileged /bin/true');
    const confinement = pairedMedian(builder.samplesMs, privileged.samplesMs);
    console.log(
      `confinement: ${signedMs(confinement)} ms paired over --privileged (target <= ${CONFINEMENT_TARGET_MS})`,
    );
    const img = results.find((r) => r.name === 'builder run --image, 5 layers');
    const imgPaired = pairedMedian(img.samplesMs, builder.samplesMs);
    console.log(
      `--image (5 layers, unpacked): +${(img.medianMs - builder.medianMs).toFixed(2)} ms of medians, +${imgPaired.toFixed(2)} ms paired, over --rootfs (target <= ${IMAGE_TARGET_MS})`,
    );
    for (const base of results.filter((r) => r.name.endsWith(' (baseline)'))) {
      const now = results.find((r) => `${r.name} (baseline)` === base.name);
      const change = pairedMedian(now.samplesMs, base.samplesMs);
      console.log(`${now.name}: ${signedMs(change)} ms paired against the baseline checkout`);
    }
    const note = caCertsNote();
    if (note) console.log(note);
  }
}

main().catch((err) => {
  removeRootfs();
  if (err instanceof Interrupted) {
    process.stderr.write(`\nbench: interrupted by ${interrupted}\n`);
    process.exit(128 + osConstants.signals[interrupted]);
  }
  process.stderr.write(`bench: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
