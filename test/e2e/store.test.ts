// The layer store through the CLI: `builder images` and `builder prune` (with --json), progress on a
// terminal and silence when piped, a kill -9 in the middle of a real unpack, concurrent runs of a new
// image. (A run keeping its layers while prune runs: readme-images.test.ts.)
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILDER, builder, startBuilder, waitFor } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { buildUmociImage, EXPECTED_OUTPUT, markedTar, ociImage } from '../helpers/images.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { tool } from '../helpers/tools.js';

let work: string;
let root: string;
let mountsBefore: string;

const oci = () => `oci:${join(work, 'L')}:base`;

const images = async () => {
  const r = await builder(['images', '--root', root, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as { id: string; names: string[]; layers: string[]; size: number }[];
};

const readdirOr = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
const layerDirs = () => readdirOr(join(root, 'layers'));

beforeAll(() => {
  requireRoot();
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-store-'));
  buildUmociImage(work);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'builder-e2e-root-'));
  mountsBefore = mountsUnder(work, root);
});
afterEach(() => {
  expect(mountsUnder(work, root)).toBe(mountsBefore);
  rmSync(root, { recursive: true, force: true });
});

describe('builder images and builder prune', () => {
  it('a later run of a known image moves its last use, by touching its record (not rewriting it)', async () => {
    await builder(['run', '--root', root, '--image', oci()]);
    const [first] = (await images()) as unknown as { id: string; lastUsed: string; created: string }[];
    const record = join(root, 'images', `${first.id.slice('sha256:'.length)}.json`);
    const inode = statSync(record).ino;
    await new Promise((r) => setTimeout(r, 20));
    const r = await builder(['run', '--root', root, '--image', oci()]);
    expect(r.code).toBe(0);
    const [second] = (await images()) as unknown as { lastUsed: string; created: string }[];
    expect(second.lastUsed > first.lastUsed).toBe(true);
    expect(second.created).toBe(first.created);
    expect(statSync(record).ino).toBe(inode);
  });

  it('lists the images runs used, by config digest, with their layers and names', async () => {
    expect(await images()).toEqual([]);
    const r = await builder(['run', '--root', root, '--image', oci()]);
    expect(r.stdout).toBe(EXPECTED_OUTPUT);
    const { id, diffIds } = ociImage(join(work, 'L'));
    const list = await images();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id, names: [oci()], layers: diffIds });
    expect(list[0].size).toBeGreaterThan(1_000_000); // busybox alone is over 1 MB
    // The same image through another transport gains a name; its layers are not unpacked again.
    const before = layerDirs();
    await builder(['run', '--root', root, '--image', `docker-archive:${join(work, 'd.tar')}`]);
    expect(layerDirs()).toEqual(before);
    expect((await images())[0].names.sort()).toEqual([oci(), `docker-archive:${join(work, 'd.tar')}`].sort());

    const table = await builder(['images', '--root', root]);
    expect(table.code).toBe(0);
    const [header, row] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^IMAGE ID +LAYERS +SIZE +LAST USED +NAMES$/);
    expect(row).toMatch(new RegExp(`^${id.slice(7, 19)} +2 +[\\d.]+ MB +\\d+ seconds? ago +`));
  });

  it('prune removes an image whose name moved to a newer one, and --all everything', async () => {
    const layout = join(work, 'L2');
    execFileSync('cp', ['-a', join(work, 'L'), layout]);
    const ref = `oci:${layout}:base`;
    expect((await builder(['run', '--root', root, '--image', ref])).code).toBe(0);
    const old = ociImage(layout).id;
    // A new config under the same tag: a new image with the same layers.
    tool('umoci', ['config', '--image', `${layout}:base`, '--config.env', 'NEW=1']);
    expect((await builder(['run', '--root', root, '--image', ref, '--', 'sh', '-c', 'echo $NEW'])).stdout).toBe('1\n');
    const newer = ociImage(layout).id;
    expect(newer).not.toBe(old);
    const list = await images();
    expect(list.map((i) => [i.id, i.names])).toEqual([
      [newer, [ref]],
      [old, []],
    ]);
    const table = await builder(['images', '--root', root]);
    expect(table.stdout).toContain('<none>');

    const pruned = await builder(['prune', '--root', root, '--json']);
    expect(pruned.code).toBe(0);
    expect(JSON.parse(pruned.stdout)).toEqual({ images: [old], layers: [], bytes: 0, inUse: [] });
    expect((await images()).map((i) => i.id)).toEqual([newer]);
    expect(layerDirs()).toHaveLength(2); // the newer image still needs both

    const all = await builder(['prune', '--root', root, '--all']);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^Removed 1 image and 2 layers, [\d.]+ MB freed\n$/);
    expect(await images()).toEqual([]);
    expect(layerDirs()).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('a corrupted layer blob is one error line naming the image and the layer; nothing of it is kept', async () => {
    const layout = join(work, 'L-corrupt');
    execFileSync('cp', ['-a', join(work, 'L'), layout]);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const blob = (d: string) => join(layout, 'blobs/sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const top = manifest.layers[1].digest as string;
    const data = readFileSync(blob(top));
    data[data.length - 10] ^= 0xff; // same size, other bytes
    writeFileSync(blob(top), data);
    const ref = `oci:${layout}:base`;
    const r = await builder(['run', '--root', root, '--image', ref, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(new RegExp(`^Error: ${ref}: layer ${top}: .*(digest mismatch|cannot be read).*\n$`));
    expect(layerDirs()).toHaveLength(1); // the bottom layer, which is fine
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('an empty or missing store lists nothing and prunes nothing', async () => {
    const missing = join(root, 'nothing-here');
    expect(JSON.parse((await builder(['images', '--root', missing, '--json'])).stdout)).toEqual([]);
    const p = await builder(['prune', '--root', missing]);
    expect(p.stdout).toBe('Removed 0 images and 0 layers, 0 B freed\n');
    expect(existsSync(missing)).toBe(false);
  });
});

/** A rootfs tarball with busybox and `count` small files under /d, made by GNU tar. */
function bigTar(count: number): string {
  const dir = join(work, `big-${count}`);
  const file = `${dir}.tar`;
  if (existsSync(file)) return file;
  const bb = makeBusyboxRootfs();
  try {
    execFileSync('cp', ['-a', `${bb.path}/.`, dir]);
    mkdirSync(join(dir, 'd'));
    const body = 'x'.repeat(2000);
    for (let i = 0; i < count; i++) writeFileSync(join(dir, 'd', String(i)), body);
    execFileSync('tar', ['-cf', file, '-C', dir, '.']);
  } finally {
    bb.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  return file;
}

/** Wait until the unpacker has written part of the layer (under /d) into tmp/. */
function unpackUnderWay(): Promise<true> {
  return waitFor(
    'the unpack to be under way',
    () => {
      const tmp = join(root, 'tmp');
      const dirs = existsSync(tmp) ? readdirSync(tmp) : [];
      const d = dirs.length ? join(tmp, dirs[0], 'diff', 'd') : '';
      return d && existsSync(d) && readdirSync(d).length > 100 ? true : undefined;
    },
    60_000,
  );
}

describe('unpacking', () => {
  it('kill -9 in the middle of a real unpack leaves no layer; the next run cleans up and succeeds', async () => {
    const tar = bigTar(40_000);
    const { child, done } = startBuilder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'true']);
    await unpackUnderWay();
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    expect(layerDirs()).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toHaveLength(1); // the half layer, never visible as a layer

    const again = await builder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'sh', '-c', 'ls /d | wc -l']);
    expect(again.stderr).toBe('');
    expect(again.stdout.trim()).toBe('40000');
    expect(again.code).toBe(0);
    expect(layerDirs()).toHaveLength(1);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  }, 180_000);

  it('Ctrl-C during an unpack stops it: exit 130, one line, no layer and no temp directory left', async () => {
    const tar = bigTar(40_000);
    const { child, done } = startBuilder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'true']);
    await unpackUnderWay();
    child.kill('SIGINT');
    const r = await done;
    expect(r.stderr).toBe('Error: interrupted by SIGINT\n');
    expect(r.code).toBe(130);
    expect(layerDirs()).toEqual([]);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(readdirSync(join(root, 'runs'))).toEqual([]);
  }, 120_000);

  it('two concurrent CLI runs of a new image both succeed and unpack it once', async () => {
    // Compressed: its diffID is known only once it is unpacked, so the runs meet on the blob's digest.
    const tar = `${bigTar(5_000)}.gz`;
    if (!existsSync(tar)) execFileSync('gzip', ['-k', tar.slice(0, -3)]);
    // The test holds the layer's unpack lock until both runs have registered: they then both wait for
    // it, and the one that gets it second must find the layer the first unpacked.
    const digest = execFileSync('sha256sum', [tar]).toString().slice(0, 64);
    mkdirSync(join(root, 'locks'), { recursive: true });
    const holder = spawn('flock', [join(root, 'locks', `${digest}.unpack`), 'sh', '-c', 'echo held; read x'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const argv = [
      'run',
      '--root',
      root,
      '--log-level',
      'debug',
      '--image',
      `tar:${tar}`,
      '--',
      'sh',
      '-c',
      'ls /d | wc -l',
    ];
    const a = startBuilder(argv);
    const b = startBuilder(argv);
    await waitFor(
      'both runs to register',
      () => (readdirOr(join(root, 'runs')).length === 2 ? true : undefined),
      30_000,
    );
    holder.stdin.end();
    const results = await Promise.all([a.done, b.done]);
    for (const r of results) {
      expect(r.stderr).not.toMatch(/ (ERROR|WARN) /);
      expect(r.stdout.trim()).toBe('5000');
      expect(r.code).toBe(0);
    }
    // One of the two unpacked it; the store's debug log says so once, in all.
    const unpacks = results.flatMap((r) => r.stderr.split('\n').filter((l) => l.includes(' layer unpacked ')));
    expect(unpacks).toHaveLength(1);
    expect(layerDirs()).toHaveLength(1);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    // The blob's diffID is remembered: a third run finds the layer without unpacking it again.
    const [layer] = layerDirs();
    const ino = statSync(join(root, 'layers', layer)).ino;
    const r = await builder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'true']);
    expect(r.code).toBe(0);
    expect(readdirSync(join(root, 'blobs'))).toHaveLength(1);
    expect(statSync(join(root, 'layers', layer)).ino).toBe(ino);
  }, 180_000);

  it('shows progress per layer on a terminal, and nothing when stderr is piped', async () => {
    const tar = bigTar(5_000);
    const typescript = join(root, 'typescript');
    const command = [process.execPath, BUILDER, 'run', '--root', root, '--image', `tar:${tar}`, '--', 'true'].join(' ');
    // script(1) gives the CLI a terminal; its output is what the terminal showed.
    execFileSync('script', ['-qec', command, typescript], { stdio: 'ignore' });
    const shown = readFileSync(typescript, 'utf8');
    expect(shown).toMatch(/Unpacking layer 1\/1 [0-9a-f]{12} \[[#-]{24}\] [\d.]+ \/ [\d.]+ MiB/);
    expect(shown).toMatch(/Unpacked {2}layer 1\/1 [0-9a-f]{12} [\d.]+ MiB in [\d.]+s\r?\n/);
    // Piped (as every other test here runs it): nothing on stderr.
    rmSync(join(root, 'layers'), { recursive: true });
    rmSync(join(root, 'blobs'), { recursive: true });
    const piped = await builder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'true']);
    expect(piped.stderr).toBe('');
    expect(piped.code).toBe(0);
  }, 120_000);
});

