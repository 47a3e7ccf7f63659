// Masked and read-only paths, and --read-only (issue 13, points 3 and 5), on a busybox rootfs and the
// real kernel. Each escape attempt is checked twice: it fails inside, and the host is unchanged. The
// oracle is the kernel (the container's /proc/self/mountinfo, stat, the host's own /proc and /sys) and
// podman on the same rootfs; nothing here depends on the command lacking capabilities (the
// capabilities part of the issue is tested on its own).
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createEngine, type Engine, type RunSpec } from '@builder/core';
import { parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder, type Finished, run } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { podmanRun, requireTools, tool } from '../helpers/tools.js';
import { walkTree } from '../helpers/tree.js';

// The OCI runtime spec's and podman's defaults, written down (not imported from the code under test).
const MASKED = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
];
const READONLY = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

let base: string;
let rootfs: string;
let engine: Engine;
let mountsBefore: string;

beforeAll(async () => {
  requireRoot();
  base = mkdtempSync(join(tmpdir(), 'builder-e2e-masked-'));
  rootfs = makeBusyboxRootfs(['etc', 'tmp'], base).path;
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  engine = await createEngine({ root: join(base, 'store') });
});
afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});
beforeEach(() => {
  mountsBefore = mountsUnder(base);
});
afterEach(() => expect(mountsUnder(base)).toBe(mountsBefore));

/** `sh -c script` in a container on the rootfs (or the host-root overlay with rootfs undefined). */
const sh = (script: string, flags: string[] = [], root: string | undefined = rootfs): Promise<Finished> =>
  run(root, ['sh', '-c', script], flags);

/** The same through the library, with more of the RunSpec (privileged has no flag in this part). */
async function shSpec(script: string, spec: Partial<RunSpec>): Promise<{ code: number | null; output: string }> {
  const out = join(base, `out-${Math.random().toString(16).slice(2)}`);
  const fd = openSync(out, 'w');
  try {
    const r = await engine.run({ rootfs, argv: ['sh', '-c', script], ...spec }, { stdio: ['ignore', fd, fd] });
    return { code: r.exitCode, output: readFileSync(out, 'utf8') };
  } finally {
    closeSync(fd);
    rmSync(out);
  }
}

/** The container's mounts on or under `prefixes`, from its own mountinfo printed by `cat`. */
function mountsIn(mountinfo: string, ...prefixes: string[]) {
  return parseMountInfo(mountinfo).filter((m) =>
    prefixes.some((p) => m.mountPoint === p || m.mountPoint.startsWith(`${p}/`)),
  );
}

const hostSysctl = (name: string) => readFileSync(`/proc/sys/${name}`, 'utf8');

