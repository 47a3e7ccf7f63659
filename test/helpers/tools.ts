// Running the real peer tools (GNU tar, debootstrap, buildah, skopeo, …) from tests: a missing tool
// fails loudly with the Debian package that provides it; a failing one shows its stderr.
import { execFileSync } from 'node:child_process';

/** Debian packages that provide the tools the tests run. */
const PACKAGES: Record<string, string> = {
  debootstrap: 'debootstrap',
  buildah: 'buildah',
  skopeo: 'skopeo',
  umoci: 'umoci',
  setcap: 'libcap2-bin',
  getcap: 'libcap2-bin',
  setfattr: 'attr',
  getfattr: 'attr',
  tar: 'tar',
  findmnt: 'util-linux',
  losetup: 'mount',
  podman: 'podman',
  python3: 'python3',
  bzip2: 'bzip2',
  zstd: 'zstd',
  flock: 'util-linux',
};

/** Run `bin args…` and return its stdout; throws one readable line (plus the tool's stderr tail). */
export function tool(
  bin: string,
  args: string[],
  opts: { cwd?: string; input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): string {
  try {
    return execFileSync(bin, args, {
      cwd: opts.cwd,
      input: opts.input,
      env: opts.env,
      timeout: opts.timeout,
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 30,
    }).toString();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer; status?: number };
    if (e.code === 'ENOENT') throw new Error(`${bin} is missing: apt-get install ${PACKAGES[bin] ?? bin}`);
    const tail = (e.stderr?.toString() ?? '').trim().split('\n').slice(-15).join('\n');
    throw new Error(`${bin} ${args.join(' ')} failed (status ${e.status ?? e.code}):\n${tail}`);
  }
}

/** Fail loudly, never skip, when a tool the suite needs is not installed. */
export function requireTools(...bins: string[]): void {
  for (const bin of bins) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'pipe' });
    } catch {
      throw new Error(`${bin} is missing: apt-get install ${PACKAGES[bin] ?? bin}`);
    }
  }
}

/**
 * The arguments of `podman … run --rm` as the tests run it beside builder: its store, run, temp and
 * network directories under `dir` (the test's own), vfs, runc, cgroupfs, a file events log, and the
 * ulimits this machine's podman needs spelled out. Append run's own options, `--rootfs DIR` and the
 * command.
 */
export function podmanRun(dir: string): string[] {
  const sub = (name: string) => `${dir}/${name}`;
  return [
    ...['--root', sub('root'), '--runroot', sub('run'), '--tmpdir', sub('tmp')],
    ...['--network-config-dir', sub('net'), '--storage-driver', 'vfs', '--runtime', 'runc'],
    ...['--cgroup-manager', 'cgroupfs', '--events-backend', 'file'],
    ...['run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'],
  ];
}