describe('tar: sources', () => {
  const marker = async (tar: string) => {
    const r = await builder(['run', '--root', root, '--image', `tar:${tar}`, '--', 'cat', '/marker']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.trim();
  };
  const records = () =>
    readdirSync(join(root, 'files')).map((f) => JSON.parse(readFileSync(join(root, 'files', f), 'utf8')));

  it("a tarball's digest is remembered with the file's identity: unchanged, it is not read again; changed, it is", async () => {
    const one = markedTar(work, 'one');
    const two = markedTar(work, 'two');
    expect(await marker(one)).toBe('one');
    expect(await marker(two)).toBe('two');
    const sha = (f: string) => `sha256:${execFileSync('sha256sum', [f], { encoding: 'utf8' }).slice(0, 64)}`;
    const byPath = new Map(records().map((r) => [r.path, r]));
    expect(byPath.get(one)?.digest).toBe(sha(one));
    expect(byPath.get(two)?.digest).toBe(sha(two));

    // Point one's record at two's digest: a run that trusts the record runs two's layer.
    const oneRecord = readdirSync(join(root, 'files')).find((f) =>
      readFileSync(join(root, 'files', f), 'utf8').includes(`"${one}"`),
    ) as string;
    const forged = { ...byPath.get(one), digest: sha(two) };
    writeFileSync(join(root, 'files', oneRecord), JSON.stringify(forged));
    expect(await marker(one)).toBe('two');

    // Any change to the file moves its ctime: the record no longer matches, the file is hashed again.
    const now = new Date();
    execFileSync('touch', ['-d', now.toISOString(), one]);
    expect(await marker(one)).toBe('one');
    expect(new Map(records().map((r) => [r.path, r])).get(one)?.digest).toBe(sha(one));

    // prune drops the records of files that are gone.
    rmSync(two);
    const p = await builder(['prune', '--root', root]);
    expect(p.code).toBe(0);
    expect(records().map((r) => r.path)).toEqual([one]);
  }, 120_000);
});
