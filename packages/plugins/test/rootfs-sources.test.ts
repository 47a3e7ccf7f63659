// The built-in rootfs sources: how each reads its reference. Opening real images is tested with
// images made by umoci and skopeo in core's tests and end to end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine, ImageError, RootfsSourceRegistry, SpecError } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let engine: Engine;
let sources: RootfsSourceRegistry;
let empty: string;
beforeAll(async () => {
  engine = await createEngine();
  sources = engine.container.get(RootfsSourceRegistry);
  empty = mkdtempSync(join(tmpdir(), 'builder-sources-'));
});
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function failure(text: string, cwd = '/'): Promise<Error> {
  try {
    await sources.open(text, cwd);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${text}: expected an error`);
}

describe('built-in rootfs sources', () => {
  it('contributes oci, oci-archive, docker-archive, tar and dir', () => {
    expect(engine.sources().map((s) => `${s.transport}:${s.usage} (${s.origin})`)).toEqual([
      'dir:DIR (@builder/plugins)',
      'docker-archive:FILE[:NAME:TAG|:@N] (@builder/plugins)',
      'oci:DIR[:TAG] (@builder/plugins)',
      'oci-archive:FILE[:TAG] (@builder/plugins)',
      'tar:FILE (@builder/plugins)',
    ]);
  });

  it('dir: is a root filesystem directory, the whole rest being the path', async () => {
    expect(await sources.open('dir:/srv/root')).toEqual({ rootfs: '/srv/root' });
    expect(await sources.open('dir:a:b', '/w')).toEqual({ rootfs: '/w/a:b' });
  });

  it('oci: takes a tag after the path; a missing layout is an ImageError naming the absolute path', async () => {
    const err = await failure('oci:L:base', empty);
    expect(err).toBeInstanceOf(ImageError);
    expect(err.message).toMatch(/^oci:L:base: not an OCI image layout/);
    expect(err.message).toContain(join(empty, 'L', 'oci-layout'));
    expect(await failure('oci:L:', empty)).toBeInstanceOf(SpecError);
  });

  it('docker-archive: takes NAME:TAG or @N, and refuses @ followed by anything else', async () => {
    const err = await failure('docker-archive:d.tar:@x', empty);
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('image reference "docker-archive:d.tar:@x": "@x" is not an image index (use @0, @1, …)');
    expect(await failure('docker-archive:d.tar:@1', empty)).toBeInstanceOf(ImageError);
  });

  it('tar: takes the whole rest as the file, and names it when it is missing', async () => {
    const err = await failure('tar:x:y.tar', empty);
    expect(err).toBeInstanceOf(ImageError);
    expect(err.message).toContain(join(empty, 'x:y.tar'));
  });
});
