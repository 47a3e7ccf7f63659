import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inPrivateEtc } from '../../../test/helpers/config.js';
import { loadConfig } from '../src/config.js';
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

// What loadConfig answers when /etc/builder/config.json is missing, then when it is there, whatever
// this machine has there: a node process in a private mount namespace whose /etc is an overlay of the
// host's with an empty tmpfs on /etc/builder (inPrivateEtc). It loads the built package.
const DEFAULT_CASES = `
const { loadConfig } = await import(process.env.CORE);
const { writeFileSync } = await import('node:fs');
const answer = (env) => {
  try {
    return loadConfig(env);
  } catch (err) {
    return { error: err.message, name: err.name };
  }
};
const out = { absent: answer({}), absentEmptyVar: answer({ BUILDER_CONFIG: '' }) };
writeFileSync('/etc/builder/config.json', process.env.CONTENT);
out.present = answer({});
out.presentEmptyVar = answer({ BUILDER_CONFIG: '' });
out.named = answer({ BUILDER_CONFIG: process.env.OTHER });
writeFileSync('/etc/builder/config.json', '{"plugins": [');
out.broken = answer({});
console.log(JSON.stringify(out));
`;
describe('loadConfig', () => {
  it('reads /etc/builder/config.json without $BUILDER_CONFIG, and nothing when it is missing', () => {
    const scratch = join(dir, 'ns-scratch');
    mkdirSync(scratch);
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"plugins": ["other"]}');
    const [bin, ...args] = inPrivateEtc(scratch, '', [process.execPath, '--input-type=module', '-e', DEFAULT_CASES]);
    const out = execFileSync(bin, args, {
      env: {
        PATH: process.env.PATH,
        CORE: createRequire(import.meta.url).resolve('@builder/core'),
        CONTENT: JSON.stringify({ plugins: ['./local.mjs', 'pkg'], runroot: '/run/b', root: '/srv/store' }),
        OTHER: other,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
    const file = '/etc/builder/config.json';
    const present = { plugins: ['/etc/builder/local.mjs', 'pkg'], runroot: '/run/b', root: '/srv/store', file };
    expect(JSON.parse(out)).toEqual({
      absent: { plugins: [] },
      absentEmptyVar: { plugins: [] },
      present,
      presentEmptyVar: present,
      named: { plugins: ['other'], file: other },
      broken: {
        name: 'SpecError',
        error: expect.stringMatching(/^config file "\/etc\/builder\/config\.json": not valid JSON \(.+\)$/),
      },
    });
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
    ['{"root": "var/lib/b"}', '"root" must be an absolute path'],
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
