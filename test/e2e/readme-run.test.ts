// The claims of the README's `builder run` section, end to end through the built CLI as a user runs
// them (some are also held through the library elsewhere, e.g. the directory modes in
// dir-modes.test.ts). Each is observed from the kernel's side: what the command reads in its own
// /proc/self (status, fd, ns, mountinfo), what the host's filesystem holds after, and which host
// processes are left.
import { execFileSync, type StdioOptions, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILDER, type Finished, run, type Started, startBuilder, waitFor } from '../helpers/cli.js';
import { alive, mountsUnder, pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { requireTools } from '../helpers/tools.js';

/** The test's own temp directory: bind sources, directory-mode trees, accounts files. */
let base: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;
let mountsBefore: string;

beforeAll(() => {
  requireRoot();
  base = realpathSync(mkdtempSync(join(tmpdir(), 'builder-e2e-readme-run-')));
  rootfs = makeBusyboxRootfs(['etc', 'tmp'], base);
  // mkdtemp makes the root 0700: a real rootfs's / is 0755, or no other user could enter it.
  chmodSync(rootfs.path, 0o755);
  chmodSync(join(rootfs.path, 'tmp'), 0o1777);
  // The rootfs's own accounts: root only.
  writeFileSync(join(rootfs.path, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs.path, 'etc/group'), 'root:x:0:\n');
});
afterAll(() => {
  rootfs?.remove();
  if (base) rmSync(base, { recursive: true, force: true });
});

// Nothing a run mounts stays on the host: the mounts under the test's directories and the run
// directories are the same before and after every test.
beforeEach(() => {
  mountsBefore = mountsUnder(base, rootfs.path);
});
afterEach(() => {
  expect(mountsUnder(base, rootfs.path)).toBe(mountsBefore);
});

/** A directory of the test's own, made fresh. */
function freshDir(name: string): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('what reaches the command', () => {
  it('only stdin, stdout and stderr: every other descriptor builder was given is closed', async () => {
    const file = join(freshDir('fds'), 'open-file');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      // builder is given descriptors 5 (the file), 40 (the file) and 41 (a pipe), not close-on-exec.
      // (Node marks the low ones close-on-exec when it starts; 40 and 41 reach builder's stage.)
      const stdio: StdioOptions = Array.from({ length: 42 }, () => 'ignore' as const);
      stdio[1] = 'pipe';
      stdio[2] = 'pipe';
      stdio[5] = fd;
      stdio[40] = fd;
      stdio[41] = 'pipe';
      const { done } = startBuilder(['run', '--rootfs', rootfs.path, '--', 'ls', '/proc/self/fd'], { stdio });
      const r = await done;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // 0, 1, 2, and 3: ls's own read of the directory, which takes the lowest free descriptor (so a
      // descriptor left open at 3 would push it to 4, and one left anywhere above would show too).
      expect(r.stdout).toBe('0\n1\n2\n3\n');
    } finally {
      closeSync(fd);
    }
  });

  it('stdin is the command’s: `echo hi | builder run … cat`', async () => {
    const { child, done } = startBuilder(['run', '--rootfs', rootfs.path, '--', 'cat'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin?.end('hi\nthere\n');
    const r = await done;
    expect(r).toMatchObject({ code: 0, stdout: 'hi\nthere\n', stderr: '' });
  });

  for (const umask of ['000', '077'])
    it(`the umask is 022 whatever builder's own (${umask})`, async () => {
      const script = `umask ${umask}; exec "$0" "$@"`;
      const { done } = startBuilder([], {
        command: [
          'sh',
          '-c',
          script,
          process.execPath,
          BUILDER,
          'run',
          '--rootfs',
          rootfs.path,
          '--',
          'sh',
          '-c',
          'grep "^Umask:" /proc/self/status; touch /tmp/new-file; stat -c %a /tmp/new-file; rm /tmp/new-file',
        ],
      });
      const r = await done;
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('Umask:\t0022\n644\n');
      expect(r.code).toBe(0);
    });
});

describe('namespaces', () => {
  it('the command has its own IPC, UTS, PID and mount namespaces', async () => {
    const kinds = ['ipc', 'uts', 'pid', 'mnt'];
    const r = await run(rootfs.path, ['sh', '-c', kinds.map((k) => `readlink /proc/self/ns/${k}`).join('; ')]);
    expect(r.stderr).toBe('');
    const inside = r.stdout.trim().split('\n');
    expect(inside).toHaveLength(kinds.length);
    kinds.forEach((kind, i) => {
      const host = readlinkSync(`/proc/self/ns/${kind}`);
      expect(inside[i], kind).toMatch(new RegExp(`^${kind}:\\[\\d+\\]$`));
      expect(inside[i], kind).not.toBe(host);
    });
  });
});

describe('--rootfs and the host', () => {
  it("--rootfs DIR: the command's writes go to the directory", async () => {
    const own = makeBusyboxRootfs(['etc'], base);
    try {
      const r = await run(own.path, ['sh', '-c', 'echo written > /etc/motd; rm /bin/true']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(readFileSync(join(own.path, 'etc/motd'), 'utf8')).toBe('written\n');
      expect(existsSync(join(own.path, 'bin/true'))).toBe(false);
    } finally {
      own.remove();
    }
  });

  it('nothing the run mounts shows on the host, even under a shared mount', async () => {
    // The rootfs and a bind source sit in a directory that is a shared mount of the test's own: a
    // mount made in a namespace that did not make its mounts private would propagate back into it.
    const shared = freshDir('shared');
    execFileSync('mount', ['--bind', shared, shared]);
    try {
      execFileSync('mount', ['--make-rshared', shared]);
      const own = makeBusyboxRootfs(['etc'], shared);
      const src = join(shared, 'src');
      mkdirSync(src);
      const before = mountsUnder(shared);
      const script = 'touch /src/started; while [ ! -e /src/go ]; do sleep 0.05; done';
      const started = startBuilder([
        'run',
        '--rootfs',
        own.path,
        '-v',
        `${src}:/src`,
        '--mount',
        'type=tmpfs,destination=/scratch',
        '--',
        'sh',
        '-c',
        script,
      ]);
      try {
        let ended: Finished | undefined;
        started.done.then((f) => {
          ended = f;
        });
        await waitFor(
          'the command to start',
          () => (existsSync(join(src, 'started')) || ended ? true : undefined),
          30_000,
        );
        expect(ended?.stderr ?? '').toBe('');
        expect(mountsUnder(shared)).toBe(before);
      } finally {
        writeFileSync(join(src, 'go'), '');
      }
      const r = await started.done;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(mountsUnder(shared)).toBe(before);
    } finally {
      execFileSync('umount', ['-R', shared]);
    }
  });
});

describe('signals sent to builder', () => {
  /**
   * Start a shell script on the rootfs; resolves once it printed `ready`, with its host pid. `stop()`
   * kills builder (and the command with it) if it still runs, and waits for it: tests call it in
   * `finally`, so a failed check leaves no process behind.
   */
  async function startScript(script: string) {
    const marker = `# readme-signals-${process.pid}-${Math.random().toString(16).slice(2)}`;
    const full = `${script} ${marker}`;
    const started = startBuilder(['run', '--rootfs', rootfs.path, '--', 'sh', '-c', full]);
    let finished: Finished | undefined;
    started.done.then((r) => {
      finished = r;
    });
    const stop = async () => {
      if (finished === undefined) started.child.kill('SIGKILL');
      await started.done;
    };
    const exited = () => waitFor('builder to exit', () => finished, 20_000);
    try {
      await waitFor('the command to be ready', () => (started.out().includes('ready\n') ? true : undefined));
      const [pid] = pidsMatching(`sh -c ${full}`);
      expect(pid).toBeDefined();
      return { ...started, pid, full, stop, exited };
    } catch (err) {
      await stop();
      throw err;
    }
  }

  for (const [sig, status] of [
    ['SIGINT', 3],
    ['SIGHUP', 4],
  ] as const)
    it(`${sig} is passed on to the command`, async () => {
      const s = await startScript(
        'trap "echo got INT; exit 3" INT; trap "echo got HUP; exit 4" HUP; echo ready; while :; do sleep 0.05; done',
      );
      try {
        s.child.kill(sig);
        const r = await s.exited();
        expect(r.stdout).toBe(`ready\ngot ${sig.slice(3)}\n`);
        expect(r.code).toBe(status);
        expect(alive(s.pid)).toBe(false);
      } finally {
        await s.stop();
      }
    });

  for (const sequence of [
    ['SIGINT', 'SIGINT', 'SIGINT'],
    ['SIGTERM', 'SIGINT', 'SIGTERM'],
  ] as const)
    it(`the third SIGINT or SIGTERM kills a command that outlives them (${sequence.join(', ')})`, async () => {
      // The command handles INT and TERM and goes on: the first two reach it, the third kills it.
      const s = await startScript(
        'trap "echo got INT" INT; trap "echo got TERM" TERM; echo ready; while :; do sleep 0.05; done',
      );
      const seen = (n: number) =>
        s
          .out()
          .split('\n')
          .filter((l) => l.startsWith('got ')).length === n
          ? true
          : undefined;
      try {
        s.child.kill(sequence[0]);
        await waitFor('the first signal to reach the command', () => seen(1));
        s.child.kill(sequence[1]);
        await waitFor('the second signal to reach the command', () => seen(2));
        s.child.kill(sequence[2]);
        const r = await s.exited();
        expect(r.code).toBe(137);
        expect(r.stdout).toBe(`ready\ngot ${sequence[0].slice(3)}\ngot ${sequence[1].slice(3)}\n`);
        expect(alive(s.pid)).toBe(false);
      } finally {
        await s.stop();
      }
      expect(pidsMatching(`sh -c ${s.full}`)).toEqual([]);
    });
});

describe('--log-level', () => {
  it('debug adds the engine’s log on stderr; the default level prints none', async () => {
    const quiet = await run(rootfs.path, ['sh', '-c', 'echo out']);
    expect(quiet).toMatchObject({ code: 0, stdout: 'out\n', stderr: '' });
    const debug = await run(rootfs.path, ['sh', '-c', 'echo out'], ['--log-level', 'debug']);
    expect(debug.code).toBe(0);
    expect(debug.stdout).toBe('out\n');
    expect(debug.stderr.split('\n').filter((l) => / DEBUG /.test(l))).not.toEqual([]);
  });
});

describe('directory modes through the CLI, on the host’s own tree', () => {
  /** Prints `PATH: written` or `PATH: EROFS` (or the error) for a write of each path. */
  const TRY_WRITE =
    'w() { if out=$(touch "$1" 2>&1); then echo "$1: written"; else case "$out" in *"Read-only file system"*) echo "$1: EROFS";; *) echo "$1: $out";; esac; fi; }; ';

  /** A tree: DIR/file, DIR/sub/file. */
  function tree(name: string): string {
    const dir = freshDir(name);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'file'), `${name}\n`);
    writeFileSync(join(dir, 'sub', 'file'), `${name} sub\n`);
    return dir;
  }

  const onHost = (script: string, flags: string[]) => run(undefined, ['sh', '-c', TRY_WRITE + script], flags);

  it('--hidden-dir DIR: an empty directory inside, the host’s untouched', async () => {
    const dir = tree('hidden');
    const r = await onHost(`ls -A ${dir}; echo end; w ${dir}/new`, ['--hidden-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`end\n${dir}/new: written\n`);
    expect(existsSync(join(dir, 'new'))).toBe(false);
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('hidden\n');
  });

  it('--read-only-dir DIR: the host’s directory, writes fail with EROFS, in its subtree too', async () => {
    const dir = tree('read-only');
    const r = await onHost(`cat ${dir}/file; w ${dir}/new; w ${dir}/sub/new; w ${dir}/file`, ['--read-only-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`read-only\n${dir}/new: EROFS\n${dir}/sub/new: EROFS\n${dir}/file: EROFS\n`);
    expect(existsSync(join(dir, 'new'))).toBe(false);
  });

  it('--overlay-dir DIR: the host’s directory, writable inside, unchanged after', async () => {
    // DIR is a filesystem of its own (a tmpfs): the overlay of the host root that every run without
    // --rootfs has does not reach into it, so only the --overlay-dir mount shows DIR's files.
    const dir = freshDir('overlay');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'readme-run-overlay', dir]);
    try {
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'file'), 'overlay\n');
      const r = await onHost(
        `cat ${dir}/file && echo changed > ${dir}/file && w ${dir}/new && w ${dir}/sub/new && cat ${dir}/file`,
        ['--overlay-dir', dir],
      );
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`overlay\n${dir}/new: written\n${dir}/sub/new: written\nchanged\n`);
      expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('overlay\n');
      expect(existsSync(join(dir, 'new'))).toBe(false);
      expect(existsSync(join(dir, 'sub', 'new'))).toBe(false);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('--full-access-dir DIR: writes reach the host', async () => {
    const dir = tree('full-access');
    const r = await onHost(`echo changed > ${dir}/file && w ${dir}/sub/new`, ['--full-access-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${dir}/sub/new: written\n`);
    expect(readFileSync(join(dir, 'file'), 'utf8')).toBe('changed\n');
    expect(existsSync(join(dir, 'sub', 'new'))).toBe(true);
  });

  it('a directory’s mode applies to its subtree unless a subdirectory has its own', async () => {
    // top (full access)
    // ├── ro (read-only) ── deep/          read-only as its parent
    // │   └── fa (full access)            writable again, reaching the host
    // ├── hid (hidden)                    empty
    // └── ov (overlay) ── deep/           writable, writes thrown away
    const top = freshDir('nested/top');
    for (const d of ['ro/deep', 'ro/fa', 'hid', 'ov/deep']) mkdirSync(join(top, d), { recursive: true });
    writeFileSync(join(top, 'hid', 'secret'), 'secret\n');
    const r = await onHost(
      [
        `w ${top}/new`,
        `w ${top}/ro/new`,
        `w ${top}/ro/deep/new`,
        `w ${top}/ro/fa/new`,
        `ls -A ${top}/hid`,
        `w ${top}/ov/deep/new`,
      ].join('; '),
      [
        '--full-access-dir',
        top,
        '--read-only-dir',
        join(top, 'ro'),
        '--full-access-dir',
        join(top, 'ro/fa'),
        '--hidden-dir',
        join(top, 'hid'),
        '--overlay-dir',
        join(top, 'ov'),
      ],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        `${top}/new: written`,
        `${top}/ro/new: EROFS`,
        `${top}/ro/deep/new: EROFS`,
        `${top}/ro/fa/new: written`,
        `${top}/ov/deep/new: written`,
        '',
      ].join('\n'),
    );
    expect(existsSync(join(top, 'new'))).toBe(true);
    expect(existsSync(join(top, 'ro/new'))).toBe(false);
    expect(existsSync(join(top, 'ro/deep/new'))).toBe(false);
    expect(existsSync(join(top, 'ro/fa/new'))).toBe(true);
    expect(existsSync(join(top, 'ov/deep/new'))).toBe(false);
  });
});

describe('mount errors', () => {
  it('an unknown mount option is one error line and status 125, and nothing runs', async () => {
    const marker = join(rootfs.path, 'ran-bogus');
    try {
      const r = await run(
        rootfs.path,
        ['sh', '-c', 'echo ran; touch /ran-bogus'],
        ['--mount', 'type=tmpfs,destination=/x,bogus=1'],
      );
      expect(r.code).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Error: [^\n]*"bogus"[^\n]*\n$/);
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(marker, { force: true });
    }
  });
});

describe('recursive read-only binds', () => {
  it('every submount of an rbind,ro source is read-only inside; the host’s stay writable', async () => {
    const src = freshDir('rbind-src');
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'top'), 'top\n');
    const sub = join(src, 'sub');
    const deeper = join(sub, 'deeper');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'readme-run-sub', sub]);
    try {
      mkdirSync(deeper);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'readme-run-deeper', deeper]);
      try {
        const r = await run(
          rootfs.path,
          [
            'sh',
            '-c',
            'cat /proc/self/mountinfo; echo ==; for d in /t /t/sub /t/sub/deeper; do touch $d/new 2>/dev/null && echo "$d writable"; done; echo end',
          ],
          ['-v', `${src}:/t:rbind,ro`],
        );
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const [table, writes] = r.stdout.split('==\n');
        const mounts = new Map(parseMountInfo(table).map((m) => [m.mountPoint, m]));
        for (const [point, source] of [
          ['/t/sub', 'readme-run-sub'],
          ['/t/sub/deeper', 'readme-run-deeper'],
        ]) {
          expect(mounts.get(point)?.source, point).toBe(source);
        }
        for (const point of ['/t', '/t/sub', '/t/sub/deeper']) expect(mounts.get(point)?.options[0], point).toBe('ro');
        expect(writes).toBe('end\n');
        // The host's own submounts are still writable.
        writeFileSync(join(deeper, 'host-write'), 'x');
      } finally {
        execFileSync('umount', [deeper]);
      }
    } finally {
      execFileSync('umount', [sub]);
    }
  });
});

