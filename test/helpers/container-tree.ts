// The root filesystem a `builder run` container sees, walked from the host through /proc/PID/root of
// its PID 1 while it sleeps: the merged overlay exactly as the container has it (xattrs included),
// without depending on the tools inside the image.
import { startBuilder, waitFor } from './cli.js';
import { pidsMatching } from './host.js';
import { type Tree, type WalkOptions, walkTree } from './tree.js';

/**
 * The run's own mounts (and the root, which is the run's upper directory): not the image's. The
 * generated /etc/hosts, /etc/hostname and /etc/resolv.conf are the run's too (test/e2e/network.test.ts).
 */
export const runOwn = (rel: string): boolean =>
  /^(proc|sys|dev)(\/|$)/.test(rel) || /^etc\/(hosts|hostname|resolv\.conf)$/.test(rel);

/**
 * Start `builder run FLAGS -- sleep N` (N unique), walk `/proc/PID/root` of the sleeping command,
 * stop it. The root entry '.' is left out, and so are /proc, /sys and /dev (the run's mounts).
 */
export async function containerTree(flags: string[], opts: WalkOptions = {}): Promise<Tree> {
  const seconds = String(30_000 + Math.floor(Math.random() * 30_000));
  const { child, done } = startBuilder(['run', ...flags, '--', 'sleep', seconds]);
  let pid: number | undefined;
  try {
    pid = await waitFor(
      'the container to start',
      () => {
        if (child.exitCode !== null) throw new Error(`builder run exited with status ${child.exitCode}`);
        return pidsMatching(`sleep ${seconds}`)[0];
      },
      120_000,
    );
    const tree = walkTree(`/proc/${pid}/root/`, { ...opts, skip: (rel) => runOwn(rel) || (opts.skip?.(rel) ?? false) });
    tree.delete('.');
    return tree;
  } finally {
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    else child.kill('SIGTERM');
    const r = await done;
    if (pid === undefined && r.stderr) console.error(r.stderr);
  }
}
