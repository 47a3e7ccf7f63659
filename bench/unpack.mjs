#!/usr/bin/env node
// Layer unpack throughput: builder's unpacker next to GNU tar, on a Debian rootfs tarball.
//
// Cases, each a whole process timed from spawn to exit with process.hrtime.bigint():
//   builder  node bench/unpack-layer.mjs LAYER DEST   (@builder/core/unpack: the layer store's worker
//            thread reading the file and checking its digest, overlay format)
//   GNU tar  tar -xpf LAYER -C DEST / tar -xzpf ...   (as root GNU tar restores owners and modes)
// for a plain `.tar` and a `.tar.gz` of the same tree, into fresh directories on a tmpfs that the
// benchmark mounts (in a private mount namespace: nothing is left mounted, even after a kill -9) and
// on disk (under /var/tmp). All cases run interleaved, round-robin with a rotating start; `sync` runs
// before each (untimed) so one run's dirty pages are not written back during the next. The first
// rounds are warm-up, not counted; the warm-up trees of builder and GNU tar are compared entry by entry
// (type, mode, owner, size, mtime, link target), so a broken unpacker cannot post a good time.
//
// Fresh directories, never delete-then-recreate: on ext4 without a journal, creating files right after
// deleting a big tree is up to 14x slower for minutes (docs/performance.md, "Measuring on this kind of machine"). Disk trees therefore stay until
// the loop is over and are deleted at the end; tmpfs trees are deleted right after their run (untimed;
// tmpfs has no such effect), which keeps the tmpfs small. After a run, wait a few minutes before the
// next one on the same disk.
//
// Output per case: min/median/max seconds, MB/s (10^6 bytes of uncompressed tar per second, median),
// peak RSS (builder: the child's own getrusage maxRSS; GNU tar: VmHWM sampled from /proc every 10 ms,
// gzip's included for .tar.gz), then per filesystem and format the median of the per-round ratios
// builder / GNU tar against the targets, and the same for the unpackLayer call alone (what a process
// that has @builder/core loaded already pays).
//
// Input: --tar FILE (a tar of a root filesystem; GNU tar --numeric-owner --xattrs format is what the
// numbers in docs were taken with). Without --tar, the benchmark makes one: `debootstrap
// --variant=minbase --include=python3,perl bookworm` into the cache directory (needs `apt-get install
// debootstrap` and network; about a minute, once), then GNU tar --numeric-owner --xattrs
// --xattrs-include='*'. The .tar.gz is --tar-gz FILE, or made from the tar with gzip -6 and cached.
//
// Run as root, after `npm run build`:
//   node bench/unpack.mjs --tar /var/tmp/bench/rootfs.tar --tar-gz /var/tmp/bench/rootfs.tar.gz
//   node bench/unpack.mjs --runs 20 --only tar --fs tmpfs       (more rounds; a subset of the cases)
//   node bench/unpack.mjs --json
//   node bench/unpack.mjs --core /path/to/other/packages/core/bundle/unpack.js    (another build)
//   node bench/unpack.mjs --baseline-core /path/to/other/packages/core/bundle/unpack.js   (both, same rounds)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { cpus, constants as osConstants, release, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchError, CHILD_ENV, caCertsNote, findOnPath, median, toCount } from './common.mjs';

const CHILD = fileURLToPath(new URL('./unpack-layer.mjs', import.meta.url));
const CORE_BUNDLE = fileURLToPath(new URL('../packages/core/bundle/unpack.js', import.meta.url));
const TARGET = 1.5; // builder / GNU tar, paired median, per filesystem and format
const GOAL = 1.2;
const RSS_TARGET_MIB = 128;
const RSS_GOAL_MIB = 64;
const DEFAULT_CACHE = '/var/cache/builder-bench';
const SUITE = 'bookworm';
const NS_MARK = 'BUILDER_BENCH_UNPACK_NS';

// ---- options ----------------------------------------------------------------------------------

