// `builder run --mount / -v / --mounts-file / --plugin` and `builder mount-kinds`, end to end as root.
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MountInfo, parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder, type Finished, run } from '../helpers/cli.js';
import { builderWith } from '../helpers/config.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
const BUILTIN = ['bind', 'cgroup', 'cgroup2', 'dev', 'devpts', 'mqueue', 'overlay', 'proc', 'sysfs', 'tmpfs'];

/** The test's own directory: the rootfs, `scratch` and the outside plugin package live in it. */
let work: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
/** Bind sources, mounts files, a third-party plugin and a config file. */
let scratch: string;
let plugin: string;
let mountsBefore: string;

// A third-party plugin as a user writes one: plain ESM, the engine's API from @builder/core.
const PLUGIN_SOURCE = `import { mountFsOp, mountKindModule } from '@builder/core';
import { injectable } from '@builder/core/di';

class ScratchMountKind {
  type = 'e2e-scratch';
  description = 'A tmpfs labelled by the e2e plugin.';
  options = [{ name: 'size', value: 'size', description: 'its size' }];
  plan(mount) {
    return [mountFsOp(mount, 'tmpfs', ['mode=0700'])];
  }
}
injectable()(ScratchMountKind);
export default mountKindModule(ScratchMountKind);
`;

beforeAll(() => {
  requireRoot();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-cli-mounts-')));
  rootfs = makeBusyboxRootfs([], work);
  scratch = join(work, 'scratch');
  mkdirSync(join(scratch, 'data'), { recursive: true });
  writeFileSync(join(scratch, 'data', 'hello.txt'), 'hello from the host\n');
  // The plugin finds @builder/core the way an installed one would: through node_modules above it.
  symlinkSync(NODE_MODULES, join(scratch, 'node_modules'));
  plugin = join(scratch, 'scratch-plugin.mjs');
  writeFileSync(plugin, PLUGIN_SOURCE);
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Invariant 1: the host's mounts under the test's directory and the run directories are the same
// before and after every test.
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
});

/** Invariant 3: exit status 125 and exactly one stderr line, `Error: …`, matching `pattern`. */
function expectOneError(r: Finished, pattern: RegExp): void {
  expect(r.code).toBe(125);
  expect(r.stderr.endsWith('\n')).toBe(true);
  const lines = r.stderr.slice(0, -1).split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stdout).toBe('');
}

/** Run `cat /proc/self/mountinfo` in the container with `flags`; its mounts. */
async function mountsInside(flags: string[]): Promise<MountInfo[]> {
  const r = await run(rootfs.path, ['cat', '/proc/self/mountinfo'], flags);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return parseMountInfo(r.stdout);
}

