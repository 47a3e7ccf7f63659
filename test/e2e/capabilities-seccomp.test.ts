// Confinement of a root command (docs/confinement.md, "Capabilities, seccomp, no-new-privileges"):
// real escape attempts on a busybox rootfs, each checked to fail AND to leave the host unchanged;
// the capability sets, seccomp mode and no_new_privs as the kernel reports them in
// /proc/self/status, compared with podman's on the same rootfs; --cap-add, --cap-drop, --privileged,
// --security-opt; the compiled filter's cache.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Logger } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { requireTools, tool } from '../helpers/tools.js';

/** podman's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE SYS_CHROOT SETFCAP. */
const DEFAULT_SET = '00000000800405fb';
const NONE = '0000000000000000';
/** The bit of CAP_SYS_ADMIN (21), from linux/capability.h. */
const SYS_ADMIN_BIT = 1n << 21n;

let work: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let mountsBefore: string;
/** The host's own bounding set: what --privileged gives (all the kernel has, unless this host runs with fewer). */
let hostBounding: string;

/** The Cap*, NoNewPrivs and Seccomp lines of /proc/self/status, as an object. */
const status = (text: string): Record<string, string> =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^(Cap\w+|NoNewPrivs|Seccomp):/.test(l))
      .map((l) => l.split(/:\s+/) as [string, string]),
  );

async function statusIn(flags: string[] = []): Promise<Record<string, string>> {
  const r = await run(rootfs.path, ['cat', '/proc/self/status'], flags);
  expect(r.code, r.stderr).toBe(0);
  return status(r.stdout);
}

/** Run `sh -c script` in the container; stdout and stderr together. */
async function sh(script: string, flags: string[] = []): Promise<{ code: number | null; out: string }> {
  const r = await run(rootfs.path, ['sh', '-c', script], flags);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The host's first disk, as MAJOR and MINOR (/proc/partitions; loop, ram and zram devices are not disks). */
function hostDisk(): { name: string; major: number; minor: number } {
  for (const line of readFileSync('/proc/partitions', 'utf8').split('\n').slice(2)) {
    const [major, minor, , name] = line.trim().split(/\s+/);
    if (name && !/^(loop|ram|zram)/.test(name)) return { name, major: Number(major), minor: Number(minor) };
  }
  throw new Error('no disk in /proc/partitions');
}

beforeAll(() => {
  requireRoot();
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-confine-'));
  rootfs = makeBusyboxRootfs(['mnt', 'proc', 'dev', 'sys', 'tmp'], work);
  chmodSync(rootfs.path, 0o755); // a non-root user enters it
  for (const applet of ['unshare', 'insmod', 'mknod', 'nsenter', 'rm'])
    symlinkSync('busybox', join(rootfs.path, 'bin', applet));
  hostBounding = status(readFileSync('/proc/self/status', 'utf8')).CapBnd;
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  mountsBefore = mountsUnder(work);
});

afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
});