const USAGE = `usage: node bench/unpack.mjs [options]
  --tar FILE        uncompressed layer/rootfs tarball (default: build a Debian rootfs, see --cache-dir)
  --tar-gz FILE     the same tree gzipped (default: gzip -6 of --tar, cached)
  --runs N          counted rounds (default 10)
  --warmup N        warm-up rounds, not counted; their trees are compared (default 1)
  --only tar|tar.gz one format only (default both)
  --fs tmpfs|disk   one filesystem only (default both)
  --disk-dir DIR    where the disk trees go (default /var/tmp)
  --cache-dir DIR   where a built rootfs tarball is kept (default ${DEFAULT_CACHE})
  --mirror URL      Debian mirror for debootstrap (default: debootstrap's own)
  --core FILE       another build of @builder/core/unpack's bundle (unpack.js) for builder's cases, to
                    compare builds (default: this repository's packages/core/bundle)
  --baseline-core FILE
                    also time that build of unpack.js in the same rounds, and print each builder
                    case's paired change against it
  --json            JSON output
`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      tar: { type: 'string' },
      'tar-gz': { type: 'string' },
      runs: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string' },
      fs: { type: 'string' },
      'disk-dir': { type: 'string', default: '/var/tmp' },
      'cache-dir': { type: 'string', default: DEFAULT_CACHE },
      mirror: { type: 'string' },
      core: { type: 'string' },
      'baseline-core': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const pick = (value, flag, allowed) => {
    if (value === undefined) return allowed;
    if (!allowed.includes(value)) throw new BenchError(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
    return [value];
  };
  return {
    tar: values.tar && resolve(values.tar),
    tarGz: values['tar-gz'] && resolve(values['tar-gz']),
    runs: toCount(values.runs, '--runs', 1),
    warmup: toCount(values.warmup, '--warmup', 0),
    formats: pick(values.only, '--only', ['tar', 'tar.gz']),
    filesystems: pick(values.fs, '--fs', ['tmpfs', 'disk']),
    diskDir: resolve(values['disk-dir']),
    cacheDir: resolve(values['cache-dir']),
    mirror: values.mirror,
    core: values.core && resolve(values.core),
    baselineCore: values['baseline-core'] && resolve(values['baseline-core']),
    json: values.json,
  };
}

// ---- prerequisites ----------------------------------------------------------------------------

function checkPrerequisites(options) {
  const problems = [];
  if (process.getuid?.() !== 0)
    problems.push('must run as root (GNU tar restores owners only as root; mount, debootstrap)');
  if (!existsSync(CORE_BUNDLE)) problems.push(`${CORE_BUNDLE} is missing: run \`npm run build\` first`);
  if (options.core && !existsSync(options.core)) problems.push(`--core ${options.core}: no such file`);
  if (options.baselineCore && !existsSync(options.baselineCore))
    problems.push(`--baseline-core ${options.baselineCore}: no such file`);
  const tarVersion = spawnSync('tar', ['--version'], { encoding: 'utf8' });
  if (tarVersion.error || !/GNU tar/.test(tarVersion.stdout)) problems.push('GNU tar is missing: apt-get install tar');
  for (const bin of ['gzip', 'sync']) if (!findOnPath(bin)) problems.push(`${bin} is missing: apt-get install ${bin}`);
  if (options.filesystems.includes('tmpfs')) {
    for (const bin of ['mount', 'unshare']) {
      if (!findOnPath(bin)) problems.push(`${bin} is missing: apt-get install util-linux`);
    }
  }
  if (options.tar && !existsSync(options.tar)) problems.push(`--tar ${options.tar}: no such file`);
  if (options.tarGz && !existsSync(options.tarGz)) problems.push(`--tar-gz ${options.tarGz}: no such file`);
  if (!options.tar && !options.tarGz && !existsSync(join(options.cacheDir, `${SUITE}-rootfs.tar`))) {
    if (!findOnPath('debootstrap')) {
      problems.push(
        `no --tar given and no cached rootfs in ${options.cacheDir}: building one needs debootstrap (apt-get install debootstrap)`,
      );
    }
  }
  if (problems.length) throw new BenchError(`cannot run the benchmark:\n  ${problems.join('\n  ')}`);
}

// ---- the input --------------------------------------------------------------------------------

