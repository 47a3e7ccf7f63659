// @builder/core as CI tooling uses it: the same engine as the CLI, driven from code.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, ExecError, RootfsError } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMounts, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let scratch: string;

beforeAll(() => {
  requireRoot();
  rootfs = makeBusyboxRootfs();
  scratch = mkdtempSync(join(tmpdir(), 'builder-e2e-lib-'));
});
afterAll(() => {
  rootfs?.remove();
  rmSync(scratch, { recursive: true, force: true });
});

/** Run with stdout and stderr sent to a file; returns the result and what was written. */
async function runCaptured(engine: Awaited<ReturnType<typeof createEngine>>, argv: string[]) {
  const file = join(scratch, `out-${Math.random().toString(16).slice(2)}`);
  const fd = openSync(file, 'w');
  try {
    const result = await engine.run({ rootfs: rootfs.path, argv }, { stdio: ['ignore', fd, fd] });
    return { result, output: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

describe('createEngine().run()', () => {
  it('resolves with the exit status and runs in the container', async () => {
    const before = hostMounts();
    const engine = await createEngine();
    const { result, output } = await runCaptured(engine, ['sh', '-c', 'echo pid=$$ host=$(hostname); exit 3']);
    expect(result).toEqual({ exitCode: 3, signal: null });
    expect(output).toMatch(/^pid=1 host=[0-9a-f]{12}\n$/);
    expect(hostMounts()).toBe(before);
  });

  it('keeps a stage ready between runs with prestart', async () => {
    const engine = await createEngine({ prestart: true });
    for (const code of [0, 1, 2]) {
      const r = await engine.run({ rootfs: rootfs.path, argv: ['sh', '-c', `exit ${code}`] });
      expect(r.exitCode).toBe(code);
    }
  });

  it('rejects with a BuilderError when the command cannot run', async () => {
    const engine = await createEngine();
    await expect(engine.run({ rootfs: rootfs.path, argv: ['nope'] })).rejects.toThrow(ExecError);
    await expect(engine.run({ rootfs: rootfs.path, argv: ['nope'] })).rejects.toMatchObject({ exitCode: 127 });
    await expect(engine.run({ rootfs: join(scratch, 'missing'), argv: ['true'] })).rejects.toThrow(RootfsError);
  });

  it('plans without running', async () => {
    const engine = await createEngine();
    const plan = engine.plan({ argv: ['true'] });
    expect(plan.rootfs).toEqual({ type: 'overlay', lowers: ['/'] });
    expect(plan.ops.map((op) => `${op.op} ${op.target}`).slice(0, 2)).toEqual(['mount /proc', 'mount /dev']);
  });
});