// A FUSE filesystem (the kernel's protocol on /dev/fuse, spoken by python3) whose only entry is the
// directory `dir`. A lookup of `dir` by a process of another mount namespace than its own (the
// stage, once it has unshared) gets no answer until a line arrives on its stdin: the stage waits in
// the kernel, in the middle of staging its bind sources, where the test can look at them.
const FUSE_SERVER = String.raw`import ctypes, os, select, struct, sys
mnt = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open('/dev/fuse', os.O_RDWR)
opts = f'fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other'.encode()
if libc.mount(b'readme-run-fuse', mnt.encode(), b'fuse', 6, opts) != 0:  # MS_NOSUID|MS_NODEV
    sys.exit(f'mount: {os.strerror(ctypes.get_errno())}')
print('mounted', flush=True)
own_ns = os.readlink('/proc/self/ns/mnt')
def attr(ino):
    # ino size blocks atime mtime ctime (ns x3) mode nlink uid gid rdev blksize flags
    return struct.pack('<QQQQQQIIIIIIIIII', ino, 0, 0, 0, 0, 0, 0, 0, 0, 0o40755, 2, 0, 0, 0, 4096, 0)
def reply(unique, error=0, body=b''):
    os.write(fd, struct.pack('<IiQ', 16 + len(body), error, unique) + body)
blocked, held = None, False  # held: the one lookup held back so far
watch = [fd, 0]
while True:
    ready, _, _ = select.select(watch, [], [])
    if 0 in ready:
        line = sys.stdin.readline()
        if not line:
            watch = [fd]  # serve on until unmounted
        if blocked is not None:
            reply(blocked, body=struct.pack('<QQQQII', 2, 0, 0, 0, 0, 0) + attr(2))
            blocked = None
        continue
    try:
        req = os.read(fd, 1 << 20)
    except OSError:
        break
    length, opcode, unique, nodeid, uid, gid, pid = struct.unpack_from('<IIQQIII', req)
    if opcode == 26:  # INIT
        reply(unique, body=struct.pack('<IIIIHHIIHHI7I', 7, 31, 0, 0, 16, 12, 65536, 1, 0, 0, 0, *[0] * 7))
    elif opcode == 1:  # LOOKUP
        name = req[40:].split(b'\0')[0]
        if name != b'dir':
            reply(unique, -2)
            continue
        try:
            other = os.readlink(f'/proc/{pid}/ns/mnt') != own_ns
        except OSError:
            other = False
        if other and not held:
            blocked, held = unique, True
            print(f'blocked {pid}', flush=True)
        else:
            reply(unique, body=struct.pack('<QQQQII', 2, 0, 0, 0, 0, 0) + attr(2))
    elif opcode == 3:  # GETATTR
        reply(unique, body=struct.pack('<QII', 0, 0, 0) + attr(nodeid))
    elif opcode in (2, 42, 36):  # FORGET, BATCH_FORGET, INTERRUPT: no reply
        pass
    else:
        reply(unique, -38)  # ENOSYS
`;