describe('builder mount-kinds', () => {
  it('--json lists the built-in kinds with their origin', async () => {
    const r = await builder(['mount-kinds', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const kinds = JSON.parse(r.stdout) as { type: string; origin: string; description: string; options: unknown[] }[];
    for (const type of ['proc', 'sysfs', 'dev', 'devpts', 'tmpfs', 'mqueue'])
      expect(kinds.find((k) => k.type === type)?.origin).toBe('@builder/plugins');
    expect(kinds.map((k) => k.type)).toEqual(BUILTIN);
    const tmpfs = kinds.find((k) => k.type === 'tmpfs');
    expect(tmpfs?.description).toBe('A fresh in-memory filesystem.');
    expect(tmpfs?.options).toContainEqual(expect.objectContaining({ name: 'size', value: 'size' }));
  });

  it('prints a table, and each kind’s options with --options', async () => {
    const r = await builder(['mount-kinds']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TYPE +ORIGIN +DESCRIPTION$/);
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(BUILTIN);
    expect(lines).toContainEqual(expect.stringMatching(/^tmpfs +@builder\/plugins +A fresh in-memory filesystem\.$/));

    const o = await builder(['mount-kinds', '-o']);
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(/^TYPE +OPTION +VALUE +DESCRIPTION$/m);
    expect(o.stdout).toMatch(/^tmpfs +size, tmpfs-size +size +/m);
  });

  it('adds a plugin given with --plugin, naming it as the origin', async () => {
    const r = await builder(['mount-kinds', '--json', '--plugin', plugin]);
    expect(r.code).toBe(0);
    const kinds = JSON.parse(r.stdout) as { type: string; origin: string }[];
    expect(kinds.find((k) => k.type === 'e2e-scratch')).toEqual({
      type: 'e2e-scratch',
      origin: plugin,
      description: 'A tmpfs labelled by the e2e plugin.',
      options: [{ name: 'size', value: 'size', description: 'its size' }],
    });
  });

  it('adds the plugins of the config file, relative to the file', async () => {
    const config = join(scratch, 'config.json');
    writeFileSync(config, JSON.stringify({ plugins: ['./scratch-plugin.mjs'] }));
    const r = await builderWith(['mount-kinds', '--json'], { config });
    expect(r.stderr).toBe('');
    const kinds = JSON.parse(r.stdout) as { type: string; origin: string }[];
    expect(kinds.find((k) => k.type === 'e2e-scratch')?.origin).toBe(plugin);
  });

  it('refuses a plugin that does not exist', async () => {
    expectOneError(
      await builder(['mount-kinds', '--plugin', './no-such-plugin']),
      /plugin "\.\/no-such-plugin": not found/,
    );
  });
});

describe('builder run with user mounts', () => {
  it('--mount makes a tmpfs with its size', async () => {
    const mounts = await mountsInside(['--mount', 'type=tmpfs,destination=/scratch,tmpfs-size=1m']);
    const m = mounts.find((x) => x.mountPoint === '/scratch');
    expect(m?.fstype).toBe('tmpfs');
    expect(m?.superOptions).toContain('size=1024k');
  });

  it('-v SRC:DST:ro binds a host directory read-only', async () => {
    const r = await run(
      rootfs.path,
      [
        'sh',
        '-c',
        'cat /data/hello.txt; touch /data/new 2>/dev/null && echo wrote; grep " /data " /proc/self/mountinfo',
      ],
      ['-v', `${join(scratch, 'data')}:/data:ro`],
    );
    expect(r.code).toBe(0);
    const [hello, line] = r.stdout.split('\n');
    expect(hello).toBe('hello from the host');
    expect(r.stdout).not.toContain('wrote');
    expect(line.split(' ')[5].split(',')).toContain('ro');
  });

  it('--mount type=bind,…,readonly says the same as -v', async () => {
    const mounts = await mountsInside([
      '--mount',
      `type=bind,source=${join(scratch, 'data')},destination=/data,readonly`,
    ]);
    expect(mounts.find((m) => m.mountPoint === '/data')?.options).toContain('ro');
  });

  it('mounts the --mounts-file entries, then --mount, then -v', async () => {
    const file = join(scratch, 'mounts.json');
    writeFileSync(
      file,
      JSON.stringify([
        { destination: '/f', type: 'tmpfs', options: ['size=2m'] },
        { destination: '/g', source: join(scratch, 'data'), options: ['rbind', 'ro'] },
      ]),
    );
    // Given in the opposite order on the command line: the order of the kinds wins.
    const mounts = await mountsInside([
      '-v',
      `${join(scratch, 'data')}:/v`,
      '--mount',
      'type=tmpfs,dst=/m',
      '--mounts-file',
      file,
    ]);
    const order = mounts.map((m) => m.mountPoint).filter((p) => ['/f', '/g', '/m', '/v'].includes(p));
    expect(order).toEqual(['/f', '/g', '/m', '/v']);
    expect(mounts.find((m) => m.mountPoint === '/f')?.superOptions).toContain('size=2048k');
  });

  it('uses a mount kind of a --plugin', async () => {
    const mounts = await mountsInside(['--plugin', plugin, '--mount', 'type=e2e-scratch,dst=/p,size=1m']);
    const m = mounts.find((x) => x.mountPoint === '/p');
    expect(m?.fstype).toBe('tmpfs');
    expect(m?.superOptions).toContain('mode=700');
  });
});

describe('builder run refuses bad mounts with one line, exit 125, host unchanged', () => {
  const bad: [string, string[], RegExp][] = [
    [
      'an unknown mount type',
      ['--mount', 'type=tmpfss,destination=/x'],
      /unknown mount type "tmpfss" \(did you mean "tmpfs"\?\)/,
    ],
    [
      'an unknown option',
      ['--mount', 'type=tmpfs,destination=/x,sise=1m'],
      /unknown option "sise" \(did you mean "size"\?\)/,
    ],
    [
      'a bad option value',
      ['--mount', 'type=tmpfs,destination=/x,size=lots'],
      /option "size": "lots" is not a valid size/,
    ],
    ['a relative destination', ['--mount', 'type=tmpfs,destination=x'], /destination "x" must be an absolute path/],
    [
      'a misspelt key',
      ['--mount', 'type=tmpfs,destinaton=/x'],
      /unknown key "destinaton" \(did you mean "destination"\?\)/,
    ],
    ['a missing type', ['--mount', 'destination=/x'], /type is required/],
    ['a missing bind source', ['-v', '/nonexistent:/x'], /"\/nonexistent" does not exist/],
    ['a named volume', ['-v', 'data:/x'], /named volumes are not supported/],
    ['a bad -v option', ['-v', '/tmp:/x:rbnd'], /unknown option "rbnd" \(did you mean "rbind"\?\)/],
    [
      'a mounts file that does not exist',
      ['--mounts-file', '/nonexistent/mounts.json'],
      /mounts file "\/nonexistent\/mounts.json": no such file/,
    ],
    [
      'a plugin path that does not exist',
      ['--plugin', './no-such-plugin.mjs'],
      /plugin "\.\/no-such-plugin\.mjs": not found/,
    ],
    [
      'a plugin package that is not installed',
      ['--plugin', 'no-such-builder-plugin'],
      /plugin "no-such-builder-plugin": not found \(is it installed\?\)/,
    ],
  ];
  for (const [what, flags, pattern] of bad)
    it(`${what}`, async () => {
      expectOneError(await run(rootfs.path, ['true'], flags), pattern);
    });

  it('a --mounts-file that is not JSON', async () => {
    const file = join(scratch, 'bad.json');
    writeFileSync(file, '[{"destination": "/x",');
    expectOneError(
      await run(rootfs.path, ['true'], ['--mounts-file', file]),
      new RegExp(`mounts file "${file}": not valid JSON`),
    );
  });

  it('a --mounts-file entry with an unsupported key', async () => {
    const file = join(scratch, 'uid.json');
    writeFileSync(file, JSON.stringify([{ destination: '/x', type: 'bind', source: '/tmp', uidMappings: [] }]));
    expectOneError(
      await run(rootfs.path, ['true'], ['--mounts-file', file]),
      /mounts\[0\]: unknown key "uidMappings" \(not supported\)/,
    );
  });

  it('a config file that is not valid', async () => {
    const config = join(scratch, 'bad-config.json');
    writeFileSync(config, JSON.stringify({ plugins: [], storage: '/var' }));
    expectOneError(
      await builderWith(['run', '--rootfs', rootfs.path, '--', 'true'], { config }),
      new RegExp(`config file "${config}": unknown key "storage"`),
    );
  });
});

describe('-v SRC:DST:U', () => {
  it('gives the source, recursively, to the container user (root) before the run', async () => {
    const src = join(scratch, 'owned');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'sub', 'f'), 'x');
    symlinkSync('/etc/hostname', join(src, 'link'));
    for (const p of [src, join(src, 'sub'), join(src, 'sub', 'f')]) chownSync(p, 1234, 4321);
    const hostnameOwner = statSync('/etc/hostname').uid;
    const r = await run(rootfs.path, ['sh', '-c', 'stat -c "%u:%g %n" /v /v/sub /v/sub/f'], ['-v', `${src}:/v:U`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('0:0 /v\n0:0 /v/sub\n0:0 /v/sub/f\n');
    expect(statSync(join(src, 'sub', 'f')).uid).toBe(0);
    // The symlink itself changed owner, never what it points to.
    expect(statSync('/etc/hostname').uid).toBe(hostnameOwner);
  });
});

describe('--mounts-file from runc spec', () => {
  it('runs with the mounts of the default config.json that `runc spec` writes', async () => {
    const dir = join(scratch, 'runc-spec');
    mkdirSync(dir);
    try {
      execFileSync('runc', ['spec'], { cwd: dir, stdio: 'pipe' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('runc is missing: apt-get install runc');
      throw err;
    }
    const file = join(dir, 'mounts.json');
    writeFileSync(file, JSON.stringify(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).mounts));
    const r = await run(
      rootfs.path,
      ['sh', '-c', 'cut -d" " -f5,9 /proc/self/mountinfo; ls /dev; touch /sys/fs/cgroup/x 2>&1; true'],
      ['--mounts-file', file],
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.split('\n'); // mountinfo fields 5 and 9: mountpoint and source, then /dev
    for (const m of ['/proc proc', '/dev tmpfs', '/dev/pts devpts', '/dev/shm shm', '/dev/mqueue mqueue', '/sys sysfs'])
      expect(lines).toContain(m);
    expect(lines.some((l) => l.startsWith('/sys/fs/cgroup '))).toBe(true);
    for (const node of ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'ptmx']) expect(lines).toContain(node);
    expect(r.stdout).toContain('/sys/fs/cgroup/x: Read-only file system');
  });
});

describe('a plugin package outside any project', () => {
  it('loads by path with no node_modules of its own: the engine provides @builder/core', async () => {
    // Beside `scratch` (whose node_modules link does not apply here): no node_modules above it.
    const dir = mkdtempSync(join(work, 'outside-plugin-'));
    try {
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'acme-scratch', version: '1.0.0', type: 'module', exports: { '.': './index.js' } }),
      );
      writeFileSync(
        join(dir, 'index.js'),
        `import { MountKind, mountFsOp } from '@builder/core';
import { ContainerModule, injectable } from '@builder/core/di';
class ScratchMountKind {
  type = 'scratch';
  description = 'A small tmpfs scratch area.';
  options = [{ name: 'size', value: 'size', description: 'size limit' }];
  plan(mount) { return [mountFsOp(mount, 'tmpfs', ['nosuid', 'nodev', 'size=1m'])]; }
}
injectable()(ScratchMountKind);
export default new ContainerModule(({ bind }) => {
  bind(ScratchMountKind).toSelf();
  bind(MountKind).toService(ScratchMountKind);
});
`,
      );
      const kinds = await builder(['mount-kinds', '--json', '--plugin', dir]);
      expect(kinds.code).toBe(0);
      expect(JSON.parse(kinds.stdout)).toContainEqual(expect.objectContaining({ type: 'scratch', origin: dir }));
      const r = await run(
        rootfs.path,
        ['sh', '-c', 'grep " /s " /proc/self/mountinfo'],
        ['--plugin', dir, '--mount', 'type=scratch,dst=/s,size=2m'],
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/ \/s rw,nosuid,nodev,relatime - tmpfs tmpfs rw,size=2048k\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