function run(argv, what) {
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) throw new BenchError(`${what}: cannot run ${argv[0]}: ${r.error.message}`);
  if (r.status !== 0) throw new BenchError(`${what} failed (${argv.join(' ')}: exit ${r.status ?? r.signal})`);
}

/** A Debian rootfs tarball in the cache directory, built with debootstrap the first time. */
function debianTar(options, say) {
  const tar = join(options.cacheDir, `${SUITE}-rootfs.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(options.cacheDir, { recursive: true, mode: 0o755 });
  const tree = join(options.cacheDir, `${SUITE}-rootfs`);
  rmSync(tree, { recursive: true, force: true });
  say(`building a Debian ${SUITE} rootfs with debootstrap in ${tree} (once; needs network, about a minute)`);
  const argv = ['debootstrap', '--variant=minbase', '--include=python3,perl', SUITE, tree];
  if (options.mirror) argv.push(options.mirror);
  run(argv, 'debootstrap');
  say(`archiving it to ${tar}`);
  const partial = `${tar}.partial`;
  run(
    ['tar', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-cf', partial, '-C', tree, '.'],
    'tar of the rootfs',
  );
  renameSync(partial, tar);
  return tar;
}

/** gzip -6 of `tar`, cached beside it (or in the cache directory) and remade when the tar changes. */
function gzipOf(tar, options, say) {
  const st = statSync(tar);
  const name = `${basename(tar).replace(/\.tar$/, '')}-${st.size}-${Math.trunc(st.mtimeMs)}.tar.gz`;
  const out = join(options.cacheDir, name);
  if (existsSync(out)) return out;
  mkdirSync(options.cacheDir, { recursive: true, mode: 0o755 });
  say(`compressing ${tar} to ${out} (gzip -6, once)`);
  const partial = `${out}.partial`;
  const r = spawnSync('sh', ['-c', 'gzip -6 -c -- "$1" > "$2"', 'sh', tar, partial], { stdio: 'inherit' });
  if (r.status !== 0) throw new BenchError(`gzip of ${tar} failed`);
  renameSync(partial, out);
  return out;
}

/** Size of the uncompressed tar stream (for MB/s). */
function uncompressedSize(file, gz) {
  if (!gz) return statSync(file).size;
  const r = spawnSync('sh', ['-c', 'gzip -dc -- "$1" | wc -c', 'sh', file], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/** `sha256:<hex>` of a file (once per input, before the timed rounds). */
function fileDigest(file) {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return `sha256:${hash.digest('hex')}`;
}

// ---- cases ------------------------------------------------------------------------------------

function makeCases(inputs, options, dirs) {
  const cases = [];
  for (const fs of options.filesystems) {
    for (const format of options.formats) {
      const input = inputs[format];
      // This build's unpacker, and with --baseline-core another build's in the same rounds.
      const builds = [{ suffix: '', core: options.core }];
      if (options.baselineCore) builds.push({ suffix: ' (baseline)', core: options.baselineCore, baseline: true });
      for (const { suffix, core, baseline } of builds)
        cases.push({
          name: `builder ${format} ${fs}${suffix}`,
          tool: 'builder',
          ...(baseline ? { baseline } : {}),
          fs,
          format,
          input,
          root: dirs[fs],
          core,
          argv: (dest) => [process.execPath, CHILD, input.file, dest, 'overlay'],
        });
      cases.push({
        name: `GNU tar ${format} ${fs}`,
        tool: 'gnutar',
        fs,
        format,
        input,
        root: dirs[fs],
        argv: (dest) => ['tar', format === 'tar' ? '-xpf' : '-xzpf', input.file, '-C', dest],
      });
    }
  }
  return cases;
}

// ---- running ----------------------------------------------------------------------------------

let active;
let interrupted;

function onSignal(signal) {
  if (interrupted) process.exit(128 + osConstants.signals[signal]);
  interrupted = signal;
  active?.kill(signal);
}

class Interrupted extends Error {}

/** Peak VmHWM (KiB) of a process tree, sampled: the maximum seen per pid, summed. */
class RssSampler {
  constructor(pid) {
    this.peaks = new Map();
    this.pid = pid;
    this.timer = setInterval(() => this.sample(), 10);
    this.sample();
  }
  sample() {
    for (const pid of this.tree(this.pid)) {
      try {
        const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) this.peaks.set(pid, Math.max(this.peaks.get(pid) ?? 0, Number(m[1])));
      } catch {}
    }
  }
  tree(pid) {
    const out = [pid];
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
        if (kids) for (const k of kids.split(' ')) out.push(...this.tree(Number(k)));
      }
    } catch {}
    return out;
  }
  stop() {
    clearInterval(this.timer);
    let sum = 0;
    for (const v of this.peaks.values()) sum += v;
    return sum;
  }
}

/** One timed run: resolves { seconds, rssKiB, child } (child: builder's JSON line). */
function timeOnce(c, dest) {
  if (interrupted) return Promise.reject(new Interrupted());
  spawnSync('sync');
  const argv = c.argv(dest);
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    // The blob's digest, as an image would give it: the worker checks it while it reads.
    const env =
      c.tool === 'builder'
        ? { ...CHILD_ENV, LAYER_DIGEST: c.input.digest, ...(c.core ? { BUILDER_CORE: c.core } : {}) }
        : CHILD_ENV;
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
    active = child;
    const sampler = c.tool === 'gnutar' ? new RssSampler(child.pid) : undefined;
    const stdout = [];
    const stderr = [];
    let seconds;
    let exit;
    child.stdout.on('data', (d) => stdout.push(d));
    child.stderr.on('data', (d) => stderr.push(d));
    child.on('error', (err) => {
      sampler?.stop();
      active = undefined;
      reject(new BenchError(`'${c.name}': cannot start ${argv[0]}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      seconds = Number(process.hrtime.bigint() - start) / 1e9;
      exit = { code, signal };
      setTimeout(() => child.stderr.destroy(), 5000).unref();
    });
    child.on('close', () => {
      const sampled = sampler?.stop();
      active = undefined;
      if (!exit) return;
      if (interrupted) return reject(new Interrupted());
      const lines = Buffer.concat(stderr).toString().trimEnd().split('\n');
      const err =
        lines.length > 20
          ? [...lines.slice(0, 20), `... (${lines.length - 20} more lines)`].join('\n')
          : lines.join('\n');
      if (exit.code !== 0) {
        const how = exit.signal ? `was killed by ${exit.signal}` : `exited with ${exit.code}`;
        return reject(new BenchError(`'${c.name}' ${how}\n  command: ${argv.join(' ')}\n  stderr:\n${err}`));
      }
      if (c.tool === 'gnutar') return resolve({ seconds, rssKiB: sampled });
      let report;
      try {
        report = JSON.parse(Buffer.concat(stdout).toString());
      } catch {
        return reject(new BenchError(`'${c.name}' printed no report\n  stderr:\n${err}`));
      }
      resolve({ seconds, rssKiB: report.maxRssKiB, child: report });
    });
  });
}

