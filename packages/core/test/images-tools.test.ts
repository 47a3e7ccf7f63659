// Images made by real tools (umoci, skopeo, GNU tar), read with the image readers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors.js';
import type { ImageLayer, ImageManifest, OpenImage } from '../src/image/formats/image.js';
import { openDockerArchive, openOciArchive, openOciLayout, openRootfsTar } from '../src/image/formats/open-image.js';

/** `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]` with the format readers. */
function openImage(text: string): Promise<OpenImage> {
  const [transport, path, ...rest] = text.split(':');
  const suffix = rest.length ? rest.join(':') : undefined;
  if (transport === 'oci') return openOciLayout(path, suffix, text);
  if (transport === 'oci-archive') return openOciArchive(path, suffix, text);
  if (transport === 'docker-archive') return openDockerArchive(path, suffix, text);
  throw new Error(`no reader for ${text}`);
}

async function withImage<T>(text: string, fn: (image: ImageManifest) => Promise<T>): Promise<T> {
  const image = await openImage(text);
  try {
    return await fn(image);
  } finally {
    await image.close();
  }
}

function requireTool(tool: string, pkg = tool): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is needed by this test: apt-get install -y ${pkg}`);
  }
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function decompress(layer: ImageLayer, blob: Buffer): Buffer {
  if (layer.compression === 'gzip') return gunzipSync(blob);
  if (layer.compression === 'zstd') return execFileSync('zstd', ['-dcq'], { input: blob });
  return blob;
}

let work: string;
let layout: string;
let ociArchive: string;
let dockerArchive: string;
/** The config's diff_ids and the layer digests, read straight from umoci's layout. */
let expectedDiffIds: string[];
let expectedDigests: string[];

beforeAll(() => {
  requireTool('umoci');
  requireTool('skopeo');
  requireTool('tar');
  requireTool('zstd');
  work = mkdtempSync(join(tmpdir(), 'images-tools-'));
  layout = join(work, 'L');
  const bundle = join(work, 'bundle');
  const rootfs = join(bundle, 'rootfs');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:base`]);
  // Layer 1: files, directories.
  run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/hello'), 'hello\n');
  writeFileSync(join(rootfs, 'gone'), 'to be deleted\n');
  mkdirSync(join(rootfs, 'dir2file/sub'), { recursive: true });
  writeFileSync(join(rootfs, 'dir2file/sub/x'), 'x\n');
  mkdirSync(join(rootfs, 'opaque'));
  writeFileSync(join(rootfs, 'opaque/a'), 'a\n');
  writeFileSync(join(rootfs, 'opaque/b'), 'b\n');
  run('umoci', ['repack', '--image', `${layout}:base`, bundle]);
  rmSync(bundle, { recursive: true });
  // Layer 2: a deletion, a directory replaced by a file, a directory emptied, a hard link.
  run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
  rmSync(join(rootfs, 'gone'));
  rmSync(join(rootfs, 'dir2file'), { recursive: true });
  writeFileSync(join(rootfs, 'dir2file'), 'now a file\n');
  rmSync(join(rootfs, 'opaque/a'));
  rmSync(join(rootfs, 'opaque/b'));
  run('ln', [join(rootfs, 'etc/hello'), join(rootfs, 'etc/hello-link')]);
  run('umoci', ['repack', '--image', `${layout}:base`, bundle]);
  run('umoci', [
    'config',
    '--image',
    `${layout}:base`,
    '--config.env',
    'A=1',
    '--config.cmd',
    'sh',
    '--config.workingdir',
    '/w',
  ]);
  // Conversions with skopeo, under a permissive policy of our own.
  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  ociArchive = join(work, 'X.tar');
  dockerArchive = join(work, 'Y.tar');
  run('skopeo', ['--policy', policy, 'copy', '-q', `oci:${layout}:base`, `oci-archive:${ociArchive}:base`]);
  run('skopeo', [
    '--policy',
    policy,
    'copy',
    '-q',
    `oci:${layout}:base`,
    `docker-archive:${dockerArchive}:base:latest`,
  ]);
  // What umoci wrote, read by hand.
  const blob = (d: string) => readFileSync(join(layout, 'blobs/sha256', d.slice('sha256:'.length)), 'utf8');
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(blob(index.manifests[0].digest));
  const config = JSON.parse(blob(manifest.config.digest));
  expectedDiffIds = config.rootfs.diff_ids;
  expectedDigests = manifest.layers.map((l: { digest: string }) => l.digest);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function checkImage(m: ImageManifest): Promise<void> {
  expect(m.layers).toHaveLength(2);
  expect(m.layers.map((l) => l.diffId)).toEqual(expectedDiffIds);
  for (const layer of m.layers) {
    const blob = await readAll(layer.open());
    expect(blob.length).toBe(layer.size);
    expect(sha(blob)).toBe(layer.digest);
    expect(sha(decompress(layer, blob))).toBe(layer.diffId);
  }
  expect(m.config.Env).toContain('A=1');
  expect(m.config.Cmd).toEqual(['sh']);
  expect(m.config.WorkingDir).toBe('/w');
  expect(m.config.Entrypoint ?? []).toEqual([]);
}

