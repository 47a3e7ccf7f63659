import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../src/config.js';
import { SpecError } from '../src/errors.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'builder-config-'));
  mkdirSync(join(dir, 'etc'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write a config file and load it through $BUILDER_CONFIG. */
function load(content: string, name = 'etc/config.json') {
  const file = join(dir, name);
  writeFileSync(file, content);
  return { file, config: () => loadConfig({ BUILDER_CONFIG: file }) };
}

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).exitCode).toBe(125);
    expect((err as Error).message.split('\n')).toHaveLength(1);
    return (err as Error).message;
  }
  throw new Error('expected a SpecError');
}

describe('loadConfig', () => {
  it('is empty without $BUILDER_CONFIG and without /etc/builder/config.json', () => {
    if (existsSync(DEFAULT_CONFIG_FILE)) return; // this machine has one: nothing to check
    expect(loadConfig({})).toEqual({ plugins: [] });
    expect(loadConfig({ BUILDER_CONFIG: '' })).toEqual({ plugins: [] });
  });

  it('reads plugins and runroot; relative plugin paths are from the file', () => {
    const { file, config } = load(
      JSON.stringify({
        plugins: ['my-plugin', '@acme/builder-plugin', './local.mjs', '../up', '/abs/p.js'],
        runroot: '/run/b',
      }),
    );
    expect(config()).toEqual({
      plugins: ['my-plugin', '@acme/builder-plugin', join(dir, 'etc/local.mjs'), join(dir, 'up'), '/abs/p.js'],
      runroot: '/run/b',
      file,
    });
  });

  it('accepts an empty object', () => {
    const { file, config } = load('{}');
    expect(config()).toEqual({ plugins: [], file });
  });

  it('takes a relative $BUILDER_CONFIG from the current directory', () => {
    const { file } = load('{"plugins": ["./p.mjs"]}', 'rel.json');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadConfig({ BUILDER_CONFIG: 'rel.json' })).toEqual({ plugins: [join(dir, 'p.mjs')], file });
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a file that is missing or not JSON', () => {
    const missing = join(dir, 'nope.json');
    expect(error(() => loadConfig({ BUILDER_CONFIG: missing }))).toBe(`config file "${missing}": no such file`);
    const { file, config } = load('{"plugins": [');
    expect(error(config)).toMatch(new RegExp(`^config file "${file}": not valid JSON \\(.+\\)$`));
    expect(error(() => loadConfig({ BUILDER_CONFIG: dir }))).toBe(`config file "${dir}": cannot read it (EISDIR)`);
  });

  const bad: [string, string][] = [
    ['[]', 'expected a JSON object ({"plugins": […], "runroot": …})'],
    ['"x"', 'expected a JSON object ({"plugins": […], "runroot": …})'],
    ['{"plugins": "p"}', '"plugins" must be an array of package names or paths'],
    ['{"plugins": [1]}', '"plugins" must be an array of package names or paths'],
    ['{"plugins": [""]}', '"plugins" must be an array of package names or paths'],
    ['{"runroot": "run/b"}', '"runroot" must be an absolute path'],
    ['{"runroot": 5}', '"runroot" must be an absolute path'],
    ['{"plugin": []}', 'unknown key "plugin" (did you mean "plugins"?)'],
    ['{"runRoot": "/r"}', 'unknown key "runRoot" (did you mean "runroot"?)'],
    ['{"storage": "/var/lib"}', 'unknown key "storage"'],
  ];
  for (const [content, problem] of bad)
    it(`refuses ${content}`, () => {
      const { file, config } = load(content);
      expect(error(config)).toBe(`config file "${file}": ${problem}`);
    });
});
