import { describe, expect, it } from 'vitest';
import { ImageError } from '../src/errors.js';
import { sniffCompression } from '../src/image/compression.js';
import { layerCompression } from '../src/image/formats/media-types.js';
import { applyImageConfig } from '../src/run/image-config.js';

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
    expect(sniffCompression(Uint8Array.from([0x5e, 0x2a, 0x4d, 0x18]))).toBe('zstd'); // a skippable frame first
    expect(sniffCompression(Uint8Array.from([0x2e, 0x2f]))).toBe('none');
    expect(sniffCompression(new Uint8Array())).toBe('none');
  });
});
