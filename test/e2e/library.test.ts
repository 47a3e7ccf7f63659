// @builder/core as CI tooling uses it: the same engine as the CLI, driven from code.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, ExecError, RootfsError } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/cli.js';
import { alive, mountsUnder, pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let scratch: string;

beforeAll(() => {
  requireRoot();
  scratch = mkdtempSync(join(tmpdir(), 'builder-e2e-lib-'));
  rootfs = makeBusyboxRootfs([], scratch);
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/**
 * The stage processes this test process started: `node <stage entry>` with BUILDER_STAGE_PARENT set to
 * our pid (stage-launcher.ts gives a stage only that variable).
 */
function ownStages(): number[] {
  return pidsMatching(`${process.execPath} `).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`BUILDER_STAGE_PARENT=${process.pid}`);
    } catch {
      return false; // exited meanwhile
    }
  });
}

/** The parent pid of `pid`, from /proc (undefined once it is gone). */
function parentOf(pid: number): number | undefined {
  try {
    return Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
}

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
    const before = mountsUnder(scratch);
    const engine = await createEngine();
    const { result, output } = await runCaptured(engine, ['sh', '-c', 'echo pid=$$ host=$(hostname); exit 3']);
    expect(result).toEqual({ exitCode: 3, signal: null });
    expect(output).toMatch(/^pid=1 host=[0-9a-f]{12}\n$/);
    expect(mountsUnder(scratch)).toBe(before);
  });

  it('keeps a stage ready between runs with prestart, and a run takes it', async () => {
    expect(ownStages()).toEqual([]);
    const engine = await createEngine({ prestart: true });
    // Before any run, a stage of this engine waits for its plan.
    let [ready] = await waitFor('a stage started ahead of the first run', () => {
      const pids = ownStages();
      return pids.length ? pids : undefined;
    });
    expect(ownStages()).toEqual([ready]);
    let running: Promise<unknown> | undefined;
    try {
      // The first run's command is a child of that very stage.
      const marker = `5151${process.pid}`;
      running = engine.run({ rootfs: rootfs.path, argv: ['sleep', marker] });
      const [command] = await waitFor('the command to start', () => {
        const pids = pidsMatching(`sleep ${marker}`);
        return pids.length ? pids : undefined;
      });
      expect(parentOf(command)).toBe(ready);
      process.kill(command, 'SIGKILL');
      expect(await running).toEqual({ exitCode: 137, signal: 'SIGKILL' });
      for (const code of [0, 1, 2]) {
        // After each run, the stage it took is gone and another one is ready.
        await waitFor(`stage ${ready} to exit`, () => (alive(ready) ? undefined : true));
        const [next] = await waitFor('a stage started ahead of the next run', () => {
          const pids = ownStages().filter((pid) => pid !== ready && alive(pid));
          return pids.length ? pids : undefined;
        });
        expect(ownStages().filter(alive)).toEqual([next]);
        ready = next;
        const r = await engine.run({ rootfs: rootfs.path, argv: ['sh', '-c', `exit ${code}`] });
        expect(r.exitCode).toBe(code);
      }
      await waitFor(`stage ${ready} to exit`, () => (alive(ready) ? undefined : true));
    } finally {
      // The stage left ready for a next run (or, after a failure, any of the engine's): ours to end, and
      // reaped before the next test, so that no engine of this process takes it for a live one.
      const left = ownStages();
      for (const pid of left) process.kill(pid, 'SIGKILL');
      await running?.catch(() => undefined);
      for (const pid of left)
        await waitFor(`stage ${pid} to be reaped`, () => (existsSync(`/proc/${pid}`) ? undefined : true));
    }
  });

  it('without prestart, starts no stage before a run', async () => {
    const engine = await createEngine();
    expect(ownStages()).toEqual([]);
    const r = await engine.run({ rootfs: rootfs.path, argv: ['true'] });
    expect(r.exitCode).toBe(0);
    expect(ownStages().filter(alive)).toEqual([]);
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
