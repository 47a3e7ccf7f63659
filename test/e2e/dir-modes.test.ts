// BenchExec's directory modes on the host-root default: hidden, read-only, overlay, full-access.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type DirModeSpec, dirModeMounts, SpecError } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';

let base: string;
let mountsBefore: string;
let engine: Awaited<ReturnType<typeof createEngine>>;

beforeAll(async () => {
  requireRoot();
  base = mkdtempSync(join(tmpdir(), 'builder-e2e-dirmodes-'));
  for (const mode of ['hidden', 'read-only', 'overlay', 'full-access']) {
    mkdirSync(join(base, mode, 'sub'), { recursive: true });
    writeFileSync(join(base, mode, 'file'), `${mode}\n`);
  }
  engine = await createEngine();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeEach(() => {
  mountsBefore = mountsUnder(base);
});
afterEach(() => expect(mountsUnder(base)).toBe(mountsBefore));

async function sh(script: string, dirModes: DirModeSpec[]) {
  const out = join(base, `out-${Math.random().toString(16).slice(2)}`);
  const fd = openSync(out, 'w');
  try {
    const r = await engine.run({ argv: ['sh', '-c', script], dirModes }, { stdio: ['ignore', fd, fd] });
    return { code: r.exitCode, output: readFileSync(out, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(out);
  }
}

describe('directory modes', () => {
  it('hidden: an empty directory, writes thrown away', async () => {
    const dir = join(base, 'hidden');
    const r = await sh(`ls -A ${dir}; echo new > ${dir}/new && echo wrote`, [{ mode: 'hidden', path: dir }]);
    expect(r.output).toBe('wrote\n');
    expect(existsSync(join(dir, 'new'))).toBe(false);
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('hidden\n');
  });

  it('read-only: the host directory, not writable', async () => {
    const dir = join(base, 'read-only');
    const r = await sh(`cat ${dir}/file; touch ${dir}/new 2>&1; touch ${dir}/sub/new 2>&1; exit 0`, [
      { mode: 'read-only', path: dir },
    ]);
    expect(r.output).toMatch(/^read-only\n.*Read-only file system\n.*Read-only file system\n$/);
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });

  it('overlay: writable, writes thrown away, the host directory unchanged', async () => {
    const dir = join(base, 'overlay');
    const r = await sh(`echo changed > ${dir}/file && echo new > ${dir}/new && cat ${dir}/file ${dir}/new`, [
      { mode: 'overlay', path: dir },
    ]);
    expect(r.output).toBe('changed\nnew\n');
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('overlay\n');
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });

  it('full-access: writes reach the host', async () => {
    const dir = join(base, 'full-access');
    const r = await sh(`echo new > ${dir}/new && echo ok`, [{ mode: 'full-access', path: dir }]);
    expect(r.output).toBe('ok\n');
    expect(readFileSync(join(dir, 'new'), 'utf8')).toBe('new\n');
  });

  it('a subdirectory keeps its own mode inside a parent with another', async () => {
    const dir = join(base, 'full-access');
    const r = await sh(`touch ${dir}/sub/x 2>&1; echo y > ${dir}/y && echo wrote-parent`, [
      { mode: 'read-only', path: join(dir, 'sub') },
      { mode: 'full-access', path: dir },
    ]);
    expect(r.output).toMatch(/Read-only file system\nwrote-parent\n$/);
    expect(existsSync(join(dir, 'y'))).toBe(true);
  });

  it('refuses two modes for one directory and modes for /', async () => {
    await expect(
      engine.run({
        argv: ['true'],
        dirModes: [
          { mode: 'hidden', path: '/srv' },
          { mode: 'overlay', path: '/srv/' },
        ],
      }),
    ).rejects.toThrow(new SpecError('directory "/srv" is given two modes: hidden and overlay'));
    await expect(engine.run({ argv: ['true'], dirModes: [{ mode: 'hidden', path: '/' }] })).rejects.toThrow(SpecError);
  });

  it("never makes the host's /dev, /proc or /sys writable, whole or in part; read-only is fine", async () => {
    for (const path of ['/dev', '/proc', '/sys', '/dev/shm', '/sys/fs/cgroup', '//dev/'])
      for (const mode of ['overlay', 'full-access'] as const)
        await expect(engine.run({ argv: ['true'], dirModes: [{ mode, path }] })).rejects.toThrow(
          /is never made writable in the container; use another directory mode/,
        );
    // Read-only and hidden are fine, and a directory that only starts with the same letters is not one.
    expect(dirModeMounts([{ mode: 'read-only', path: '/dev' }])).toEqual([
      { type: 'bind', source: '/dev', destination: '/dev', options: ['ro'] },
    ]);
    expect(dirModeMounts([{ mode: 'hidden', path: '/sys/firmware' }])).toHaveLength(1);
    expect(dirModeMounts([{ mode: 'overlay', path: '/device' }])).toHaveLength(1);
    // Through the CLI: one line, status 125, nothing run.
    const r = await builder(['run', '--overlay-dir', '/dev', '--', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(
      "Error: --overlay-dir /dev: the host's /dev is never made writable in the container; use another directory mode (--read-only-dir or --hidden-dir)\n",
    );
  });
});
