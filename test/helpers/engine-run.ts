// Runs through the library API (createEngine), with the command's output captured in a file.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, MountSpec, RunResult } from '@builder/core';
import { type MountInfo, parseMountInfo } from '@builder/native/pure';

export interface Captured {
  result: RunResult;
  /** Everything the command wrote to stdout and stderr. */
  output: string;
}

let outDir: string | undefined;
let count = 0;

/** Run `sh -c script` on `rootfs` with `mounts`; stdout and stderr go to one file. */
export async function runScript(
  engine: Engine,
  rootfs: string,
  mounts: MountSpec[],
  script: string,
): Promise<Captured> {
  outDir ??= mkdtempSync(join(tmpdir(), 'builder-e2e-out-'));
  const file = join(outDir, `out-${count++}`);
  const fd = openSync(file, 'w');
  try {
    const result = await engine.run({ rootfs, argv: ['sh', '-c', script], mounts }, { stdio: ['ignore', fd, fd] });
    return { result, output: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

const END = '--- end of mountinfo ---';

/**
 * Run with `mounts`, print the container's /proc/self/mountinfo, then run `script`. Returns the
 * container's mounts by mount point and what `script` printed.
 */
export async function inside(
  engine: Engine,
  rootfs: string,
  mounts: MountSpec[],
  script = 'true',
): Promise<{ mounts: Map<string, MountInfo>; out: string; exitCode: number | null }> {
  const { result, output } = await runScript(
    engine,
    rootfs,
    mounts,
    `cat /proc/self/mountinfo; echo '${END}'; ${script}`,
  );
  const at = output.indexOf(`${END}\n`);
  if (at < 0) throw new Error(`no mountinfo in the output (exit ${result.exitCode}): ${output}`);
  const table = parseMountInfo(output.slice(0, at));
  return {
    mounts: new Map(table.map((m) => [m.mountPoint, m])),
    out: output.slice(at + END.length + 1),
    exitCode: result.exitCode,
  };
}

/** Remove the capture directory (call in afterAll). */
export function removeCaptures(): void {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
  outDir = undefined;
}
