// A real third-party plugin, installed the way a user installs one into the project that runs builder:
// test/fixtures/plugin-secret is packed with `npm pack` and the tarball installed with `npm install`
// into a project directory of the test's own. A tarball (rather than the directory, which npm would
// only symlink) gives a real copy in that project's node_modules, as a package from the registry does.
// The engine, created in that project's directory, finds the plugin by its name there (a package name
// is looked up from the current directory first) and gives it @builder/core. It works offline: the
// plugin has no dependencies, and its peer dependency @builder/core is left to the engine
// (--legacy-peer-deps: npm does not fetch it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine, type Engine, SpecError } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/cli.js';
import { inside, removeCaptures, runScript } from '../helpers/engine-run.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/plugin-secret', import.meta.url));
const NPM_QUIET = ['--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

let engine: Engine;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
/** The test's own directory: the tarball, the project that installs it, the rootfs, the secret. */
let scratch: string;
/** The project that installs the plugin, as a user's project would. */
let project: string;
let token: string;
let mountsBefore: string;

beforeAll(async () => {
  requireRoot();
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-secret-')));
  execFileSync('npm', ['pack', '--pack-destination', scratch, '--loglevel=error'], { cwd: FIXTURE, stdio: 'ignore' });
  project = join(scratch, 'project');
  mkdirSync(project);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'e2e-project', version: '1.0.0', private: true }),
  );
  execFileSync(
    'npm',
    ['install', '--legacy-peer-deps', ...NPM_QUIET, join(scratch, 'builder-plugin-secret-1.0.0.tgz')],
    { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const cwd = process.cwd();
  process.chdir(project);
  try {
    engine = await createEngine({ plugins: ['@builder/plugins', 'builder-plugin-secret'] });
  } finally {
    process.chdir(cwd);
  }
  rootfs = makeBusyboxRootfs([], scratch);
  token = join(scratch, 'token');
  writeFileSync(token, 's3cr3t-value\n', { mode: 0o600 });
}, 120_000);
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  removeCaptures();
});

beforeEach(() => {
  mountsBefore = mountsUnder(scratch);
});
afterEach(() => {
  expect(mountsUnder(scratch)).toBe(mountsBefore);
});

describe('builder-plugin-secret, installed from its tarball', () => {
  it("is installed as a copy in the project's node_modules, not a link to the fixture", () => {
    const installed = join(project, 'node_modules/builder-plugin-secret');
    expect(realpathSync(installed)).toBe(installed);
  });

  it('contributes the secret mount kind, listed with its origin', () => {
    const kinds = engine.mountKinds();
    const secret = kinds.find((k) => k.type === 'secret');
    expect(secret).toEqual({
      type: 'secret',
      description: 'A private read-only copy of a host file (mode 0400 unless mode= is given).',
      origin: 'builder-plugin-secret',
      options: [{ name: 'mode', value: 'octal', description: 'permissions of the copy (octal; default 0400)' }],
    });
    expect(kinds.find((k) => k.type === 'tmpfs')?.origin).toBe('@builder/plugins');
  });

  it('plans one file op, mode 0400 by default', () => {
    const ops = engine
      .plan({
        argv: ['true'],
        rootfs: rootfs.path,
        mounts: [
          { type: 'secret', source: token, destination: '/run/secrets/token' },
          { type: 'secret', source: token, destination: '/run/secrets/shared', options: ['mode=0440'] },
        ],
      })
      // The secrets' file ops, not the generated /etc/hostname, /etc/hosts and /etc/resolv.conf.
      .ops.filter((op) => op.op === 'file' && op.source !== undefined);
    expect(ops).toEqual([
      { op: 'file', source: token, target: '/run/secrets/token', mode: 0o400 },
      { op: 'file', source: token, target: '/run/secrets/shared', mode: 0o440 },
    ]);
  });

  it('refuses bad input with one line', () => {
    const plan = (mount: { source?: string; options?: string[] }) => () =>
      engine.plan({ argv: ['true'], rootfs: rootfs.path, mounts: [{ type: 'secret', destination: '/s', ...mount }] });
    expect(plan({})).toThrow(new SpecError('mount on /s (type secret): a source (the host file) is required'));
    expect(plan({ source: 'token' })).toThrow('mount on /s (type secret): source "token" must be an absolute path');
    expect(plan({ source: token, options: ['mode=rw'] })).toThrow(
      'mount on /s (type secret): option "mode": "rw" is not a valid octal',
    );
    expect(plan({ source: token, options: ['uid=0'] })).toThrow('mount on /s (type secret): unknown option "uid"');
    expect(plan({ source: join(scratch, 'missing') })).toThrow(
      `mount on /s (type secret): file source "${join(scratch, 'missing')}" does not exist`,
    );
  });

  it('gives the container a read-only private copy with the mode asked for', async () => {
    const { mounts, out } = await inside(
      engine,
      rootfs.path,
      [
        { type: 'secret', source: token, destination: '/run/secrets/token' },
        { type: 'secret', source: token, destination: '/run/secrets/shared', options: ['mode=0440'] },
      ],
      "stat -c '%a %s' /run/secrets/token /run/secrets/shared; cat /run/secrets/token; echo x > /run/secrets/token",
    );
    expect(out).toBe(
      ['400 13', '440 13', 's3cr3t-value', "sh: can't create /run/secrets/token: Read-only file system", ''].join('\n'),
    );
    const m = mounts.get('/run/secrets/token');
    expect(m?.fstype).toBe('tmpfs'); // the copy lives on the run's private tmpfs, not on the host's disk
    expect(m?.options).toEqual(['ro', 'nosuid', 'nodev', 'noexec', 'relatime']);
    expect(mounts.get('/run/secrets/shared')?.options[0]).toBe('ro');
  });

  it('keeps the copy taken at the start when the host file changes during the run', async () => {
    const ctl = mkdtempSync(join(scratch, 'ctl-'));
    const running = runScript(
      engine,
      rootfs.path,
      [
        { type: 'secret', source: token, destination: '/run/secrets/token' },
        { type: 'bind', source: ctl, destination: '/ctl' },
      ],
      'touch /ctl/started; while [ ! -e /ctl/go ]; do sleep 0.05; done; cat /run/secrets/token',
    );
    try {
      try {
        await waitFor('the command to start', () => (existsSync(join(ctl, 'started')) ? true : undefined));
        writeFileSync(token, 'changed on the host\n');
      } finally {
        writeFileSync(join(ctl, 'go'), '');
      }
      const { result, output } = await running;
      expect(result.exitCode).toBe(0);
      expect(output).toBe('s3cr3t-value\n');
    } finally {
      await running.catch(() => undefined);
      writeFileSync(token, 's3cr3t-value\n');
    }
  });
});
