// `builder run --user` and an image's User: ids, groups and HOME looked up in the container's own
// /etc/passwd and /etc/group, no capabilities, the working directory, stdio and the console given
// to the user, and the stage still supervising the command after it dropped root.
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '@builder/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILDER, run, startBuilder, termForwarded, waitFor } from '../helpers/cli.js';
import { alive, mountsUnder, pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
`;
const GROUP = `root:x:0:
wheel:x:10:alice,bob
alice:x:1000:
bob:x:1001:
devs:x:2000:alice
`;

let rootfs: ReturnType<typeof makeBusyboxRootfs>;
/** The test's own directory: the rootfs, the image and the layer store (`--root`) live in it. */
let work: string;
let store: string;
let mountsBefore: string;

/** Write the accounts files into a rootfs directory, with alice's home owned by her. */
function addAccounts(dir: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/passwd'), PASSWD);
  writeFileSync(join(dir, 'etc/group'), GROUP);
  mkdirSync(join(dir, 'home/alice'), { recursive: true });
  execFileSync('chown', ['1000:1000', join(dir, 'home/alice')]);
  mkdirSync(join(dir, 'secret/inside'), { recursive: true, mode: 0o700 });
  execFileSync('chmod', ['700', join(dir, 'secret')]);
}

function tool(bin: string, args: string[], cwd?: string): void {
  try {
    execFileSync(bin, args, { cwd, stdio: 'pipe' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${bin} is missing: apt-get install ${bin}`);
    throw err;
  }
}

/** An OCI layout image (umoci) of the busybox rootfs with accounts, whose config says User and WorkingDir. */
function buildImage(dir: string): void {
  tool('umoci', ['init', '--layout', 'L'], dir);
  tool('umoci', ['new', '--image', 'L:u'], dir);
  tool('umoci', ['unpack', '--image', 'L:u', 'bundle'], dir);
  const root = join(dir, 'bundle/rootfs');
  cpSync(join(rootfs.path, 'bin'), join(root, 'bin'), { recursive: true, verbatimSymlinks: true });
  addAccounts(root);
  tool('umoci', ['repack', '--image', 'L:u', 'bundle'], dir);
  rmSync(join(dir, 'bundle'), { recursive: true });
  tool(
    'umoci',
    ['config', '--image', 'L:u', '--config.user', 'alice', '--config.workingdir', '/build/alice', '--config.cmd', 'id'],
    dir,
  );
}

beforeAll(() => {
  requireRoot();
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-user-'));
  store = join(work, 'store');
  rootfs = makeBusyboxRootfs(['tmp'], work);
  // mkdtemp makes the root 0700: a real rootfs's / is 0755, or no user could enter it.
  chmodSync(rootfs.path, 0o755);
  chmodSync(join(rootfs.path, 'tmp'), 0o1777);
  addAccounts(rootfs.path);
  buildImage(work);
}, 120_000);
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => expect(mountsUnder(work)).toBe(mountsBefore));

const asUser = (user: string, argv: string[], flags: string[] = []) =>
  run(rootfs.path, argv, ['--user', user, ...flags]);

const ALICE = 'uid=1000(alice) gid=1000(alice) groups=10(wheel),1000(alice),2000(devs)\n';