/** Lists every entry below `root` with what must agree between two extractions. */
function describeTree(root) {
  const out = new Map();
  const walk = (rel) => {
    for (const name of readdirSync(join(root, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path), { bigint: true });
      const type = st.mode & 0o170000n;
      const fields = [
        type.toString(8),
        (st.mode & 0o7777n).toString(8),
        st.uid,
        st.gid,
        type === 0o100000n ? st.size : '-',
        st.mtimeNs,
        type === 0o120000n ? readlinkSync(join(root, path)) : '',
        type === 0o20000n ? st.rdev : '',
      ];
      out.set(path, fields.join(' '));
      if (type === 0o40000n) walk(path);
    }
  };
  walk('');
  return out;
}

/** Throws when builder's tree and GNU tar's differ. */
/** Directories the archive lists (the others are made as parents: their times are the extraction's). */
function listedDirs(input, format) {
  const r = spawnSync('tar', [format === 'tar' ? '-tvf' : '-tvzf', input.file], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const dirs = new Set();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('d')) continue;
    const name = line
      .replace(/^(\S+\s+){5}/, '')
      .replace(/^(\.\/)+/, '')
      .replace(/\/+$/, '');
    dirs.add(name);
  }
  return dirs;
}

function compareTrees(builderTree, tarTree, what, input, format) {
  const a = describeTree(builderTree);
  const b = describeTree(tarTree);
  const diffs = [];
  let listed;
  let implicit = 0;
  const isListed = (path) => {
    listed ??= listedDirs(input, format);
    return listed.has(path);
  };
  const sameButTime = (x, y) => x.split(' ').toSpliced(5, 1).join(' ') === y.split(' ').toSpliced(5, 1).join(' ');
  for (const [path, v] of b) {
    if (!a.has(path)) diffs.push(`${path}: missing in builder's tree`);
    else if (a.get(path) !== v) {
      // A directory both made as a parent of listed entries, at slightly different moments.
      if (v.startsWith('40000 ') && sameButTime(a.get(path), v) && !isListed(path)) {
        implicit++;
        continue;
      }
      diffs.push(`${path}: builder '${a.get(path)}', GNU tar '${v}'`);
    }
  }
  for (const path of a.keys()) if (!b.has(path)) diffs.push(`${path}: only in builder's tree`);
  if (diffs.length) {
    throw new BenchError(
      `${what}: builder's tree differs from GNU tar's in ${diffs.length} entries:\n  ${diffs.slice(0, 10).join('\n  ')}`,
    );
  }
  return { entries: b.size, implicit };
}

