// What README.md and docs/ promise about images, the layer store, the library and the config file,
// checked where a user sees it: `--image dir:DIR`, the writes of an --image run thrown away (the layers
// untouched), `builder images` (--no-trunc, --json), `builder sources`, the config file's "root",
// "runroot" and "plugins" (through $BUILDER_CONFIG, and the default /etc/builder/config.json in a private
// mount namespace), engine.images() / prune() / the progress callback, a run after `prune --all`, and
// a layer in use surviving a prune.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type LayerProgress } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder, startBuilder, waitFor } from '../helpers/cli.js';
import { builderWith, builderWithEtcBuilder } from '../helpers/config.js';
import { mountsUnder, requireRoot, runrootLeftovers } from '../helpers/host.js';
import { buildUmociImage, EXPECTED_OUTPUT, markedTar, ociImage } from '../helpers/images.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { requireTools, tool } from '../helpers/tools.js';
import { diffTrees, walkTree } from '../helpers/tree.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/plugin-layers-dir', import.meta.url));
const HOST_STORE = '/var/lib/builder';

/** Our scratch directory (images, configs), and each test's own store and scratch. */
let work: string;
let root: string;
let scratch: string;
let mountsBefore: string;
let etcBuilderBefore: boolean;

const layout = () => join(work, 'L');
const oci = () => `oci:${layout()}:base`;