describe('images made by umoci and skopeo', () => {
  it('reads the OCI layout umoci wrote', async () => {
    const m = await withImage(`oci:${layout}:base`, async (m) => {
      await checkImage(m);
      return m;
    });
    expect(m.layers.map((l) => l.digest)).toEqual(expectedDigests);
    expect(m.layers.every((l) => l.compression === 'gzip')).toBe(true);
    expect(m.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
  });

  it('reads the only manifest of a layout without a tag', async () => {
    await withImage(`oci:${layout}`, checkImage);
  });

  it('reads the oci-archive skopeo wrote, and removes its temp directory', async () => {
    const tmp = mkdtempSync(join(work, 'tmp-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const image = await openImage(`oci-archive:${ociArchive}:base`);
      expect(readdirSync(tmp)).toHaveLength(1);
      try {
        await checkImage(image);
        expect(image.layers.map((l) => l.digest)).toEqual(expectedDigests);
      } finally {
        await image.close();
      }
      expect(readdirSync(tmp)).toEqual([]);
      // A failure removes it too.
      await expect(openImage(`oci-archive:${ociArchive}:nope`)).rejects.toThrow(ImageError);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('reads the docker-archive skopeo wrote (by tag, by index, alone)', async () => {
    for (const ref of ['', ':base:latest', ':base', ':@0']) {
      const m = await withImage(`docker-archive:${dockerArchive}${ref}`, async (m) => {
        await checkImage(m);
        return m;
      });
      // skopeo stores docker-archive layers uncompressed: the blob is the diff.
      expect(m.layers.map((l) => l.digest)).toEqual(expectedDiffIds);
      expect(m.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
    }
  });

  it('names the available tags for a tag that is not there', async () => {
    await expect(openImage(`oci:${layout}:nope`)).rejects.toThrow(/oci:.*: no such tag "nope" \(available: base\)/);
    await expect(openImage(`docker-archive:${dockerArchive}:other`)).rejects.toThrow(
      /no such tag "other" \(available: docker.io\/library\/base:latest\)/,
    );
    await expect(openImage(`docker-archive:${dockerArchive}:@3`)).rejects.toThrow(/no image @3/);
  });

  it('fails at the end of a corrupted layer blob with a digest mismatch (OCI layout)', async () => {
    const copy = join(work, 'L-corrupt');
    cpSync(layout, copy, { recursive: true });
    const file = join(copy, 'blobs/sha256', expectedDigests[1].slice('sha256:'.length));
    const data = readFileSync(file);
    data[data.length - 10] ^= 0xff;
    writeFileSync(file, data);
    const image = await openImage(`oci:${copy}:base`);
    await readAll(image.layers[0].open());
    await expect(readAll(image.layers[1].open())).rejects.toThrow(
      new RegExp(`layer ${expectedDigests[1]}: digest mismatch: expected ${expectedDigests[1]}, got sha256:`),
    );
    // A truncated blob is found by its size when the image is opened.
    writeFileSync(file, data.subarray(0, data.length - 1));
    await expect(openImage(`oci:${copy}:base`)).rejects.toThrow(/size mismatch/);
    rmSync(file);
    await expect(openImage(`oci:${copy}:base`)).rejects.toThrow(/missing .*ENOENT/);
  });

  it('fails at the end of a corrupted layer blob with a digest mismatch (docker-archive)', async () => {
    const dir = join(work, 'Y-corrupt');
    mkdirSync(dir);
    run('tar', ['-xf', dockerArchive, '-C', dir]);
    const layerFile = join(dir, `${expectedDiffIds[0].slice('sha256:'.length)}.tar`);
    const data = readFileSync(layerFile);
    data[600] ^= 0xff;
    writeFileSync(layerFile, data);
    const corrupt = join(work, 'Y-corrupt.tar');
    run('tar', ['-cf', corrupt, '-C', dir, '.']);
    await withImage(`docker-archive:${corrupt}`, async (image) => {
      await expect(readAll(image.layers[0].open())).rejects.toThrow(/digest mismatch/);
      await readAll(image.layers[1].open());
    });
  });

  it('reports a layout without oci-layout, bad JSON, and a file that is not an archive', async () => {
    const copy = join(work, 'L-broken');
    cpSync(layout, copy, { recursive: true });
    writeFileSync(join(copy, 'index.json'), '{"manifests": [');
    await expect(openImage(`oci:${copy}`)).rejects.toThrow(/index\.json: bad JSON/);
    rmSync(join(copy, 'oci-layout'));
    await expect(openImage(`oci:${copy}`)).rejects.toThrow(/not an OCI image layout: missing .*oci-layout/);
    const notTar = join(work, 'not.tar');
    writeFileSync(notTar, 'hello, this is not a tar archive at all'.repeat(20));
    await expect(openImage(`oci-archive:${notTar}`)).rejects.toThrow(/is not a readable tar archive/);
    await expect(openImage(`docker-archive:${join(work, 'missing.tar')}`)).rejects.toThrow(
      /missing .*missing\.tar \(ENOENT\)/,
    );
    await expect(openImage(`docker-archive:${ociArchive}`)).rejects.toThrow(
      /not a docker archive: missing .*manifest\.json/,
    );
  });

  it('follows a nested index to the manifest for this machine', async () => {
    const copy = join(work, 'L-nested');
    cpSync(layout, copy, { recursive: true });
    const index = JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8'));
    const manifest = { ...index.manifests[0], annotations: undefined };
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const other = { ...manifest, digest: `sha256:${'0'.repeat(64)}`, platform: { os: 'linux', architecture: 'mips' } };
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [other, { ...manifest, platform: { os: 'linux', architecture: arch } }],
      }),
    );
    writeFileSync(join(copy, 'blobs/sha256', sha(nested).slice('sha256:'.length)), nested);
    index.manifests = [
      {
        mediaType: 'application/vnd.oci.image.index.v1+json',
        digest: sha(nested),
        size: nested.length,
        annotations: { 'org.opencontainers.image.ref.name': 'multi' },
      },
    ];
    writeFileSync(join(copy, 'index.json'), JSON.stringify(index));
    await withImage(`oci:${copy}:multi`, checkImage);
  });

  it('reads the OCI-layout variant of docker-archive (blobs/sha256 paths in manifest.json)', async () => {
    const dir = join(work, 'oci-in-docker');
    mkdirSync(dir);
    run('tar', ['-xf', ociArchive, '-C', dir]);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const blob = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
    const manifest = JSON.parse(readFileSync(join(dir, blob(index.manifests[0].digest)), 'utf8'));
    const entry = {
      Config: blob(manifest.config.digest),
      RepoTags: ['base:latest'],
      Layers: manifest.layers.map((l: { digest: string }) => blob(l.digest)),
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([entry]));
    const archive = join(work, 'oci-in-docker.tar');
    run('tar', ['-cf', archive, '-C', dir, '.']);
    await withImage(`docker-archive:${archive}:base`, async (m) => {
      await checkImage(m);
      expect(m.layers.map((l) => l.digest)).toEqual(expectedDigests);
      expect(m.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    });
  });

  it('reads rootfs tarballs made by tar, plain, gzip and zstd, as one-layer images', async () => {
    const src = join(work, 'rootfs-src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/hostname'), 'box\n');
    const plain = join(work, 'r.tar');
    run('tar', ['-cf', plain, '-C', src, '.']);
    const diffId = sha(readFileSync(plain));
    run('sh', ['-c', `gzip -kc ${plain} > ${plain}.gz && zstd -q -f ${plain} -o ${plain}.zst`]);
    for (const [file, compression] of [
      [plain, 'none'],
      [`${plain}.gz`, 'gzip'],
      [`${plain}.zst`, 'zstd'],
    ] as const) {
      const m = await openRootfsTar(file, `tar:${file}`);
      try {
        expect(m.layers).toHaveLength(1);
        expect(m.layers[0].compression).toBe(compression);
        // A compressed tarball's diffID is learnt by unpacking it (the store remembers it by digest).
        expect(m.layers[0].diffId).toBe(compression === 'none' ? diffId : undefined);
        const blob = await readAll(m.layers[0].open());
        expect(sha(blob)).toBe(m.layers[0].digest);
        expect(sha(decompress(m.layers[0], blob))).toBe(diffId);
        expect(m.config).toEqual({});
        expect(m.id).toBeUndefined();
      } finally {
        await m.close();
      }
    }
  });
});