describe('bind pinning', () => {
  it('each source is bound into a private 0100 directory of the run’s scratch tmpfs first', async () => {
    requireTools('python3');
    const first = freshDir('staged-first');
    writeFileSync(join(first, 'a'), 'a\n');
    const fuse = freshDir('staged-fuse');
    const server = spawn('python3', ['-c', FUSE_SERVER, fuse], { stdio: ['pipe', 'pipe', 'inherit'] });
    let said = '';
    server.stdout.on('data', (d) => {
      said += d;
    });
    const serverDone = new Promise((resolve) => server.on('close', resolve));
    let builderRun: Started | undefined;
    try {
      await waitFor('the FUSE server to mount', () => (said.includes('mounted\n') ? true : undefined));
      builderRun = startBuilder([
        'run',
        '--rootfs',
        rootfs.path,
        '-v',
        `${first}:/a:ro`,
        '-v',
        `${fuse}/dir:/b`,
        '--',
        'cat',
        '/a/a',
      ]);
      const stage = Number(
        await waitFor('the stage to look the second source up', () => /blocked (\d+)\n/.exec(said)?.[1]),
      );
      // The stage's own mount table: the first source is bound at <staging dir>/<its copy>.
      const staged = parseMountInfo(readFileSync(`/proc/${stage}/mountinfo`, 'utf8')).filter((m) => m.root === first);
      expect(staged).toHaveLength(1);
      const copy = staged[0].mountPoint;
      const stagingDir = copy.slice(0, copy.lastIndexOf('/'));
      // The staging directory (seen through the stage's root, in its mount namespace): mode 0100, on
      // a tmpfs that the host does not see.
      expect(statSync(`/proc/${stage}/root${stagingDir}`).mode & 0o7777).toBe(0o100);
      const scratch = parseMountInfo(readFileSync(`/proc/${stage}/mountinfo`, 'utf8'))
        .filter((m) => stagingDir.startsWith(`${m.mountPoint}/`))
        .at(-1);
      expect(scratch?.fstype).toBe('tmpfs');
      expect(mountsUnder(base, rootfs.path)).not.toContain(copy);
      server.stdin.end('release\n');
      const r = await builderRun.done;
      expect(r).toMatchObject({ code: 0, stdout: 'a\n', stderr: '' });
    } finally {
      server.stdin.end();
      if (builderRun && builderRun.child.exitCode === null && builderRun.child.signalCode === null)
        builderRun.child.kill('SIGKILL');
      await builderRun?.done;
      if (mountsUnder(fuse).includes(' readme-run-fuse ')) execFileSync('umount', [fuse]);
      await serverDone;
    }
  });
});

