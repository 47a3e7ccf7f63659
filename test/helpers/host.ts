// Facts about the host, read the way an outside observer would.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { unescapeMountField } from '@builder/native/pure';

/** The host's mount table, as text (mount ids included: any mount or unmount changes it). */
export const hostMounts = (): string => readFileSync('/proc/self/mountinfo', 'utf8');

/** Where any run could leave a mount on the host, whatever the test: the default runroot and store. */
export const RUN_DIRS: readonly string[] = ['/run/builder', '/var/lib/builder'];

/**
 * The lines of the host's mount table whose mount point is one of `dirs` (a test's own directories),
 * or below one, or in RUN_DIRS: mount ids included, so any mount or unmount there changes the result,
 * while what other processes of the machine mount elsewhere does not.
 */
export function mountsUnder(...dirs: string[]): string {
  const roots = [...dirs, ...RUN_DIRS].map((d) => d.replace(/\/+$/, ''));
  return hostMounts()
    .split('\n')
    .filter((line) => {
      const field = line.split(' ')[4];
      const point = field === undefined ? undefined : unescapeMountField(field);
      return point !== undefined && roots.some((r) => point === r || point.startsWith(`${r}/`));
    })
    .join('\n');
}

/** Pids of host processes whose command line (arguments joined by spaces) starts with `prefix`. */
export function pidsMatching(prefix: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.startsWith(prefix)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** True while `pid` runs. A zombie (exited, waiting to be reaped by its new parent) counts as gone. */
export const alive = (pid: number): boolean => {
  try {
    return !/^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

/** Fail loudly, never skip, when the privileged suite cannot run here. */
export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new Error('the e2e suite needs root (it creates namespaces and mounts)');
  for (const bin of ['/bin/busybox']) {
    try {
      execFileSync(bin, ['true']);
    } catch {
      throw new Error(`${bin} is missing: apt-get install busybox-static`);
    }
  }
}

/**
 * What a runroot holds besides the compiled seccomp filters cached in its `seccomp/` (kept between
 * runs on purpose, docs/confinement.md): a run must leave nothing else there.
 */
export const runrootLeftovers = (runroot: string): string[] => readdirSync(runroot).filter((e) => e !== 'seccomp');