describe('masked and read-only paths (the default)', () => {
  it('echo h > /proc/sysrq-trigger fails, and the host is unchanged', async () => {
    const hostHas = existsSync('/proc/sysrq-trigger');
    const r = await sh('echo h > /proc/sysrq-trigger && echo wrote; test -e /proc/sysrq-trigger && echo there; exit 0');
    expect(r.stdout).not.toContain('wrote');
    // Read-only where the kernel has it; where it does not (CONFIG_MAGIC_SYSRQ off), never created.
    expect(r.stdout.includes('there')).toBe(hostHas);
    expect(r.stderr).toMatch(hostHas ? /Read-only file system/ : /can't create \/proc\/sysrq-trigger/);
    expect(existsSync('/proc/sysrq-trigger')).toBe(hostHas);
  });

  it('a write to /proc/sys fails with EROFS, and the host keeps its value', async () => {
    const before = hostSysctl('vm/swappiness');
    const other = before.trim() === '13' ? '14' : '13';
    try {
      const r = await sh(`echo ${other} > /proc/sys/vm/swappiness && echo wrote; cat /proc/sys/vm/swappiness`);
      expect(r.stderr).toContain("can't create /proc/sys/vm/swappiness: Read-only file system");
      expect(r.stdout).toBe(before);
      expect(hostSysctl('vm/swappiness')).toBe(before);
    } finally {
      // A planted bug would have changed the host: put it back.
      if (hostSysctl('vm/swappiness') !== before) writeFileSync('/proc/sys/vm/swappiness', before);
    }
  });

  it('sysctl -w kernel.hostname=x fails, and the host name and the container name are unchanged', async () => {
    const host = hostname();
    const r = await sh('busybox sysctl -w kernel.hostname=x; echo "status $?"; hostname', ['--hostname', 'inside']);
    expect(r.stderr).toContain("sysctl: error setting key 'kernel.hostname': Read-only file system");
    expect(r.stdout).toBe('status 1\ninside\n');
    expect(hostSysctl('kernel/hostname')).toBe(`${host}\n`);
  });

  it('the masked files read as nothing (the null device), the masked directories list empty', async () => {
    // What this kernel has: the test asserts against the host's own /proc and /sys.
    expect(existsSync('/proc/keys') && existsSync('/proc/timer_list')).toBe(true);
    expect(readdirSync('/sys/firmware').length).toBeGreaterThan(0);
    const script = MASKED.map(
      (p) =>
        `if [ -d ${p} ]; then echo "${p} dir [$(ls -A ${p})]"; touch ${p}/x 2>/dev/null && echo "${p} wrote";` +
        ` elif [ -e ${p} ]; then echo "${p} $(stat -c '%F %t:%T' ${p}) [$(cat ${p} | wc -c)]";` +
        ` else echo "${p} missing"; fi`,
    ).join('\n');
    const r = await sh(script);
    const expected = MASKED.map((p) => {
      if (!existsSync(p)) return `${p} missing`;
      // busybox's stat: a character device is a 'character special file', its numbers in hex.
      return statSync(p).isDirectory() ? `${p} dir []` : `${p} character special file 1:3 [0]`;
    });
    expect(r.stdout.trim().split('\n')).toEqual(expected);
  });

  it('are the same mounts as podman makes on the same rootfs', async () => {
    requireTools('podman');
    const ours = await sh('cat /proc/self/mountinfo');
    const theirs = podmanMountinfo();
    /** The masks and read-only paths: mount point, root, type, per-mount ro/rw, superblock ro/rw. */
    const shape = (mountinfo: string) =>
      mountsIn(mountinfo, '/proc', '/sys')
        .filter(
          (m) => m.mountPoint !== '/proc' && m.mountPoint !== '/sys' && !m.mountPoint.startsWith('/sys/fs/cgroup'),
        )
        .map((m) => {
          const ro = (opts: string[]) => (opts.includes('ro') ? 'ro' : 'rw');
          return `${m.mountPoint} ${m.root} ${m.fstype} ${ro(m.options)} ${ro(m.superOptions)}`;
        })
        .sort();
    expect(shape(theirs).length).toBeGreaterThan(0);
    expect(shape(ours.stdout)).toEqual(shape(theirs));
  });

  it('a mask follows no symlink out of the rootfs and creates nothing; a read-only path stays read-only', async () => {
    // A directory of the test's own bound on /proc: the masks meet symlinks and missing names there.
    const fake = join(base, 'fake-proc');
    mkdirSync(join(fake, 'sys'), { recursive: true });
    writeFileSync(join(fake, 'sys/knob'), 'host\n');
    symlinkSync('/gone/keys', join(fake, 'keys'));
    symlinkSync('/etc/secret', join(fake, 'kcore'));
    symlinkSync('../../../../../../../etc/secret', join(fake, 'timer_list'));
    writeFileSync(join(rootfs, 'etc/secret'), 'secret\n');
    const before = walkTree(fake);
    const rootBefore = walkTree(rootfs);
    try {
      const r = await sh(
        'cat /proc/kcore /proc/timer_list /etc/secret | wc -c; echo x > /proc/sys/knob; cat /proc/sys/knob; ls /gone',
        ['-v', `${fake}:/proc`],
      );
      // Both links resolve inside the rootfs (to its /etc/secret, masked: 0 bytes), never to the host.
      expect(r.stdout).toBe('0\nhost\n');
      expect(r.stderr).toContain("can't create /proc/sys/knob: Read-only file system");
      expect(r.stderr).toContain('ls: /gone: No such file or directory');
      expect(walkTree(fake)).toEqual(before);
      expect(walkTree(rootfs)).toEqual(rootBefore);
    } finally {
      rmSync(join(rootfs, 'etc/secret'));
    }
  });

  it('with privileged they are visible again: no masks, /proc/sys writable (its UTS part here)', async () => {
    const host = hostname();
    const r = await shSpec(
      'cat /proc/self/mountinfo; echo ---; ls /sys/firmware; stat -c %F /proc/keys; busybox sysctl -w kernel.hostname=x; hostname',
      { privileged: true },
    );
    const [mountinfo, rest] = r.output.split('---\n');
    expect(mountsIn(mountinfo, '/proc', '/sys').map((m) => m.mountPoint)).toEqual(['/proc', '/sys']);
    expect(rest).toBe(
      `${readdirSync('/sys/firmware').sort().join('\n')}\nregular empty file\nkernel.hostname = x\nx\n`,
    );
    expect(hostname()).toBe(host);
  });

  it('engine.plan() lists the readonly and mask ops, after every mount', () => {
    const ops = engine.plan({ rootfs, argv: ['true'] }).ops;
    const tail = ops.slice(-(READONLY.length + MASKED.length));
    expect(tail).toEqual([
      ...READONLY.map((target) => ({ op: 'readonly', target })),
      ...MASKED.map((target) => ({ op: 'mask', target })),
    ]);
    expect(engine.plan({ rootfs, argv: ['true'], privileged: true }).ops.some((op) => op.op === 'mask')).toBe(false);
  });
});

describe('--read-only', () => {
  it('a write to / and /etc fails with EROFS; /tmp, /var/tmp, /run are writable tmpfs; the rootfs is unchanged', async () => {
    const before = walkTree(rootfs);
    const r = await sh(
      'touch /x; touch /etc/x; mkdir /newdir; for d in /tmp /var/tmp /run; do echo hi > $d/f && cat $d/f; done; cat /proc/self/mountinfo',
      ['--read-only'],
    );
    expect(r.stderr).toBe(
      [
        'touch: /x: Read-only file system',
        'touch: /etc/x: Read-only file system',
        "mkdir: can't create directory '/newdir': Read-only file system",
        '',
      ].join('\n'),
    );
    expect(r.stdout.startsWith('hi\nhi\nhi\n')).toBe(true);
    const mounts = parseMountInfo(r.stdout.slice('hi\nhi\nhi\n'.length));
    const root = mounts.find((m) => m.mountPoint === '/');
    expect(root?.options).toContain('ro');
    for (const dir of ['/tmp', '/var/tmp', '/run']) {
      const m = mounts.find((x) => x.mountPoint === dir);
      expect(m?.fstype, dir).toBe('tmpfs');
      // podman's options: rw, nosuid, nodev.
      expect(m?.options, dir).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']));
      expect(m?.options, dir).not.toContain('noexec');
    }
    // Not recursive: /dev, /proc and /dev/shm stay writable.
    for (const dir of ['/dev', '/proc', '/dev/shm'])
      expect(mounts.find((x) => x.mountPoint === dir)?.options).toContain('rw');
    expect(walkTree(rootfs)).toEqual(before);
  });

  it('--read-only-tmpfs=false makes /tmp read-only too; /dev/shm stays writable (as podman)', async () => {
    const before = walkTree(rootfs);
    const r = await sh('touch /tmp/x; touch /dev/shm/x && echo shm; grep -c " /tmp " /proc/self/mountinfo', [
      '--read-only',
      '--read-only-tmpfs=false',
    ]);
    expect(r.stderr).toBe('touch: /tmp/x: Read-only file system\n');
    expect(r.stdout).toBe('shm\n0\n');
    expect(walkTree(rootfs)).toEqual(before);
  });

  it('a mount of yours on /tmp replaces its tmpfs', async () => {
    const r = await sh('grep " /tmp " /proc/self/mountinfo', [
      '--read-only',
      '--mount',
      'type=tmpfs,dst=/tmp,tmpfs-size=1m',
    ]);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(/ - tmpfs tmpfs rw,size=1024k/);
  });

  it('works on the host-root overlay: writes fail with EROFS, the host is unchanged', async () => {
    // On the root itself (the host's /tmp is under the container's tmpfs); writes could only reach
    // the throw-away upper layer anyway, the root being an overlay.
    const target = `/${basename(base)}-from-inside`;
    const r = await sh(`touch ${target}; touch /tmp/ok && echo tmp`, ['--read-only'], undefined);
    // The host's own touch: its wording is its own, the kernel's reason is EROFS.
    expect(r.stderr).toContain(target);
    expect(r.stderr).toContain('Read-only file system');
    expect(r.stdout).toBe('tmp\n');
    expect(existsSync(target)).toBe(false);
  });

  it('works on an image: its overlay root is read-only, /tmp writable', async () => {
    requireTools('umoci');
    const image = join(base, 'image');
    mkdirSync(image);
    tool('umoci', ['init', '--layout', 'L'], { cwd: image });
    tool('umoci', ['new', '--image', 'L:t'], { cwd: image });
    tool('umoci', ['unpack', '--image', 'L:t', 'bundle'], { cwd: image });
    cpSync(join(rootfs, 'bin'), join(image, 'bundle/rootfs/bin'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(image, 'bundle/rootfs/etc'));
    tool('umoci', ['repack', '--image', 'L:t', 'bundle'], { cwd: image });
    const r = await builder([
      ...['run', '--root', join(base, 'store'), '--image', `oci:${join(image, 'L')}:t`, '--read-only', '--'],
      ...['sh', '-c', 'touch /etc/x; touch /tmp/ok && echo tmp; grep " / / " /proc/self/mountinfo'],
    ]);
    expect(r.stderr).toBe('touch: /etc/x: Read-only file system\n');
    expect(r.stdout).toMatch(/^tmp\n\d+ \d+ \S+ \/ \/ ro,\S* - overlay overlay /);
  });

  it('a bad --read-only-tmpfs value is one line, status 125, before anything runs', async () => {
    const before = walkTree(rootfs);
    const r = await sh('touch /ran', ['--read-only', '--read-only-tmpfs=maybe']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('Error: Expected --read-only-tmpfs=maybe to be one of: true, false\n');
    expect(walkTree(rootfs)).toEqual(before);
  });
});

/** The container's /proc/self/mountinfo under podman, on a copy of the rootfs (podman writes /etc files into it). */
function podmanMountinfo(): string {
  const copy = join(base, 'podman-rootfs');
  rmSync(copy, { recursive: true, force: true });
  cpSync(rootfs, copy, { recursive: true, verbatimSymlinks: true });
  const r = spawnSync(
    'podman',
    [
      ...podmanRun(join(base, 'podman')),
      ...['--network', 'none'],
      ...['--rootfs', copy, '/bin/cat', '/proc/self/mountinfo'],
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`podman failed (status ${r.status}): ${r.stderr.trim()}`);
  rmSync(copy, { recursive: true, force: true });
  return r.stdout;
}