async function measure(cases, options, progress, say) {
  const samples = cases.map(() => []);
  let seq = 0;
  for (let round = 0; round < options.warmup + options.runs; round++) {
    const warm = round < options.warmup;
    progress(warm ? `warm-up ${round + 1}/${options.warmup}` : `round ${round - options.warmup + 1}/${options.runs}`);
    const trees = new Map();
    for (let k = 0; k < cases.length; k++) {
      const i = (round + k) % cases.length;
      const c = cases[i];
      const dest = join(c.root, `${String(seq++).padStart(4, '0')}-${c.tool}-${c.format}`);
      mkdirSync(dest, { mode: 0o755 });
      const r = await timeOnce(c, dest);
      if (!warm) samples[i].push(r);
      trees.set(c.name, dest);
    }
    if (warm) {
      for (const c of cases) {
        if (c.tool !== 'builder') continue;
        const twin = cases.find((t) => t.tool === 'gnutar' && t.fs === c.fs && t.format === c.format);
        const n = compareTrees(trees.get(c.name), trees.get(twin.name), `${c.format} on ${c.fs}`, c.input, c.format);
        const note = n.implicit ? `; times of ${n.implicit} directories made as parents not compared` : '';
        if (round === 0)
          say(`checked: builder's tree = GNU tar's (${n.entries} entries, ${c.format} on ${c.fs}${note})`);
      }
    }
    // tmpfs trees go now (no ext4 after-delete slowness there, and the tmpfs stays small).
    for (const c of cases) if (c.fs === 'tmpfs') rmSync(trees.get(c.name), { recursive: true, force: true });
  }
  progress('');
  return samples;
}

// ---- statistics and output --------------------------------------------------------------------

function summarize(cases, samples) {
  const results = cases.map((c, i) => {
    const sec = samples[i].map((r) => r.seconds);
    const rss = samples[i].map((r) => r.rssKiB);
    const res = {
      name: c.name,
      tool: c.tool,
      baseline: c.baseline === true,
      fs: c.fs,
      format: c.format,
      samplesSec: sec,
      minSec: Math.min(...sec),
      medianSec: median(sec),
      maxSec: Math.max(...sec),
      mbPerSec: c.input.bytes / 1e6 / median(sec),
      peakRssMiB: Math.max(...rss) / 1024,
    };
    if (c.tool === 'builder') {
      res.unpackSec = samples[i].map((r) => r.child.unpackMs / 1000);
      res.unpackMsMedian = median(res.unpackSec) * 1000;
    }
    return res;
  });
  const pairs = [];
  for (const b of results.filter((r) => r.tool === 'builder')) {
    const t = results.find((r) => r.tool === 'gnutar' && r.fs === b.fs && r.format === b.format);
    const base = b.baseline ? undefined : results.find((r) => r.baseline && r.fs === b.fs && r.format === b.format);
    pairs.push({
      label: `${b.format} ${b.fs}${b.baseline ? ' (baseline)' : ''}`,
      fs: b.fs,
      format: b.format,
      // this build against the baseline build, in the same rounds
      changeSec: base && median(b.samplesSec.map((s, round) => s - base.samplesSec[round])),
      pairedRatio: median(b.samplesSec.map((s, round) => s / t.samplesSec[round])),
      ratioOfMins: b.minSec / t.minSec,
      // unpackLayer alone (no Node start, no module loading) against the whole GNU tar process
      unpackOnlyRatio: median(b.unpackSec.map((s, round) => s / t.samplesSec[round])),
      builderPeakRssMiB: b.peakRssMiB,
    });
  }
  return { results, pairs };
}

