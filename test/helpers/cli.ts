// Spawning the built CLI the way a user does.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BUILDER = fileURLToPath(new URL('../../packages/cli/bin/builder.js', import.meta.url));

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  /** Everything builder wrote to stdout so far. */
  out: () => string;
  done: Promise<Finished>;
}

export interface StartOptions {
  /** Default: stdin closed, stdout and stderr pipes (they must stay pipes: they are collected). */
  stdio?: StdioOptions;
  /** What to start instead of `node builder.js ARGS…` (e.g. a shell or `unshare` that execs builder). */
  command?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Start `builder ARGS…` (or `opts.command`); stdout and stderr are collected. */
export function startBuilder(args: string[], opts: StartOptions = {}): Started {
  const [bin, ...rest] = opts.command ?? [process.execPath, BUILDER, ...args];
  const child = spawn(bin, rest, { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, env: opts.env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject); // could not be started: fail, never hang
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, out: () => stdout, done };
}

export const builder = (args: string[]): Promise<Finished> => startBuilder(args).done;

/** Run a command in a container on `rootfs` (undefined: the host-root default). */
export const run = (rootfs: string | undefined, argv: string[], flags: string[] = []): Promise<Finished> =>
  builder(['run', ...(rootfs ? ['--rootfs', rootfs] : []), ...flags, '--', ...argv]);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a value other than undefined, or fail after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/**
 * Run a shell in a container (with `flags`) that exits 42 on SIGTERM, send builder SIGTERM once it is
 * ready, and return what builder finished with and what the command printed.
 */
export async function termForwarded(
  rootfs: string,
  flags: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const trap = 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.05; done';
  const { child, done } = startBuilder(['run', '--rootfs', rootfs, ...flags, '--', 'sh', '-c', trap]);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  await waitFor('ready', () => (out.includes('ready') ? true : undefined));
  child.kill('SIGTERM');
  const r = await done;
  return { code: r.code, out };
}
