// The RootfsSource contribution point: the registry that maps a reference's transport to its source,
// and sourcePath, which sources use to read `PATH[:SUFFIX]`.
import { Container, injectable } from 'inversify';
import { describe, expect, it } from 'vitest';
import {
  type RootfsSource,
  rootfsSourceModule,
  type SourceContext,
  sourcePath,
} from '../src/contributions/rootfs-source.js';
import { RootfsSourceRegistry } from '../src/contributions/rootfs-source-registry.js';
import { PluginError, SpecError } from '../src/errors.js';

class EchoSource implements RootfsSource {
  readonly transport = 'echo';
  readonly usage = 'DIR';
  readonly description = 'the directory itself';
  async open(reference: string, ctx: SourceContext) {
    return { rootfs: sourcePath(reference, ctx, false).path };
  }
}

class OtherEchoSource extends EchoSource {}

class TaggedSource implements RootfsSource {
  readonly transport = 'tagged';
  readonly usage = 'DIR[:TAG]';
  readonly description = 'a directory and a tag';
  async open(reference: string, ctx: SourceContext) {
    const { path, suffix } = sourcePath(reference, ctx, true);
    return { rootfs: `${path}#${suffix ?? ''}` };
  }
}

// Decorators as calls: the test transform does not lower decorator syntax.
injectable()(EchoSource);
injectable()(OtherEchoSource);
injectable()(TaggedSource);

function registry(...classes: (new () => RootfsSource)[]): RootfsSourceRegistry {
  const c = new Container();
  for (const cls of classes) c.load(rootfsSourceModule(cls));
  c.bind(RootfsSourceRegistry).toSelf();
  return c.get(RootfsSourceRegistry);
}

describe('RootfsSourceRegistry', () => {
  it('opens a reference with the source of its transport, relative paths from cwd', async () => {
    const r = registry(EchoSource, TaggedSource);
    expect(await r.open('echo:/srv/root')).toEqual({ rootfs: '/srv/root' });
    expect(await r.open('echo:root', '/srv')).toEqual({ rootfs: '/srv/root' });
    expect(await r.open('echo:/a:b')).toEqual({ rootfs: '/a:b' });
    expect(await r.open('tagged:../L:v1', '/srv/x')).toEqual({ rootfs: '/srv/L#v1' });
    expect(r.list().map((s) => s.transport)).toEqual(['echo', 'tagged']);
  });

  it('names the known transports for a reference without one, or with an unknown one', () => {
    const r = registry(EchoSource, TaggedSource);
    expect(() => r.find('alpine')).toThrow(SpecError);
    expect(() => r.find('alpine')).toThrow(
      'image reference "alpine" has no transport: use echo:DIR or tagged:DIR[:TAG]',
    );
    expect(() => r.find('ech:/x')).toThrow(
      'unknown image transport "ech" in "ech:/x" (did you mean "echo"?): use echo:DIR or tagged:DIR[:TAG]',
    );
    expect(() => registry().find('x:y')).toThrow('use (no source is loaded)');
  });

  it('refuses two sources of one transport, and a transport that is not a plain word', () => {
    expect(() => registry(EchoSource, OtherEchoSource)).toThrow(PluginError);
    expect(() => registry(EchoSource, OtherEchoSource)).toThrow(
      'image transport "echo" is contributed twice: by EchoSource and by OtherEchoSource',
    );
    class Bad extends EchoSource {
      override readonly transport = 'Bad:x';
    }
    injectable()(Bad);
    expect(() => registry(Bad)).toThrow(/"Bad:x" must be lower-case letters/);
  });
});

describe('sourcePath', () => {
  const ctx = (text: string) => ({ text, cwd: '/here' });
  it('splits PATH[:SUFFIX] and names the reference with the absolute path', () => {
    expect(sourcePath('L:base', ctx('oci:L:base'), true)).toEqual({
      path: '/here/L',
      suffix: 'base',
      name: 'oci:/here/L:base',
    });
    expect(sourcePath('d.tar:name:tag', ctx('docker-archive:d.tar:name:tag'), true)).toMatchObject({
      path: '/here/d.tar',
      suffix: 'name:tag',
    });
    expect(sourcePath('/x:y', ctx('tar:/x:y'), false)).toEqual({ path: '/x:y', name: 'tar:/x:y' });
  });

  it('refuses an empty path, an empty suffix and a NUL', () => {
    expect(() => sourcePath('', ctx('oci:'), true)).toThrow('image reference "oci:" has no path');
    expect(() => sourcePath(':base', ctx('oci::base'), true)).toThrow(/has no path/);
    expect(() => sourcePath('L:', ctx('oci:L:'), true)).toThrow('image reference "oci:L:" has an empty tag after ":"');
    expect(() => sourcePath('a\0b', ctx('dir:a\0b'), false)).toThrow(/NUL/);
  });
});
