// Starting stage processes. Kept free of heavy imports: the CLI loads this first thing to start the
// stage while oclif and the engine are still loading (docs/architecture.md, "The process model").
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The command's stdin, stdout and stderr, as child_process understands them. */
export type StageStdio = 'inherit' | [StdioEntry, StdioEntry, StdioEntry];
export type StdioEntry = 'inherit' | 'ignore' | 'pipe' | number;

const SLOT = Symbol.for('builder.prestartedStage');
type Slot = { [SLOT]?: ChildProcess };

const PARENT_ENV = 'BUILDER_STAGE_PARENT';

/** Start a stage process; it waits for its plan on fd 3. */
export function launchStage(stdio: StageStdio = 'inherit'): ChildProcess {
  const entry = fileURLToPath(import.meta.resolve('@builder/native/stage'));
  const io: StdioEntry[] = stdio === 'inherit' ? ['inherit', 'inherit', 'inherit'] : stdio;
  return spawn(process.execPath, [entry], {
    stdio: [...io, 'pipe', 'pipe'],
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