describe('builder run --user', () => {
  it('uid:gid: exactly those ids, and the primary group as the only group', async () => {
    const r = await asUser('1000:1000', ['id']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('uid=1000(alice) gid=1000(alice) groups=1000(alice)\n');
    expect(r.code).toBe(0);
  });

  it("a name: the passwd entry's ids and every group of /etc/group that lists it", async () => {
    const a = await asUser('alice', ['id']);
    expect(a.stdout).toBe(ALICE);
    expect(a.code).toBe(0);
    const b = await run(rootfs.path, ['id'], ['-u', 'bob']);
    expect(b.stdout).toBe('uid=1001(bob) gid=1001(bob) groups=10(wheel),1001(bob)\n');
    // A uid that has an entry is that user, groups included.
    expect((await asUser('1000', ['id'])).stdout).toBe(ALICE);
  });

  it('name:group, uid:group and name:gid', async () => {
    const expected = 'uid=1000(alice) gid=2000(devs) groups=2000(devs)\n';
    for (const user of ['alice:devs', '1000:devs', 'alice:2000']) {
      const r = await asUser(user, ['id']);
      expect(r.stdout, user).toBe(expected);
    }
  });

  it('a uid without a passwd entry: gid 0 and HOME=/', async () => {
    const r = await asUser('4242', ['sh', '-c', 'id; echo "HOME=$HOME"']);
    expect(r.stdout).toBe('uid=4242 gid=0(root) groups=0(root)\nHOME=/\n');
    expect((await asUser('4242:77', ['id'])).stdout).toBe('uid=4242 gid=77 groups=77\n');
  });

  it('HOME comes from passwd unless -e sets it', async () => {
    expect((await asUser('alice', ['sh', '-c', 'echo $HOME; cd && pwd'])).stdout).toBe('/home/alice\n/home/alice\n');
    expect((await asUser('alice', ['sh', '-c', 'echo $HOME'], ['-e', 'HOME=/x'])).stdout).toBe('/x\n');
    // Without a user, HOME stays /root.
    expect((await run(rootfs.path, ['sh', '-c', 'echo $HOME'])).stdout).toBe('/root\n');
  });

  it("a non-root user has no capabilities; root gets podman's default set, all of them with --privileged", async () => {
    const caps = async (flags: string[]) =>
      Object.fromEntries(
        (await run(rootfs.path, ['grep', '^Cap', '/proc/self/status'], flags)).stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/:\s+/)),
      );
    const user = await caps(['--user', 'alice']);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) expect(user[set], set).toBe('0000000000000000');
    // The bounding set keeps podman's default set (0x800405fb, the bits of capabilities(7)).
    expect(user.CapBnd).toBe('00000000800405fb');
    const root = await caps([]);
    for (const set of ['CapPrm', 'CapEff', 'CapBnd']) expect(root[set], set).toBe('00000000800405fb');
    for (const set of ['CapInh', 'CapAmb']) expect(root[set], set).toBe('0000000000000000');
    // The same with an explicit root user.
    expect((await caps(['--user', 'root'])).CapEff).toBe(root.CapEff);
    // --privileged: every capability this process has (the kernel's 0x1ffffffffff, unless the host
    // itself runs with fewer).
    const host = readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s+(\w+)$/m)?.[1];
    const privileged = await caps(['--privileged']);
    expect(privileged.CapEff).toBe(host);
    expect(privileged.CapBnd).toBe(host);
  });

  it('an unknown user or group: one line, exit 125, nothing run', async () => {
    const a = await asUser('nobody', ['sh', '-c', 'echo ran']);
    expect(a).toMatchObject({
      code: 125,
      stdout: '',
      stderr: 'Error: unable to find user nobody: no matching entries in passwd file\n',
    });
    const b = await asUser('alice:nogroup', ['sh', '-c', 'echo ran']);
    expect(b).toMatchObject({
      code: 125,
      stdout: '',
      stderr: 'Error: unable to find group nogroup: no matching entries in group file\n',
    });
    const c = await asUser('a:b:c', ['true']);
    expect(c).toMatchObject({ code: 125, stderr: 'Error: invalid user "a:b:c": expected USER[:GROUP]\n' });
  });

  it('files it creates in a tmpfs are its own', async () => {
    const r = await asUser(
      'alice',
      ['sh', '-c', 'touch /scratch/f /tmp/g && stat -c "%u:%g %n" /scratch/f /tmp/g'],
      ['--mount', 'type=tmpfs,destination=/scratch'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000:1000 /scratch/f\n1000:1000 /tmp/g\n');
  });

  it('creates a missing working directory for the user (its parents stay root), and removes it after', async () => {
    const r = await asUser(
      'alice:devs',
      ['sh', '-c', 'pwd; stat -c "%u:%g %n" /new /new/dir; touch f'],
      ['-w', '/new/dir'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/new/dir\n0:0 /new\n1000:2000 /new/dir\n');
    // The command wrote into it: it stays, as the command left it.
    expect(statSync(join(rootfs.path, 'new/dir/f')).uid).toBe(1000);
    rmSync(join(rootfs.path, 'new'), { recursive: true });
    await asUser('alice', ['true'], ['-w', '/new/dir']);
    expect(() => statSync(join(rootfs.path, 'new'))).toThrow(/ENOENT/);
  });

  it('enters the working directory as the user: one clear line when it may not', async () => {
    const r = await asUser('alice', ['pwd'], ['-w', '/secret/inside']);
    expect(r).toMatchObject({
      code: 125,
      stdout: '',
      stderr: 'Error: user alice (uid 1000, gid 1000) cannot enter the working directory /secret/inside: EACCES\n',
    });
    expect((await run(rootfs.path, ['pwd'], ['-w', '/secret/inside'])).stdout).toBe('/secret/inside\n');
  });

  it('can reopen its stdio pipes (echo >/dev/stderr), as with podman', async () => {
    const out = execFileSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${BUILDER}" run --rootfs "${rootfs.path}" --user alice -- sh -c 'echo out >/dev/stdout; echo err >/dev/stderr' 2>&1 | cat`,
      ],
      { encoding: 'utf8' },
    );
    expect(out).toBe('out\nerr\n');
  });

  it('-t: the console belongs to the user, and it is the controlling terminal', async () => {
    // script(1) gives builder a terminal of its own. Its stdin stays open (at EOF, script would type
    // the EOF character into the terminal).
    const child = spawn(
      'script',
      [
        '-qec',
        `"${process.execPath}" "${BUILDER}" run -t --rootfs "${rootfs.path}" --user alice -- sh -c 'id; tty; stat -c %u /dev/console; echo hi >/dev/tty'`,
        '/dev/null',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out.replace(/\r/g, '')).toBe(`${ALICE}/dev/console\n1000\nhi\n`);
  });

  it('through the library: RunSpec.user', async () => {
    const engine = await createEngine();
    const file = join(work, 'lib-out');
    const fd = openSync(file, 'w');
    try {
      const r = await engine.run(
        { rootfs: rootfs.path, argv: ['sh', '-c', 'id; echo $HOME'], user: 'alice' },
        { stdio: ['ignore', fd, fd] },
      );
      expect(r.exitCode).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe(`${ALICE}/home/alice\n`);
  });
});

describe('the stage after it dropped root', () => {
  it('SIGTERM to builder still reaches the command', async () => {
    const r = await termForwarded(rootfs.path, ['--user', 'alice']);
    expect(r.code).toBe(42);
    expect(r.out).toContain('got-term');
  });

  it('kill -9 of builder still kills the command (the parent-death signal is armed again)', async () => {
    const marker = `4242${process.pid}`;
    const { child, done } = startBuilder(['run', '--rootfs', rootfs.path, '--user', 'alice', '--', 'sleep', marker]);
    const [pid] = await waitFor('the command to start', () => {
      const pids = pidsMatching(`sleep ${marker}`);
      return pids.length ? pids : undefined;
    });
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\t1000\t1000\t1000\t1000$/m);
    child.kill('SIGKILL');
    await done;
    await waitFor('the command to die', () => (alive(pid) ? undefined : true), 5000);
    expect(pidsMatching(`sleep ${marker}`)).toEqual([]);
  });
});

describe("an image's User", () => {
  const image = () => `oci:${join(work, 'L')}:u`;
  /** `builder run --root STORE --image IMAGE FLAGS… -- ARGV…`: the test's own layer store. */
  const runImage = (argv: string[], flags: string[] = []) =>
    run(undefined, argv, ['--root', store, '--image', image(), ...flags]);

  it('runs as the User of the image config, in its WorkingDir, created for that user', async () => {
    const r = await runImage([]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(ALICE);
    const w = await runImage(['sh', '-c', 'pwd; stat -c "%u:%g" .; echo $HOME']);
    expect(w.stdout).toBe('/build/alice\n1000:1000\n/home/alice\n');
  });

  it('--user wins over the image User', async () => {
    expect((await runImage(['id'], ['--user', 'bob'])).stdout).toBe(
      'uid=1001(bob) gid=1001(bob) groups=10(wheel),1001(bob)\n',
    );
    expect((await runImage(['id', '-u'], ['-u', '0'])).stdout).toBe('0\n');
  });
});
