// Starting stage processes. Kept free of heavy imports: the CLI loads this first thing to start the
// stage while oclif and the engine are still loading (docs/architecture.md, "The process model").
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EVENT_FD, PARENT_ENV, PLAN_FD } from '@builder/native/protocol';

/** The command's stdin, stdout and stderr, as child_process understands them. */
export type StageStdio = 'inherit' | [StdioEntry, StdioEntry, StdioEntry];
export type StdioEntry = 'inherit' | 'ignore' | 'pipe' | number;

const SLOT = Symbol.for('builder.prestartedStage');
type Slot = { [SLOT]?: ChildProcess };

/** Start a stage process: it reads its plan on PLAN_FD and writes events on EVENT_FD (native's stage protocol). */
export function launchStage(stdio: StageStdio = 'inherit'): ChildProcess {
  const entry = fileURLToPath(import.meta.resolve('@builder/native/stage'));
  const fds: StdioEntry[] = stdio === 'inherit' ? ['inherit', 'inherit', 'inherit'] : [...stdio];
  fds[PLAN_FD] = 'pipe';
  fds[EVENT_FD] = 'pipe';
  return spawn(process.execPath, [entry], {
    stdio: fds,
    env: { [PARENT_ENV]: String(process.pid) },
  });
}

/** Start a stage now for the next run with inherited stdio; it does not keep the process alive. */
export function prestartStage(): void {
  const slot = globalThis as Slot;
  if (slot[SLOT]) return;
  const child = launchStage();
  child.on('error', () => {}); // reported when a run takes it
  unrefStage(child);
  slot[SLOT] = child;
}

/** Take the pre-started stage if there is a live one. */
export function takePrestartedStage(): ChildProcess | undefined {
  const slot = globalThis as Slot;
  const child = slot[SLOT];
  slot[SLOT] = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return undefined;
  return child;
}

type Refable = { ref?(): void; unref?(): void };

function unrefStage(child: ChildProcess): void {
  child.unref();
  for (const s of child.stdio) (s as Refable | null)?.unref?.();
}

export function refStage(child: ChildProcess): void {
  child.ref();
  for (const s of child.stdio) (s as Refable | null)?.ref?.();
}