function formatTables({ results, pairs }) {
  const table = (header, rows) => {
    const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col].length)));
    const line = (cells) =>
      cells.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
    return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
  };
  const main = table(
    ['case', 'min s', 'median s', 'max s', 'MB/s', 'peak RSS MiB', 'unpackLayer ms'],
    results.map((r) => [
      r.name,
      r.minSec.toFixed(3),
      r.medianSec.toFixed(3),
      r.maxSec.toFixed(3),
      r.mbPerSec.toFixed(0),
      r.peakRssMiB.toFixed(1),
      r.unpackMsMedian === undefined ? '' : r.unpackMsMedian.toFixed(0),
    ]),
  );
  const verdict = (ratio) => (ratio <= GOAL ? 'goal met' : ratio <= TARGET ? 'target met' : 'OVER TARGET');
  const ratios = table(
    [
      'builder / GNU tar',
      'paired median',
      'of mins',
      `target ${TARGET} (goal ${GOAL})`,
      'unpackLayer only',
      'builder peak RSS',
    ],
    pairs.map((p) => [
      p.label,
      `${p.pairedRatio.toFixed(2)}x`,
      `${p.ratioOfMins.toFixed(2)}x`,
      verdict(p.pairedRatio),
      `${p.unpackOnlyRatio.toFixed(2)}x`,
      `${p.builderPeakRssMiB.toFixed(1)} MiB ${p.builderPeakRssMiB <= RSS_GOAL_MIB ? '(goal met)' : p.builderPeakRssMiB <= RSS_TARGET_MIB ? '(target met)' : '(OVER TARGET)'}`,
    ]),
  );
  const changes = pairs
    .filter((p) => p.changeSec !== undefined)
    .map(
      (p) =>
        `\nbuilder ${p.label}: ${p.changeSec >= 0 ? '+' : ''}${(p.changeSec * 1000).toFixed(0)} ms paired against the baseline build`,
    )
    .join('');
  return `${main}\n(times are whole processes: builder's include Node's start and loading @builder/core; GNU tar's peak RSS is sampled)\n\n${ratios}\n(the target is on whole processes, paired by round; "unpackLayer only" is the unpackLayer call against GNU tar's whole process; RSS target ${RSS_TARGET_MIB} MiB, goal ${RSS_GOAL_MIB} MiB)${changes}`;
}

// ---- set-up and clean-up ----------------------------------------------------------------------

const cleanups = [];

function cleanUp() {
  while (cleanups.length) {
    try {
      cleanups.pop()();
    } catch (err) {
      process.stderr.write(`bench: clean-up: ${err.message}\n`);
    }
  }
}

