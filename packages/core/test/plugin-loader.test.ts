// How plugins are found: paths from the current directory (directories as packages), package names
// from the current directory first. The fixtures only need a default export with a load() method.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PluginError } from '../src/errors.js';
import { loadPlugin } from '../src/plugins/plugin-loader.js';

let dir: string;
const cwd = process.cwd();

/** A module whose default export looks like a ContainerModule, tagged with `id`. */
const moduleSource = (id: string) => `export default { id: ${JSON.stringify(id)}, load() {} };\n`;

function write(path: string, content: string) {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), content);
}

beforeAll(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'builder-plugins-')));
  write('file-plugin.mjs', moduleSource('file'));
  write('list-plugin.mjs', `export default [{ load() {} }, { load() {} }];\n`);
  write('not-a-plugin.mjs', 'export default 42;\n');
  write('broken-dep.mjs', `import 'no-such-dependency-of-a-plugin';\nexport default { load() {} };\n`);
  // Directories as packages: exports for import only, main, index.js, nothing.
  write(
    'dir-exports/package.json',
    JSON.stringify({ type: 'module', exports: { '.': { import: './esm.js', require: './cjs.cjs' } } }),
  );
  write('dir-exports/esm.js', moduleSource('dir-exports'));
  write('dir-main/package.json', JSON.stringify({ type: 'module', main: 'lib/entry.js' }));
  write('dir-main/lib/entry.js', moduleSource('dir-main'));
  write('dir-index/package.json', JSON.stringify({ type: 'module' }));
  write('dir-index/index.js', moduleSource('dir-index'));
  write('dir-empty/package.json', '{}');
  // Packages installed in the project.
  write(
    'project/node_modules/plain-plugin/package.json',
    JSON.stringify({ name: 'plain-plugin', type: 'module', main: 'index.js' }),
  );
  write('project/node_modules/plain-plugin/index.js', moduleSource('plain'));
  write(
    'project/node_modules/@acme/esm-plugin/package.json',
    JSON.stringify({
      name: '@acme/esm-plugin',
      type: 'module',
      exports: { '.': { import: './main.js' }, './extra': { import: './extra.js' } },
    }),
  );
  write('project/node_modules/@acme/esm-plugin/main.js', moduleSource('esm'));
  write('project/node_modules/@acme/esm-plugin/extra.js', moduleSource('esm-extra'));
  mkdirSync(join(dir, 'project/src/deep'), { recursive: true });
});
afterEach(() => process.chdir(cwd));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const idOf = async (ref: string) => ((await loadPlugin(ref)).modules[0] as unknown as { id: string }).id;

async function failure(ref: string): Promise<string> {
  try {
    await loadPlugin(ref);
  } catch (err) {
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).exitCode).toBe(125);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return (err as Error).message;
  }
  throw new Error(`expected ${ref} to fail`);
}

describe('loadPlugin by path', () => {
  it('loads a file by absolute path and by path relative to the current directory', async () => {
    expect(await idOf(join(dir, 'file-plugin.mjs'))).toBe('file');
    process.chdir(join(dir, 'project'));
    const loaded = await loadPlugin('../file-plugin.mjs');
    expect(loaded.origin).toBe('../file-plugin.mjs');
    expect(loaded.modules).toHaveLength(1);
  });

  it('takes a list of modules as the default export', async () => {
    expect((await loadPlugin(join(dir, 'list-plugin.mjs'))).modules).toHaveLength(2);
  });

  it('loads a directory through its package.json exports, main or index.js', async () => {
    process.chdir(dir);
    expect(await idOf('./dir-exports')).toBe('dir-exports');
    expect(await idOf('./dir-main')).toBe('dir-main');
    expect(await idOf(join(dir, 'dir-index'))).toBe('dir-index');
  });

  it('reports a directory without an entry point', async () => {
    process.chdir(dir);
    expect(await failure('./dir-empty')).toBe(
      `plugin "./dir-empty": ${join(dir, 'dir-empty')} has no entry point (no "exports" or "main" in its package.json, and no index.js)`,
    );
  });

  it('reports a path that does not exist', async () => {
    process.chdir(dir);
    expect(await failure('./nope.mjs')).toBe('plugin "./nope.mjs": not found (is it installed?)');
  });

  it('reports a default export that is not a module', async () => {
    const path = join(dir, 'not-a-plugin.mjs');
    expect(await failure(path)).toBe(
      `plugin "${path}": its default export is not an inversify ContainerModule (or a list of them)`,
    );
  });

  it('reports a missing dependency of a plugin as such, not as the plugin missing', async () => {
    const message = await failure(join(dir, 'broken-dep.mjs'));
    expect(message).toMatch(/no-such-dependency-of-a-plugin/);
    expect(message).not.toMatch(/is it installed/);
  });
});

describe('loadPlugin by package name', () => {
  it('finds a package installed in the current directory or above it', async () => {
    process.chdir(join(dir, 'project'));
    expect(await idOf('plain-plugin')).toBe('plain');
    process.chdir(join(dir, 'project/src/deep'));
    expect(await idOf('plain-plugin')).toBe('plain');
  });

  it('finds an ESM-only package (exports for import only), and its subpaths', async () => {
    process.chdir(join(dir, 'project/src'));
    expect(await idOf('@acme/esm-plugin')).toBe('esm');
    expect(await idOf('@acme/esm-plugin/extra')).toBe('esm-extra');
    const loaded = await loadPlugin('@acme/esm-plugin');
    expect(loaded.origin).toBe('@acme/esm-plugin');
  });

  it('falls back to the engine’s own location (the built-in plugins from anywhere)', async () => {
    process.chdir(dir);
    const loaded = await loadPlugin('@builder/plugins');
    expect(loaded.origin).toBe('@builder/plugins');
    expect(loaded.modules.length).toBeGreaterThan(0);
  });

  it('reports a package that is not installed', async () => {
    process.chdir(dir);
    expect(await failure('no-such-builder-plugin')).toBe(
      'plugin "no-such-builder-plugin": not found (is it installed?)',
    );
    expect(await failure('@acme/no-such-plugin')).toBe('plugin "@acme/no-such-plugin": not found (is it installed?)');
  });
});
