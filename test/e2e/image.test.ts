// `builder run --image`: images made by umoci and converted by skopeo, unpacked once into the layer
// store and run on an overlay of their layers. Every store here is the test's own (--root).
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine, type Logger } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { buildUmociImage, EXPECTED_OUTPUT as EXPECTED } from '../helpers/images.js';

let work: string;
let mountsBefore: string;

beforeAll(() => {
  requireRoot();
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-image-'));
  buildUmociImage(work);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => expect(mountsUnder(work)).toBe(mountsBefore));

describe('builder run --image', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'builder-e2e-root-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  for (const ref of ['oci:L:base', 'oci-archive:a.tar:base', 'docker-archive:d.tar']) {
    it(`runs ${ref}: layers in order, whiteouts applied, the image config used`, async () => {
      const [transport, path, ...tag] = ref.split(':');
      const r = await run(undefined, [], ['--root', root, '--image', [transport, join(work, path), ...tag].join(':')]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(EXPECTED);
      expect(r.code).toBe(0);
    });
  }

  it('runs the given command instead of the image Cmd, with the image Env and an -e on top', async () => {
    const r = await run(
      undefined,
      ['sh', '-c', 'echo $GREETING $EXTRA; grep " / " /proc/self/mountinfo'],
      ['--root', root, '--image', `oci:${join(work, 'L')}:base`, '-e', 'EXTRA=more'],
    );
    expect(r.stdout).toMatch(/^hello more\n.* - overlay overlay /);
    expect(r.stdout).toContain(`lowerdir=${join(root, 'layers')}/`);
  });

  it('refuses an unknown transport and a missing tag with one line', async () => {
    const a = await run(undefined, ['true'], ['--root', root, '--image', `ocii:${join(work, 'L')}`]);
    expect(a.code).toBe(125);
    expect(a.stderr).toMatch(/^Error: unknown image transport "ocii".*did you mean "oci"\?.*\n$/);
    const b = await run(undefined, ['true'], ['--root', root, '--image', `oci:${join(work, 'L')}:nope`]);
    expect(b.code).toBe(125);
    expect(b.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.stderr).toContain('nope');
  });
});

describe('the layer store', () => {
  let root: string;
  let engine: Engine;
  /** The layers the store said it unpacked (its debug events), by digest. */
  let unpacked: string[];
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'builder-e2e-store-'));
    unpacked = [];
    engine = await createEngine({ root, logger: countUnpacks((digest) => unpacked.push(digest)) });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function runQuiet(image: string): Promise<string> {
    const out = join(root, `out-${Math.random().toString(16).slice(2)}`);
    const fd = openSync(out, 'w');
    try {
      const r = await engine.run({ image, argv: [] }, { stdio: ['ignore', fd, fd] });
      expect(r.exitCode).toBe(0);
      return readFileSync(out, 'utf8');
    } finally {
      closeSync(fd);
      rmSync(out);
    }
  }

  it('unpacks each layer once, and leaves nothing in its tmp', async () => {
    expect(await runQuiet(`oci:${join(work, 'L')}:base`)).toBe(EXPECTED);
    const layers = readdirSync(join(root, 'layers'));
    expect(layers).toHaveLength(2);
    const inodes = layers.map((l) => statSync(join(root, 'layers', l)).ino);
    // The same layers again, from another transport: nothing is unpacked twice.
    expect(await runQuiet(`docker-archive:${join(work, 'd.tar')}`)).toBe(EXPECTED);
    expect(readdirSync(join(root, 'layers')).map((l) => statSync(join(root, 'layers', l)).ino)).toEqual(inodes);
    expect(unpacked).toHaveLength(2);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('two concurrent runs of a new image both succeed and unpack each layer once', async () => {
    const outs = await Promise.all([runQuiet(`oci:${join(work, 'L')}:base`), runQuiet(`oci:${join(work, 'L')}:base`)]);
    expect(outs).toEqual([EXPECTED, EXPECTED]);
    expect(readdirSync(join(root, 'layers'))).toHaveLength(2);
    expect(unpacked).toHaveLength(2);
    expect(new Set(unpacked).size).toBe(2);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('removes what a killed unpacker left, and recovers', async () => {
    // A half-written layer from a run that was killed: it sits in tmp, never in layers.
    mkdirSync(join(root, 'tmp'), { recursive: true });
    const index = JSON.parse(readFileSync(join(work, 'L/index.json'), 'utf8'));
    const manifest = JSON.parse(
      readFileSync(join(work, 'L/blobs/sha256', index.manifests[0].digest.split(':')[1]), 'utf8'),
    );
    const config = JSON.parse(readFileSync(join(work, 'L/blobs/sha256', manifest.config.digest.split(':')[1]), 'utf8'));
    const hex = config.rootfs.diff_ids[0].split(':')[1];
    const stale = join(root, 'tmp', `${hex}-killed`);
    mkdirSync(join(stale, 'diff/half'), { recursive: true });
    expect(await runQuiet(`oci:${join(work, 'L')}:base`)).toBe(EXPECTED);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });
});

/** A Logger that reports each 'layer unpacked' event of the store, and drops everything else. */
function countUnpacks(onUnpack: (digest: string) => void): Logger {
  const logger: Logger = {
    error: () => {},
    warn: () => {},
    info: () => {},
    debug: (message, meta) => {
      if (message === 'layer unpacked') onUnpack(String(meta?.digest));
    },
    child: () => logger,
  };
  return logger;
}