beforeAll(() => {
  requireRoot();
  requireTools('umoci', 'skopeo', 'tar', 'unshare', 'mkfifo');
  etcBuilderBefore = existsSync('/etc/builder');
  work = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-readme-images-')));
  buildUmociImage(work);
}, 120_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  // Nothing here ever writes the host's /etc.
  expect(existsSync('/etc/builder')).toBe(etcBuilderBefore);
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'builder-e2e-readme-root-'));
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-readme-scratch-')));
  mountsBefore = mountsUnder(work, root, scratch);
});
afterEach(() => {
  expect(mountsUnder(work, root, scratch)).toBe(mountsBefore);
  rmSync(root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** `builder ARGS…` that must succeed with nothing on stderr; its stdout. */
async function ok(args: string[]): Promise<string> {
  const r = await builder(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

type ImageRow = { id: string; names: string[]; layers: string[]; size: number; created: string; lastUsed: string };

const imagesJson = async (store: string): Promise<ImageRow[]> =>
  JSON.parse(await ok(['images', '--root', store, '--json']));

/** The layer directories of a store (chainID hex names). */
const layerDirs = (store: string): string[] =>
  existsSync(join(store, 'layers')) ? readdirSync(join(store, 'layers')).sort() : [];

/** The host's default store has none of these layers and no record of this image. */
function notInHostStore(id: string, layers: string[]): void {
  expect(existsSync(join(HOST_STORE, 'images', `${id.slice('sha256:'.length)}.json`))).toBe(false);
  for (const key of layers) expect(existsSync(join(HOST_STORE, 'layers', key))).toBe(false);
}

/** The super options of the mount on / in a mountinfo text (the container's root), as key=value. */
function rootMountOptions(mountinfo: string): Record<string, string> {
  const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === '/');
  expect(line, mountinfo).toBeDefined();
  const [fstype, , options] = (line as string).split(' - ')[1].split(' ');
  expect(fstype).toBe('overlay');
  return Object.fromEntries(
    options.split(',').map((o) => {
      const i = o.indexOf('=');
      return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 1)];
    }),
  );
}

describe('--image dir:DIR', () => {
  it('runs on the directory: the command sees its files, its writes reach the directory, the store gets nothing', async () => {
    const bb = makeBusyboxRootfs(['etc']);
    try {
      writeFileSync(join(bb.path, 'etc/marker'), 'from the directory\n');
      const r = await ok([
        'run',
        '--root',
        root,
        '--image',
        `dir:${bb.path}`,
        '--',
        'sh',
        '-c',
        'cat /etc/marker; echo written > /etc/out; rm /etc/marker',
      ]);
      expect(r).toBe('from the directory\n');
      // As --rootfs DIR (which `builder sources` says it is): the writes are the directory's.
      expect(readFileSync(join(bb.path, 'etc/out'), 'utf8')).toBe('written\n');
      expect(existsSync(join(bb.path, 'etc/marker'))).toBe(false);
      // A relative DIR is taken from the current directory.
      const rel = await builderWith(
        ['run', '--root', root, '--image', `dir:./${bb.path.split('/').at(-1)}`, '--', 'cat', '/etc/out'],
        { cwd: dirname(bb.path) },
      );
      expect(rel.stderr).toBe('');
      expect(rel.stdout).toBe('written\n');
      expect(rel.code).toBe(0);
      // Nothing to unpack: no image, no layer.
      expect(await imagesJson(root)).toEqual([]);
      expect(layerDirs(root)).toEqual([]);
    } finally {
      bb.remove();
    }
  });
});

describe('the writes of an --image run', () => {
  it('are thrown away: the next run sees the image as it is, and the layer directories are unchanged', async () => {
    expect(await ok(['run', '--root', root, '--image', oci(), '--', 'cat', '/etc/greeting'])).toBe('v2\n');
    const layers = join(root, 'layers');
    const before = walkTree(layers);
    const write = [
      'echo changed > /etc/greeting',
      'echo new > /etc/new-file',
      'rm -r /etc/keep',
      'mkdir -p /data/more && echo x > /data/more/y',
      'cat /etc/greeting /etc/new-file',
      'ls /etc',
    ].join('; ');
    expect(await ok(['run', '--root', root, '--image', oci(), '--', 'sh', '-c', write])).toBe(
      'changed\nnew\ngreeting\nhostname\nhosts\nnew-file\nresolv.conf\n',
    );
    expect(diffTrees(before, walkTree(layers))).toEqual([]);
    // The next run: the image's files, none of the last run's changes.
    expect(await ok(['run', '--root', root, '--image', oci()])).toBe(EXPECTED_OUTPUT);
    expect(
      await ok(['run', '--root', root, '--image', oci(), '--', 'sh', '-c', 'ls /etc/new-file /data/more 2>&1; true']),
    ).toMatch(/^ls: \/etc\/new-file: No such file or directory\nls: \/data\/more: No such file or directory\n$/);
    expect(diffTrees(before, walkTree(layers))).toEqual([]);
  });
});

describe('builder images', () => {
  it('has the columns IMAGE ID (12 hex digits), LAYERS, SIZE, LAST USED, NAMES; --no-trunc shows full IDs; --json every field', async () => {
    const tar = markedTar(work, 'images');
    await ok(['run', '--root', root, '--image', oci(), '--', 'true']);
    await ok(['run', '--root', root, '--image', `tar:${tar}`, '--', 'true']);
    const { id, diffIds } = ociImage(layout());
    const json = await imagesJson(root);
    // Most recently used first: the tarball, then the OCI image.
    expect(json).toHaveLength(2);
    expect(json[0].names).toEqual([`tar:${tar}`]);
    expect(json[1]).toMatchObject({ id, names: [oci()], layers: diffIds });
    for (const image of json) {
      expect(Object.keys(image).sort()).toEqual(['created', 'id', 'lastUsed', 'layers', 'names', 'size']);
      expect(image.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(Date.parse(image.lastUsed)).toBeGreaterThanOrEqual(Date.parse(image.created));
      expect(image.size).toBeGreaterThan(1_000_000); // busybox alone is over 1 MB
    }
    expect(json[0].layers).toHaveLength(1);

    const rows = (text: string) => text.trimEnd().split('\n');
    const cells = (row: string) => row.split(/ {2,}/);
    const table = rows(await ok(['images', '--root', root]));
    expect(table[0]).toMatch(/^IMAGE ID +LAYERS +SIZE +LAST USED +NAMES$/);
    expect(table).toHaveLength(3);
    for (const [i, image] of json.entries()) {
      const [shortId, count, size, lastUsed, names] = cells(table[i + 1]);
      expect(shortId).toBe(image.id.slice('sha256:'.length, 'sha256:'.length + 12));
      expect(count).toBe(String(image.layers.length));
      const [, number, unit] = size.match(/^([\d.]+) (B|kB|MB|GB)$/) ?? [];
      const scale = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[unit] as number;
      expect(Math.abs(Number(number) * scale - image.size) / image.size).toBeLessThan(0.01);
      expect(lastUsed).toMatch(/^\d+ (seconds?|minutes?) ago$/);
      expect(names).toBe(image.names.join(', '));
    }

    const full = rows(await ok(['images', '--root', root, '--no-trunc']));
    expect(full[0]).toMatch(/^IMAGE ID +LAYERS +SIZE +LAST USED +NAMES$/);
    expect(full.slice(1).map((r) => cells(r)[0])).toEqual(json.map((i) => i.id));
    // The same images, the same LAYERS, SIZE and NAMES (LAST USED moves on with the clock).
    const rest = (row: string) => cells(row).filter((_, i) => i !== 0 && i !== 3);
    expect(full.slice(1).map(rest)).toEqual(table.slice(1).map(rest));
    for (const row of full.slice(1)) expect(cells(row)[3]).toMatch(/^\d+ (seconds?|minutes?) ago$/);
  });
});

describe('builder sources', () => {
  const BUILTIN: Record<string, string> = {
    dir: 'dir:DIR',
    'docker-archive': 'docker-archive:FILE[:NAME:TAG|:@N]',
    oci: 'oci:DIR[:TAG]',
    'oci-archive': 'oci-archive:FILE[:TAG]',
    tar: 'tar:FILE',
  };

  it('lists the built-in transports (oci, oci-archive, docker-archive, tar, dir) with their plugin, as a table and as JSON', async () => {
    const json = JSON.parse(await ok(['sources', '--json'])) as {
      transport: string;
      usage: string;
      description: string;
      origin: string;
    }[];
    expect(json.map((s) => s.transport).sort()).toEqual(Object.keys(BUILTIN).sort());
    for (const s of json) {
      expect(Object.keys(s).sort()).toEqual(['description', 'origin', 'transport', 'usage']);
      expect(s.origin).toBe('@builder/plugins');
      expect(`${s.transport}:${s.usage}`).toBe(BUILTIN[s.transport]);
      expect(s.description).not.toBe('');
    }
    const lines = (await ok(['sources'])).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TRANSPORT +REFERENCE +ORIGIN +DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/ {2,}/))).toEqual(
      json.map((s) => [s.transport, `${s.transport}:${s.usage}`, s.origin, s.description]),
    );
  });
});