function mountTmpfs(bytes, trees) {
  const dir = mkdtempSync('/tmp/builder-bench-unpack-tmpfs-');
  // One round's trees at a time; files take whole pages, hence the 1.3.
  const size = Math.ceil((bytes * trees * 1.3) / 2 ** 20) + 512;
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}m,mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new BenchError(`cannot mount a tmpfs on ${dir}: ${r.stderr.trim()}`);
  }
  cleanups.push(() => {
    const u = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (u.status !== 0) throw new Error(`umount ${dir}: ${u.stderr.trim()}`);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

function diskRoot(options, bytes, say) {
  mkdirSync(options.diskDir, { recursive: true });
  const dir = mkdtempSync(join(options.diskDir, 'builder-bench-unpack-'));
  cleanups.push(() => {
    say(`deleting the disk trees in ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  });
  const perRound = options.formats.length * 2 * bytes;
  const need = perRound * (options.runs + options.warmup) * 1.1;
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  if (free < need) {
    throw new BenchError(
      `${options.diskDir} has ${(free / 1e9).toFixed(1)} GB free; ${options.runs + options.warmup} rounds need about ${(need / 1e9).toFixed(1)} GB (fewer --runs, or --disk-dir)`,
    );
  }
  return dir;
}

/** Re-run this script inside a private mount namespace, so that its tmpfs cannot outlive it. */
function reexecInMountNamespace() {
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, [NS_MARK]: '1' } },
  );
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (err) => {
    process.stderr.write(`bench: cannot run unshare: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + osConstants.signals[signal]));
}

// ---- main -------------------------------------------------------------------------------------

async function main() {
  const options = parseOptions(process.argv.slice(2));
  checkPrerequisites(options);
  if (options.filesystems.includes('tmpfs') && process.env[NS_MARK] !== '1') {
    reexecInMountNamespace();
    return;
  }
  const say = (text) => process.stderr.write(`bench: ${text}\n`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const tarFile = options.tar ?? (options.tarGz ? undefined : debianTar(options, say));
  const inputs = {};
  if (options.formats.includes('tar')) {
    if (!tarFile) throw new BenchError('the .tar case needs --tar FILE (or neither --tar nor --tar-gz)');
    inputs.tar = { file: tarFile, bytes: statSync(tarFile).size, digest: fileDigest(tarFile) };
  }
  if (options.formats.includes('tar.gz')) {
    const file = options.tarGz ?? gzipOf(tarFile, options, say);
    inputs['tar.gz'] = { file, bytes: uncompressedSize(file, true), digest: fileDigest(file) };
  }
  const bytes = Math.max(...Object.values(inputs).map((i) => i.bytes));

  const dirs = {};
  try {
    if (options.filesystems.includes('tmpfs'))
      dirs.tmpfs = mountTmpfs(bytes, (options.baselineCore ? 3 : 2) * options.formats.length);
    if (options.filesystems.includes('disk')) dirs.disk = diskRoot(options, bytes, say);
    const cases = makeCases(inputs, options, dirs);
    const tty = process.stderr.isTTY && !options.json;
    const progress = (text) => tty && process.stderr.write(`\r\x1b[K${text}`);
    if (!options.json) {
      const inputText = Object.entries(inputs)
        .map(([f, i]) => `${f} ${i.file} (${(i.bytes / 1e6).toFixed(1)} MB uncompressed)`)
        .join(', ');
      console.log(
        `node ${process.version}, linux ${release()}, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${options.warmup} warm-up + ${options.runs} counted rounds\ninput: ${inputText}\ndisk trees in ${dirs.disk ?? '-'}, tmpfs at ${dirs.tmpfs ?? '-'}${options.core ? `\nbuilder: ${options.core}` : ''}`,
      );
      const note = caCertsNote();
      if (note) console.log(note);
    }
    const samples = await measure(cases, options, progress, say);
    const summary = summarize(cases, samples);
    if (options.json) {
      console.log(
        JSON.stringify(
          {
            node: process.version,
            kernel: release(),
            runs: options.runs,
            warmup: options.warmup,
            inputs,
            target: TARGET,
            goal: GOAL,
            rssTargetMiB: RSS_TARGET_MIB,
            rssGoalMiB: RSS_GOAL_MIB,
            ...summary,
          },
          null,
          2,
        ),
      );
    } else {
      console.log(formatTables(summary));
    }
  } finally {
    cleanUp();
  }
  if (dirs.disk && !options.json) {
    console.log('(disk trees were deleted: on ext4 without a journal wait ~7 minutes before the next disk run)');
  }
}

main().catch((err) => {
  cleanUp();
  if (err instanceof Interrupted) {
    process.stderr.write(`\nbench: interrupted by ${interrupted}\n`);
    process.exit(128 + osConstants.signals[interrupted]);
  }
  process.stderr.write(`bench: ${err instanceof BenchError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