describe('--user and the mounts', () => {
  it('a name is looked up after the mounts: in a passwd bound over /etc/passwd', async () => {
    const dir = freshDir('accounts');
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\ncarol:x:3456:3457:Carol:/home/carol:/bin/sh\n');
    const without = await run(rootfs.path, ['id', '-u'], ['--user', 'carol']);
    expect(without).toMatchObject({ code: 125, stdout: '' });
    const r = await run(
      rootfs.path,
      ['sh', '-c', 'id -u; id -g'],
      ['-v', `${passwd}:/etc/passwd:ro`, '--user', 'carol'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('3456\n3457\n');
    expect(r.code).toBe(0);
  });

  it('-v SRC:DST:U with --user UID:GID gives the source to that user', async () => {
    const src = freshDir('give');
    mkdirSync(join(src, 'sub'));
    writeFileSync(join(src, 'sub', 'f'), 'x');
    const r = await run(
      rootfs.path,
      ['sh', '-c', 'id -u; stat -c %u:%g /v /v/sub/f; touch /v/mine'],
      ['-v', `${src}:/v:U`, '--user', '1234:4321'],
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1234\n1234:4321\n1234:4321\n');
    expect(r.code).toBe(0);
    for (const p of [src, join(src, 'sub'), join(src, 'sub', 'f'), join(src, 'mine')]) {
      const st = statSync(p);
      expect(`${st.uid}:${st.gid}`, p).toBe('1234:4321');
    }
  });

  it('-v SRC:DST:U with a user name (or a uid alone) is one error line, status 125, nothing changed', async () => {
    const src = freshDir('give-by-name');
    writeFileSync(join(src, 'f'), 'x');
    for (const user of ['carol', '1234']) {
      const r = await run(
        rootfs.path,
        ['sh', '-c', 'echo ran; touch /tmp/ran-U'],
        ['-v', `${src}:/v:U`, '--user', user],
      );
      expect(r.code, user).toBe(125);
      expect(r.stdout, user).toBe('');
      expect(r.stderr, user).toMatch(/^Error: [^\n]*give the user as UID:GID\n$/);
      expect(statSync(join(src, 'f')).uid, user).toBe(0);
      expect(existsSync(join(rootfs.path, 'tmp/ran-U')), user).toBe(false);
    }
  });
});