describe('a root command cannot take over the host', () => {
  it('cannot remount a read-only bind read-write: the host file is unchanged', async () => {
    const src = join(work, 'ro-src');
    rmSync(src, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', src]);
    writeFileSync(join(src, 'file'), 'original\n');
    const r = await sh('mount -o remount,rw,bind /s; echo changed > /s/file; cat /s/file', ['-v', `${src}:/s:ro`]);
    expect(r.out).toMatch(/mount: .*(permission denied|Operation not permitted)/i);
    expect(r.out).toMatch(/Read-only file system/);
    expect(readFileSync(join(src, 'file'), 'utf8')).toBe('original\n');
  });

  it('cannot mount a tmpfs', async () => {
    const r = await sh('mount -t tmpfs none /mnt && echo mounted; grep " /mnt " /proc/self/mountinfo; true');
    expect(r.out).not.toMatch(/mounted/);
    expect(r.out).toMatch(/permission denied|Operation not permitted/i);
  });

  it("cannot make a device node of the host's disk, nor read the disk through one", async () => {
    const disk = hostDisk();
    const r = await sh(`mknod /b b ${disk.major} ${disk.minor}; echo mknod=$?; head -c 512 /b | wc -c`);
    expect(r.out).toMatch(/mknod: \/b: Operation not permitted/);
    expect(r.out).toMatch(/mknod=1/);
    expect(r.out).toMatch(/^0$/m);
    expect(existsSync(join(rootfs.path, 'b'))).toBe(false);
  });

  it('cannot load a kernel module (EPERM): the host has the same modules', async () => {
    writeFileSync(join(rootfs.path, 'mod.ko'), Buffer.alloc(4096));
    const before = readdirSync('/sys/module').sort();
    const r = await sh('insmod /mod.ko; echo insmod=$?');
    expect(r.out).toMatch(/insmod: can't insert '\/mod.ko': Operation not permitted/);
    expect(r.out).toMatch(/insmod=1/);
    // Unconfined, the kernel itself answers (this file is no module; a kernel without modules says ENOSYS).
    const unconfined = await sh('insmod /mod.ko; echo insmod=$?', ['--privileged']);
    expect(unconfined.out).toMatch(/insmod: can't insert/);
    expect(unconfined.out).not.toMatch(/Operation not permitted/);
    expect(readdirSync('/sys/module').sort()).toEqual(before);
  });

  it('cannot unshare a mount or a user namespace (the filter refuses even what needs no capability)', async () => {
    const hostNs = readdirSync('/proc/self/ns').map((n) => `${n}:${execFileSync('readlink', [`/proc/self/ns/${n}`])}`);
    const r = await sh('unshare -m true; echo m=$?; unshare -U true; echo u=$?; unshare -U -r id; echo ur=$?');
    expect(r.out).toMatch(/m=1/);
    expect(r.out).toMatch(/u=1/);
    expect(r.out).toMatch(/ur=1/);
    expect(r.out).not.toMatch(/uid=0/);
    expect(r.out).toMatch(/unshare\(0x20000\): Operation not permitted/);
    expect(r.out).toMatch(/unshare\(0x10000000\): Operation not permitted/);
    // Without the filter, root may make a user namespace (no capability needed): the filter is what refused it.
    expect((await sh('unshare -U true; echo u=$?', ['--security-opt', 'seccomp=unconfined'])).out).toMatch(/u=0/);
    expect(readdirSync('/proc/self/ns').map((n) => `${n}:${execFileSync('readlink', [`/proc/self/ns/${n}`])}`)).toEqual(
      hostNs,
    );
  });

  it('cannot enter the host namespaces through /proc/1/ns (setns refused)', async () => {
    const r = await sh('nsenter -t 1 -m true; echo rc=$?');
    expect(r.out).toMatch(/rc=1/);
  });
});

describe('what the kernel reports', () => {
  it("the default: podman's capability set in the effective, permitted and bounding sets, seccomp filter mode", async () => {
    const s = await statusIn();
    expect(s).toMatchObject({
      CapInh: NONE,
      CapPrm: DEFAULT_SET,
      CapEff: DEFAULT_SET,
      CapBnd: DEFAULT_SET,
      CapAmb: NONE,
      NoNewPrivs: '0',
      Seccomp: '2',
    });
  });

  it('--privileged: every capability, no filter', async () => {
    const s = await statusIn(['--privileged']);
    expect(s).toMatchObject({ CapPrm: hostBounding, CapEff: hostBounding, CapBnd: hostBounding, Seccomp: '0' });
    expect((await sh('mount -t tmpfs none /mnt && echo mounted', ['--privileged'])).out).toMatch(/mounted/);
  });

  it('--cap-drop all: none; --cap-drop and --cap-add take names as podman does', async () => {
    expect(await statusIn(['--cap-drop', 'all'])).toMatchObject({ CapEff: NONE, CapPrm: NONE, CapBnd: NONE });
    // CHOWN is bit 0, KILL bit 5, NET_RAW bit 13.
    expect((await statusIn(['--cap-drop', 'chown', '--cap-drop', 'CAP_KILL'])).CapEff).toBe('00000000800405da');
    expect((await statusIn(['--cap-drop', 'ALL', '--cap-add', 'net_raw'])).CapBnd).toBe('0000000000002000');
  });

  it('--cap-add SYS_ADMIN allows mount, and the filter then allows it too (as podman)', async () => {
    const s = await statusIn(['--cap-add', 'SYS_ADMIN']);
    expect(BigInt(`0x${s.CapEff}`)).toBe(BigInt(`0x${DEFAULT_SET}`) | SYS_ADMIN_BIT);
    expect(s.Seccomp).toBe('2');
    const r = await sh('mount -t tmpfs none /mnt && grep -c " /mnt " /proc/self/mountinfo', ['--cap-add', 'SYS_ADMIN']);
    expect(r.out).toBe('1\n');
  });

  it('--security-opt seccomp=unconfined: no filter, the same capabilities', async () => {
    expect(await statusIn(['--security-opt', 'seccomp=unconfined'])).toMatchObject({
      Seccomp: '0',
      CapEff: DEFAULT_SET,
    });
  });

  it('--security-opt seccomp=FILE: a profile that refuses mkdir makes mkdir fail with EPERM', async () => {
    const profile = join(work, 'no-mkdir.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat', 'no_such_syscall'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
    );
    const r = await sh('mkdir /made; echo rc=$?; grep Seccomp: /proc/self/status', [
      '--security-opt',
      `seccomp=${profile}`,
    ]);
    expect(r.out).toMatch(/mkdir: can't create directory '\/made': Operation not permitted/);
    expect(r.out).toMatch(/rc=1/);
    expect(r.out).toMatch(/Seccomp:\s+2/);
    expect(existsSync(join(rootfs.path, 'made'))).toBe(false);
    // Without the profile, mkdir works.
    expect((await sh('mkdir /made && echo ok && rm -r /made')).out).toBe('ok\n');
  });

  it('--security-opt no-new-privileges: NoNewPrivs 1, the filter still loaded', async () => {
    expect(await statusIn(['--security-opt', 'no-new-privileges'])).toMatchObject({
      NoNewPrivs: '1',
      Seccomp: '2',
      CapEff: DEFAULT_SET,
    });
    expect((await statusIn(['--security-opt', 'no-new-privileges=false'])).NoNewPrivs).toBe('0');
    expect((await statusIn(['--security-opt', 'no-new-privileges', '--privileged'])).NoNewPrivs).toBe('1');
  });

  it('a non-root user: no effective or permitted capabilities, the default bounding set, the filter', async () => {
    expect(await statusIn(['--user', '1000:1000'])).toMatchObject({
      CapInh: NONE,
      CapPrm: NONE,
      CapEff: NONE,
      CapBnd: DEFAULT_SET,
      CapAmb: NONE,
      Seccomp: '2',
    });
  });
});

describe('as podman', () => {
  let podmanDir: string;
  beforeAll(() => {
    requireTools('podman', 'runc');
    podmanDir = mkdtempSync(join(tmpdir(), 'builder-e2e-confine-podman-'));
  });
  afterAll(() => {
    rmSync(podmanDir, { recursive: true, force: true });
  });
  const podman = (flags: string[], argv = ['cat', '/proc/self/status']): string =>
    tool('podman', [
      '--runtime',
      'runc',
      '--storage-driver',
      'vfs',
      '--root',
      join(podmanDir, 'root'),
      '--runroot',
      join(podmanDir, 'runroot'),
      'run',
      '--rm',
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=1024:1024',
      ...flags,
      '--rootfs',
      rootfs.path,
      ...argv,
    ]);

  it.each([
    [[]],
    [['--privileged']],
    [['--user', '1000:1000']],
    [['--cap-drop', 'all', '--cap-add', 'sys_admin']],
    [['--security-opt', 'no-new-privileges']],
    [['--security-opt', 'seccomp=unconfined']],
    [['--cap-add', 'all']],
    // --privileged wins over --cap-drop, as with podman.
    [['--privileged', '--cap-drop', 'sys_admin']],
    // Accepted, changing nothing (no SELinux label or AppArmor profile is applied here).
    [['--security-opt', 'label=disable', '--security-opt', 'apparmor=unconfined']],
  ])('the Cap*, NoNewPrivs and Seccomp lines are the same as podman run %j', async (flags) => {
    const ours = await statusIn(flags);
    const theirs = status(podman(flags));
    for (const key of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'])
      expect(ours[key], key).toBe(theirs[key]);
  });
  it("podman's own profile file (containers/common's, which leaves namespaces to the capabilities) does what it does under podman", async () => {
    const file = '/usr/share/containers/seccomp.json';
    const script = 'grep Seccomp: /proc/self/status; unshare -U true; echo u=$?; unshare -m true; echo m=$?';
    const flags = ['--security-opt', `seccomp=${file}`];
    const ours = await sh(script, flags);
    const theirs = podman(flags, ['sh', '-c', `${script} 2>/dev/null`]);
    expect(ours.out.split('\n').filter((l) => !l.startsWith('unshare:'))).toEqual(theirs.split('\n'));
    expect(theirs).toMatch(/u=0/);
  });
});

describe('bad input: one line, exit 125, nothing run', () => {
  it.each([
    [['--cap-add', 'foo'], /^Error: unknown capability "foo" \(known: CHOWN, /],
    [['--cap-drop', 'CAP_NOPE'], /^Error: unknown capability "CAP_NOPE"/],
    [['--cap-add', 'all', '--cap-drop', 'all'], /^Error: cannot both add and drop all capabilities$/],
    [['--cap-add', 'kill', '--cap-drop', 'KILL'], /^Error: capability CAP_KILL cannot be both added and dropped$/],
    [
      ['--security-opt', 'apparmor=my-profile'],
      /^Error: --security-opt "apparmor=my-profile": AppArmor profiles are not supported/,
    ],
    [['--security-opt', 'label=type:x'], /^Error: --security-opt "label=type:x": SELinux labels are not supported/],
    [['--security-opt', 'mask=/proc/x'], /^Error: --security-opt "mask=\/proc\/x": unknown option/],
    [
      ['--security-opt', 'no-new-privileges=maybe'],
      /^Error: --security-opt "no-new-privileges=maybe": give no-new-privileges/,
    ],
    [
      ['--security-opt', 'seccomp=/nonexistent/profile.json'],
      /^Error: seccomp profile \/nonexistent\/profile.json: no such file$/,
    ],
  ])('%j', async (flags, message) => {
    const marker = join(rootfs.path, 'ran');
    rmSync(marker, { force: true }); // a test that failed before may have left it
    const r = await run(rootfs.path, ['touch', '/ran'], flags);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['not JSON', '{', /: not JSON \(/],
    [
      'an unknown action',
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_MAYBE"}]}',
      /: syscalls\[0\] \(mkdir\): unknown action "SCMP_ACT_MAYBE"$/,
    ],
    ['no default action', '{"syscalls":[]}', /: defaultAction: no action$/],
    [
      'an argument index out of range',
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":0,"op":"SCMP_CMP_EQ"}]}]}',
      /: syscalls\[0\]\.args\[0\]: index must be 0 to 5$/,
    ],
  ])('a seccomp profile with %s: one line naming the file', async (_what, text, message) => {
    const file = join(work, 'bad-profile.json');
    writeFileSync(file, text);
    rmSync(join(rootfs.path, 'ran'), { force: true });
    const r = await run(rootfs.path, ['touch', '/ran'], ['--security-opt', `seccomp=${file}`]);
    expect(r.code).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^Error: seccomp profile ${file}${message.source}`));
    expect(existsSync(join(rootfs.path, 'ran'))).toBe(false);
  });
});

describe('the compiled filter', () => {
  it("is compiled once per profile and capability set, then read from the runroot's cache or, the built-in one, from memory", async () => {
    const runroot = mkdtempSync(join(work, 'runroot-'));
    const events: string[] = [];
    const logger: Logger = {
      error: () => {},
      warn: () => {},
      info: () => {},
      debug: (message) => {
        if (message.startsWith('seccomp filter')) events.push(message);
      },
      child: () => logger,
    };
    const engine = await createEngine({ runroot, logger });
    const spec = { rootfs: rootfs.path, argv: ['true'] };
    expect(engine.plan(spec).security).toEqual({
      capabilities: [
        'CAP_CHOWN',
        'CAP_DAC_OVERRIDE',
        'CAP_FOWNER',
        'CAP_FSETID',
        'CAP_KILL',
        'CAP_SETGID',
        'CAP_SETUID',
        'CAP_SETPCAP',
        'CAP_NET_BIND_SERVICE',
        'CAP_SYS_CHROOT',
        'CAP_SETFCAP',
      ],
      seccomp: { profile: 'default' },
    });
    expect((await engine.run(spec, { stdio: ['ignore', 'ignore', 'ignore'] })).exitCode).toBe(0);
    expect((await engine.run(spec, { stdio: ['ignore', 'ignore', 'ignore'] })).exitCode).toBe(0);
    // The same process's next run of the built-in profile reads no file (core/seccomp-filter.test.ts
    // reads a cache file back).
    expect(events).toEqual(['seccomp filter compiled', 'seccomp filter from memory']);
    expect(readdirSync(join(runroot, 'seccomp')).filter((f) => f.endsWith('.bpf'))).toHaveLength(1);
    // Another capability set is another filter (CAP_SYS_ADMIN allows mount …).
    expect(
      (await engine.run({ ...spec, capAdd: ['SYS_ADMIN'] }, { stdio: ['ignore', 'ignore', 'ignore'] })).exitCode,
    ).toBe(0);
    expect(events.at(-1)).toBe('seccomp filter compiled');
    expect(readdirSync(join(runroot, 'seccomp'))).toHaveLength(2);
    // A profile edited in place (same path, so the same file name in the cache) is compiled again: a
    // hit needs the whole key, the profile's text included.
    const profile = join(work, 'edited.json');
    const refuse = (names: string[]) =>
      writeFileSync(
        profile,
        JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action: 'SCMP_ACT_ERRNO' }] }),
      );
    const out = join(work, 'edited.out');
    const mkdirRun = async () => {
      const fd = openSync(out, 'w');
      try {
        await engine.run(
          { ...spec, argv: ['sh', '-c', 'mkdir /mnt/edited && echo made; rmdir /mnt/edited; true'], seccomp: profile },
          { stdio: ['ignore', fd, fd] },
        );
      } finally {
        closeSync(fd);
      }
      return readFileSync(out, 'utf8');
    };
    refuse(['mkdir', 'mkdirat']);
    expect(await mkdirRun()).toMatch(/Operation not permitted/);
    refuse(['symlink']);
    expect(await mkdirRun()).toBe('made\n');
    expect(events.slice(-2)).toEqual(['seccomp filter compiled', 'seccomp filter compiled']);
    expect(readdirSync(join(runroot, 'seccomp'))).toHaveLength(3);
    expect(engine.plan({ ...spec, privileged: true }).security).toMatchObject({ privileged: true });
    expect(engine.plan({ ...spec, privileged: true }).security.seccomp).toBeUndefined();
  });
});