describe('the config file', () => {
  it('"root": the layer store is there, for run, images and prune without --root', async () => {
    const store = join(scratch, 'store');
    const config = join(scratch, 'config.json');
    writeFileSync(config, JSON.stringify({ root: store }));
    const r = await builderWith(['run', '--image', oci()], { config });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(EXPECTED_OUTPUT);
    expect(r.code).toBe(0);
    const { id, diffIds } = ociImage(layout());
    expect(layerDirs(store)).toHaveLength(2);
    expect(existsSync(join(store, 'images', `${id.slice(7)}.json`))).toBe(true);
    notInHostStore(id, layerDirs(store));

    const images = await builderWith(['images', '--json'], { config });
    expect(images.stderr).toBe('');
    expect(JSON.parse(images.stdout)).toEqual([expect.objectContaining({ id, layers: diffIds, names: [oci()] })]);

    const pruned = await builderWith(['prune', '--all', '--json'], { config });
    expect(pruned.stderr).toBe('');
    expect(JSON.parse(pruned.stdout)).toMatchObject({ images: [id], inUse: [] });
    expect(JSON.parse(pruned.stdout).layers.sort()).toEqual([...diffIds].sort());
    expect(layerDirs(store)).toEqual([]);
  });

  it('"runroot": the run\'s scratch space (the upper layer of its root) is under it, and nothing stays mounted', async () => {
    const runroot = join(scratch, 'runroot');
    const config = join(scratch, 'config.json');
    writeFileSync(config, JSON.stringify({ runroot }));
    for (const flags of [['--image', oci(), '--root', root], []]) {
      // While the command runs, its own mount table: the root is an overlay whose upper layer and work
      // directory are on the stage's tmpfs at the runroot.
      const r = await builderWith(['run', ...flags, '--', 'cat', '/proc/self/mountinfo'], { config });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const options = rootMountOptions(r.stdout);
      expect(options.upperdir).toBe(join(runroot, 'upper'));
      expect(options.workdir).toBe(join(runroot, 'work'));
      if (flags.length)
        expect(options.lowerdir.split(':')[0]).toMatch(new RegExp(`^${root}/layers/[0-9a-f]{64}/diff$`));
      else expect(options.lowerdir).toBe('/');
    }
    // The stage made the directory on the host; its tmpfs was its own namespace's.
    expect(statSync(runroot).isDirectory()).toBe(true);
    expect(runrootLeftovers(runroot)).toEqual([]);
  });

  it('"plugins": a path relative to the file loads the plugin (builder sources lists it, a run uses it)', async () => {
    const confDir = join(scratch, 'conf');
    mkdirSync(confDir);
    cpSync(FIXTURE, join(confDir, 'builder-plugin-layers-dir'), { recursive: true });
    const config = join(confDir, 'config.json');
    writeFileSync(config, JSON.stringify({ plugins: ['./builder-plugin-layers-dir'] }));
    const layers = join(scratch, 'my-layers');
    mkdirSync(layers);
    const bb = makeBusyboxRootfs(['etc']);
    try {
      writeFileSync(join(bb.path, 'etc/hello'), 'hello through the config file\n');
      tool('tar', ['-cf', join(layers, '1-base.tar'), '-C', bb.path, '.']);
    } finally {
      bb.remove();
    }
    // From another directory: the path is the file's, not the current directory's.
    const sources = await builderWith(['sources', '--json'], { config, cwd: scratch });
    expect(sources.stderr).toBe('');
    expect(JSON.parse(sources.stdout)).toContainEqual(
      expect.objectContaining({ transport: 'layers', origin: join(confDir, 'builder-plugin-layers-dir') }),
    );
    const r = await builderWith(['run', '--root', root, '--image', `layers:${layers}`, '--', 'cat', '/etc/hello'], {
      config,
      cwd: scratch,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello through the config file\n');
    expect(r.code).toBe(0);
    // Without the config file, the transport is unknown.
    const without = await builderWith(['run', '--root', root, '--image', `layers:${layers}`, '--', 'true']);
    expect(without.code).toBe(125);
    expect(without.stderr).toMatch(/^Error: unknown image transport "layers"/);
  });

  it('without $BUILDER_CONFIG, /etc/builder/config.json is read: its root, runroot and plugins (relative to /etc/builder)', async () => {
    const store = join(scratch, 'store');
    const runroot = join(scratch, 'runroot');
    const etcBuilder = join(scratch, 'etc-builder');
    mkdirSync(etcBuilder);
    cpSync(FIXTURE, join(etcBuilder, 'plugin'), { recursive: true });
    writeFileSync(join(etcBuilder, 'config.json'), JSON.stringify({ root: store, runroot, plugins: ['./plugin'] }));
    const ns = join(scratch, 'ns');
    mkdirSync(ns);

    const sources = await builderWithEtcBuilder(etcBuilder, ns, ['sources', '--json']);
    expect(sources.stderr).toBe('');
    expect(sources.code).toBe(0);
    expect(JSON.parse(sources.stdout)).toContainEqual(
      expect.objectContaining({ transport: 'layers', origin: '/etc/builder/plugin' }),
    );

    const r = await builderWithEtcBuilder(etcBuilder, ns, [
      'run',
      '--image',
      oci(),
      '--',
      'cat',
      '/proc/self/mountinfo',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const options = rootMountOptions(r.stdout);
    expect(options.upperdir).toBe(join(runroot, 'upper'));
    expect(options.lowerdir.split(':')[0]).toMatch(new RegExp(`^${store}/layers/[0-9a-f]{64}/diff$`));
    const { id, diffIds } = ociImage(layout());
    expect(layerDirs(store)).toHaveLength(2);
    notInHostStore(id, layerDirs(store));

    const images = await builderWithEtcBuilder(etcBuilder, ns, ['images', '--json']);
    expect(images.stderr).toBe('');
    expect(JSON.parse(images.stdout)).toEqual([expect.objectContaining({ id, layers: diffIds })]);
    // The namespace is gone with builder: the host's /etc never had the file.
    const hostFile = '/etc/builder/config.json';
    expect(existsSync(hostFile) ? readFileSync(hostFile, 'utf8') : '').not.toContain(store);
    expect(readdirSync(ns)).toEqual([]);
  });
});

describe('the library', () => {
  /** engine.run with the command's output in a file; the exit status and the output. */
  async function runQuiet(
    engine: Awaited<ReturnType<typeof createEngine>>,
    argv: string[],
    progress?: (p: LayerProgress) => void,
  ): Promise<string> {
    const out = join(scratch, `out-${Math.random().toString(16).slice(2)}`);
    const fd = openSync(out, 'w');
    try {
      const r = await engine.run({ image: oci(), argv }, { stdio: ['ignore', fd, fd], progress });
      expect(r).toEqual({ exitCode: 0, signal: null });
      return readFileSync(out, 'utf8');
    } finally {
      closeSync(fd);
    }
  }

  it('engine.images() lists what `builder images --json` lists for the same root', async () => {
    const engine = await createEngine({ root });
    expect(engine.images()).toEqual([]);
    expect(await runQuiet(engine, [])).toBe(EXPECTED_OUTPUT);
    await ok(['run', '--root', root, '--image', `tar:${markedTar(work, 'library')}`, '--', 'true']);
    const listed = engine.images();
    expect(listed).toHaveLength(2);
    expect(listed.map(({ config: _config, ...rest }) => rest)).toEqual(await imagesJson(root));
    const { id } = ociImage(layout());
    expect(listed.find((i) => i.id === id)?.config).toMatchObject({ Env: expect.arrayContaining(['GREETING=hello']) });
  });

  it('engine.prune() removes what it says, and the layers are gone from disk', async () => {
    const engine = await createEngine({ root });
    await runQuiet(engine, ['true']);
    const { id, diffIds } = ociImage(layout());
    const keys = layerDirs(root);
    expect(keys).toHaveLength(2);
    // The image has its name: a plain prune keeps it and its layers.
    expect(await engine.prune()).toEqual({ images: [], layers: [], bytes: 0, inUse: [] });
    expect(layerDirs(root)).toEqual(keys);
    const sizes = keys.map((k) => JSON.parse(readFileSync(join(root, 'layers', k, 'layer.json'), 'utf8')).size);
    const result = await engine.prune({ all: true });
    expect(result.images).toEqual([id]);
    expect([...result.layers].sort()).toEqual([...diffIds].sort());
    expect(result.bytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(result.inUse).toEqual([]);
    expect(layerDirs(root)).toEqual([]);
    expect(engine.images()).toEqual([]);
    expect(await imagesJson(root)).toEqual([]);
  });

  it('engine.run(spec, { progress }) tells each layer: index/count, unpacking, then done; cached on the next run', async () => {
    const engine = await createEngine({ root });
    const { diffIds } = ociImage(layout());
    const first: LayerProgress[] = [];
    expect(await runQuiet(engine, ['cat', '/etc/greeting'], (p) => first.push({ ...p }))).toBe('v2\n');
    expect(first.every((p) => p.count === 2)).toBe(true);
    expect([...new Set(first.map((p) => p.index))]).toEqual([1, 2]);
    for (const index of [1, 2]) {
      const events = first.filter((p) => p.index === index);
      expect(events[0].phase).toBe('unpacking');
      expect(events.at(-1)).toMatchObject({ phase: 'done', diffId: diffIds[index - 1] });
      expect(events.at(-1)?.bytes).toBe(events.at(-1)?.total);
      expect(events.slice(0, -1).every((p) => p.phase === 'unpacking')).toBe(true);
      expect(events.filter((p) => p.phase === 'done')).toHaveLength(1);
    }
    const second: LayerProgress[] = [];
    expect(await runQuiet(engine, ['cat', '/etc/greeting'], (p) => second.push({ ...p }))).toBe('v2\n');
    expect(second.map((p) => [p.index, p.count, p.phase, p.diffId])).toEqual([
      [1, 2, 'cached', diffIds[0]],
      [2, 2, 'cached', diffIds[1]],
    ]);
  });
});

describe('prune', () => {
  it('after prune --all, a run reads the image again: its layers are unpacked anew, the output is right', async () => {
    /** A run with the engine's debug log: its output, and how many layers it unpacked. */
    const runCounting = async () => {
      const r = await builder(['run', '--root', root, '--log-level', 'debug', '--image', oci()]);
      expect(r.code).toBe(0);
      return { stdout: r.stdout, unpacked: r.stderr.split('\n').filter((l) => l.includes(' layer unpacked ')).length };
    };
    expect(await runCounting()).toEqual({ stdout: EXPECTED_OUTPUT, unpacked: 2 });
    expect(await runCounting()).toEqual({ stdout: EXPECTED_OUTPUT, unpacked: 0 });
    const keys = layerDirs(root);
    expect(keys).toHaveLength(2);
    expect(await ok(['prune', '--root', root, '--all'])).toMatch(
      /^Removed 1 image and 2 layers, [\d.]+ [kM]?B freed\n$/,
    );
    expect(layerDirs(root)).toEqual([]);
    expect(await imagesJson(root)).toEqual([]);

    expect(await runCounting()).toEqual({ stdout: EXPECTED_OUTPUT, unpacked: 2 });
    expect(layerDirs(root)).toEqual(keys);
    expect((await imagesJson(root)).map((i) => i.id)).toEqual([ociImage(layout()).id]);
  });

  it('never removes a layer a running command uses: prune lists it as in use, the command still reads its files', async () => {
    const gate = join(scratch, 'gate');
    mkdirSync(gate);
    const fifo = join(gate, 'go');
    execFileSync('mkfifo', [fifo]);
    // The command says it started, then blocks on the FIFO until the test lets it go: no sleeps.
    const running = startBuilder([
      'run',
      '--root',
      root,
      '--image',
      oci(),
      '-v',
      `${gate}:/gate`,
      '--',
      'sh',
      '-c',
      'echo started; read line < /gate/go; echo "$line"; cat /etc/greeting /data/dir',
    ]);
    const { diffIds } = ociImage(layout());
    // If a check fails while the command waits, it must not outlive the test.
    let released = false;
    try {
      await waitFor('the command to start', () => (running.out().includes('started') ? true : undefined), 60_000);
      const keys = layerDirs(root);
      expect(keys).toHaveLength(2);

      const pruned = JSON.parse(await ok(['prune', '--root', root, '--all', '--json']));
      expect(pruned.layers).toEqual([]);
      expect(pruned.bytes).toBe(0);
      expect([...pruned.inUse].sort()).toEqual([...diffIds].sort());
      expect(layerDirs(root)).toEqual(keys);
      const table = await ok(['prune', '--root', root, '--all']);
      expect(table).toMatch(/; 2 layers in use kept\n$/);

      // Let the command go on (once its shell has the FIFO open for reading).
      const fd = await waitFor('the command to wait on the FIFO', () => {
        try {
          return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
          throw err;
        }
      });
      writeSync(fd, 'go\n');
      closeSync(fd);
      released = true;
    } finally {
      if (!released) {
        running.child.kill('SIGKILL'); // the stage and the command die with it
        await running.done;
      }
    }
    const r = await running.done;
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('started\ngo\nv2\nfile\n');
    expect(r.code).toBe(0);
    // Once it is over, the layers can go.
    const after = JSON.parse(await ok(['prune', '--root', root, '--all', '--json']));
    expect([...after.layers].sort()).toEqual([...diffIds].sort());
    expect(layerDirs(root)).toEqual([]);
  });
});
