// A third-party rootfs source: test/fixtures/plugin-layers-dir, copied outside any project and loaded
// with --plugin PATH, as a user would load a plugin they wrote. It contributes the `layers:` transport
// (a directory of layer tarballs made here by GNU tar), and the engine unpacks and runs its layers.
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { tool } from '../helpers/tools.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/plugin-layers-dir', import.meta.url));

let scratch: string;
let plugin: string;
let layers: string;
let root: string;
let mountsBefore: string;

beforeAll(() => {
  requireRoot();
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-source-plugin-')));
  plugin = join(scratch, 'builder-plugin-layers-dir');
  cpSync(FIXTURE, plugin, { recursive: true });
  root = join(scratch, 'store');
  // Two layers: busybox and /etc/old, then /etc/hello and a whiteout of /etc/old (gzip).
  layers = join(scratch, 'my-layers');
  mkdirSync(layers);
  const bb = makeBusyboxRootfs(['etc'], scratch);
  try {
    writeFileSync(join(bb.path, 'etc/old'), 'old\n');
    tool('tar', ['-cf', join(layers, '1-base.tar'), '-C', bb.path, '.']);
  } finally {
    bb.remove();
  }
  const top = join(scratch, 'top');
  mkdirSync(join(top, 'etc'), { recursive: true });
  writeFileSync(join(top, 'etc/hello'), 'hello from a plugin\n');
  writeFileSync(join(top, 'etc/.wh.old'), '');
  tool('tar', ['-czf', join(layers, '2-top.tar.gz'), '-C', top, '.']);
  writeFileSync(
    join(layers, 'config.json'),
    JSON.stringify({ Env: ['GREETING=hi'], Cmd: ['sh', '-c', 'echo $GREETING'] }),
  );
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
beforeEach(() => {
  mountsBefore = mountsUnder(scratch);
});
afterEach(() => expect(mountsUnder(scratch)).toBe(mountsBefore));

describe('a third-party rootfs source, loaded by path', () => {
  it('is listed with its origin by builder sources', async () => {
    const r = await builder(['sources', '--json', '--plugin', plugin]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toContainEqual({
      transport: 'layers',
      usage: 'DIR',
      description: 'a directory of layer tarballs (name order, bottom first) and an optional config.json',
      origin: plugin,
    });
  });

  it('gives the image a run uses: its layers stacked, its whiteout applied, its config', async () => {
    const image = `layers:${layers}`;
    const r = await builder(['run', '--root', root, '--plugin', plugin, '--image', image]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hi\n');
    const ls = await builder([
      'run',
      '--root',
      root,
      '--plugin',
      plugin,
      '--image',
      image,
      '--',
      'sh',
      '-c',
      'cat /etc/hello; ls /etc',
    ]);
    // With the run's generated hostname, hosts and resolv.conf.
    expect(ls.stdout).toBe('hello from a plugin\nhello\nhostname\nhosts\nresolv.conf\n');
    expect(ls.code).toBe(0);
    const list = JSON.parse((await builder(['images', '--root', root, '--json'])).stdout);
    expect(list).toHaveLength(1);
    expect(list[0].names).toEqual([image]);
    expect(list[0].layers).toHaveLength(2);
  });

  it("reports the source's own errors as one line, exit 125", async () => {
    const r = await builder([
      'run',
      '--root',
      root,
      '--plugin',
      plugin,
      '--image',
      'layers:/nonexistent',
      '--',
      'true',
    ]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('Error: layers:/nonexistent: cannot read the directory (ENOENT)\n');
  });

  it('without the plugin, the transport is unknown', async () => {
    const r = await builder(['run', '--root', root, '--image', `layers:${layers}`, '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^Error: unknown image transport "layers" in "layers:.*": use dir:DIR, .*tar:FILE\n$/);
  });
});
