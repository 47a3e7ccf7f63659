import { describe, expect, it } from 'vitest';
import { ImageError, SpecError } from '../src/errors.js';
import { applyImageConfig } from '../src/images/image-config.js';
import { parseImageRef } from '../src/images/image-ref.js';
import { layerCompression, sniffCompression } from '../src/images/media-types.js';

describe('parseImageRef', () => {
  it('parses each transport, with and without a tag', () => {
    expect(parseImageRef('oci:/img/L:base')).toEqual({
      transport: 'oci',
      path: '/img/L',
      tag: 'base',
      text: 'oci:/img/L:base',
    });
    expect(parseImageRef('oci:/img/L')).toEqual({ transport: 'oci', path: '/img/L', text: 'oci:/img/L' });
    expect(parseImageRef('oci-archive:/x.tar:v1')).toMatchObject({
      transport: 'oci-archive',
      path: '/x.tar',
      tag: 'v1',
    });
    expect(parseImageRef('docker-archive:/y.tar')).toEqual({
      transport: 'docker-archive',
      path: '/y.tar',
      text: 'docker-archive:/y.tar',
    });
    expect(parseImageRef('docker-archive:/y.tar:base:latest')).toMatchObject({ path: '/y.tar', ref: 'base:latest' });
    expect(parseImageRef('docker-archive:/y.tar:@1')).toMatchObject({ path: '/y.tar', ref: '@1' });
    expect(parseImageRef('tar:/r.tar.gz')).toEqual({ transport: 'tar', path: '/r.tar.gz', text: 'tar:/r.tar.gz' });
    expect(parseImageRef('dir:/srv/root')).toEqual({ transport: 'dir', path: '/srv/root', text: 'dir:/srv/root' });
  });

  it('takes the whole rest as the path for tar: and dir:', () => {
    expect(parseImageRef('tar:/a:b.tar').path).toBe('/a:b.tar');
    expect(parseImageRef('dir:/a:b').path).toBe('/a:b');
  });

  it('resolves relative paths from cwd', () => {
    expect(parseImageRef('oci:L:base', '/work/here').path).toBe('/work/here/L');
    expect(parseImageRef('tar:../r.tar', '/work/here').path).toBe('/work/r.tar');
    expect(parseImageRef('dir:.', '/srv').path).toBe('/srv');
    expect(parseImageRef('oci:L').path).toBe(`${process.cwd()}/L`);
  });

  it('refuses unknown transports with a suggestion', () => {
    expect(() => parseImageRef('oci-archve:x.tar')).toThrow(SpecError);
    expect(() => parseImageRef('oci-archve:x.tar')).toThrow(
      /unknown image transport "oci-archve" in "oci-archve:x.tar" \(did you mean "oci-archive"\?\): use oci:DIR/,
    );
    expect(() => parseImageRef('docker-archiv:y.tar')).toThrow(/did you mean "docker-archive"/);
    expect(() => parseImageRef('docker://alpine')).toThrow(/unknown image transport "docker"/);
    expect(() => parseImageRef('alpine')).toThrow(/"alpine" has no transport: use oci:DIR\[:TAG\]/);
  });

  it('refuses an empty path, an empty tag, a bad index', () => {
    expect(() => parseImageRef('oci:')).toThrow(/has no path/);
    expect(() => parseImageRef('oci::base')).toThrow(/has no path/);
    expect(() => parseImageRef('dir:')).toThrow(/has no path/);
    expect(() => parseImageRef('oci:/L:')).toThrow(/empty tag/);
    expect(() => parseImageRef('docker-archive:/y.tar:@x')).toThrow(/"@x" is not an image index/);
  });
});

describe('applyImageConfig', () => {
  const config = { Entrypoint: ['/entry'], Cmd: ['sh', '-c', 'true'], Env: ['PATH=/img/bin', 'A=1'], WorkingDir: '/w' };

  it('uses Entrypoint + Cmd, the image env and its working directory when the spec gives none', () => {
    expect(applyImageConfig({ argv: [] }, config)).toEqual({
      argv: ['/entry', 'sh', '-c', 'true'],
      env: ['PATH=/img/bin', 'A=1'],
      cwd: '/w',
    });
  });

  it("replaces Cmd by the spec's argv, keeps Entrypoint, and puts the spec's env after the image's", () => {
    const out = applyImageConfig({ argv: ['ls'], env: ['A=2', 'B'], cwd: '/tmp', rootfs: '/r' }, config);
    expect(out).toEqual({
      argv: ['/entry', 'ls'],
      env: ['PATH=/img/bin', 'A=1', 'A=2', 'B'],
      cwd: '/tmp',
      rootfs: '/r',
    });
  });

  it('defaults cwd to / and leaves env unset when neither has one', () => {
    expect(applyImageConfig({ argv: [] }, { Cmd: ['sh'] })).toEqual({ argv: ['sh'], cwd: '/' });
    expect(applyImageConfig({ argv: ['true'] }, {})).toEqual({ argv: ['true'], cwd: '/' });
  });

  it('refuses a run with no command', () => {
    expect(() => applyImageConfig({ argv: [] }, {})).toThrow(ImageError);
    expect(() => applyImageConfig({ argv: [] }, {})).toThrow(/no command/);
  });

  it('runs root images as root and passes any other User on (run-user.test.ts)', () => {
    for (const User of ['', 'root', '0', '0:0', 'root:root']) {
      expect(applyImageConfig({ argv: ['true'] }, { User }).user).toBeUndefined();
    }
    expect(applyImageConfig({ argv: ['true'] }, { User: 'nobody' }).user).toBe('nobody');
    expect(() => applyImageConfig({ argv: ['true'] }, { User: '1:2:3' })).toThrow(ImageError);
  });
});

describe('media types', () => {
  it('knows the OCI and docker layer types, and nothing else', () => {
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+gzip')).toBe('gzip');
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('zstd');
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar')).toBe('none');
    expect(layerCompression('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('gzip');
    expect(layerCompression('application/vnd.docker.image.rootfs.diff.tar')).toBe('none');
    expect(layerCompression('application/vnd.oci.image.layer.v1.tar+bzip2')).toBeUndefined();
  });

  it('sniffs gzip and zstd magic', () => {
    expect(sniffCompression(Uint8Array.from([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(sniffCompression(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Uint8Array.from([0x2e, 0x2f]))).toBe('none');
    expect(sniffCompression(new Uint8Array())).toBe('none');
  });
});
