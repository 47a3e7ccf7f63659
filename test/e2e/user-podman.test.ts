// lookupContainerUser against podman itself: for each USER[:GROUP] spec, podman runs a shell as that
// user on a rootfs with the same /etc/passwd and /etc/group, and the kernel's account of the shell
// (Uid, Gid, Groups in /proc/self/status) and its $HOME must be what lookupContainerUser answers from
// those files; for an unknown name, podman's error line must be builder's message.
//
// The files are well-formed: where they are damaged (a non-number id, a space after a comma in a member
// list, an empty home field), builder follows glibc and its README rather than podman's parser, which
// packages/native/test/user.test.ts checks on its own.
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupContainerUser, O_CLOEXEC, O_DIRECTORY, O_PATH, open } from '@builder/native';
import { parseUserSpec, UserLookupError } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { podmanRun, requireTools } from '../helpers/tools.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment, then a blank line

alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
dup:x:1003:1003::/first:
dup:x:1004:1004::/second:
`;
const GROUP = `root:x:0:
# a comment
wheel:x:10:alice,bob
alice:x:1000:
bob:x:1001:
devs:x:2000:alice
again:x:10:alice
`;

/** The test's own directory: the rootfs and podman's store, run and temp directories. */
let work: string;
let rootfs: string;
let mountsBefore: string;

beforeAll(() => {
  requireRoot();
  requireTools('podman');
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-user-podman-'));
  rootfs = join(work, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Neither podman nor the lookup leaves a mount under the test's directory.
beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
});

/** The rootfs's account files: both, or none (no /etc at all). */
function accounts(files: { passwd: string; group: string } | undefined): void {
  rmSync(join(rootfs, 'etc'), { recursive: true, force: true });
  if (!files) return;
  mkdirSync(join(rootfs, 'etc'));
  writeFileSync(join(rootfs, 'etc/passwd'), files.passwd);
  writeFileSync(join(rootfs, 'etc/group'), files.group);
}

interface Account {
  uid: number;
  gid: number;
  /** Sorted, as the kernel keeps them. */
  groups: number[];
  home: string;
}

/** lookupContainerUser's answer for the rootfs as it is now, or its error message. */
function builderAnswer(spec: string): Account | string {
  const rootFd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    const u = lookupContainerUser(rootFd, parseUserSpec(spec));
    return { uid: u.uid, gid: u.gid, groups: [...u.groups].sort((a, b) => a - b), home: u.home };
  } catch (err) {
    expect(err, spec).toBeInstanceOf(UserLookupError);
    return (err as Error).message;
  } finally {
    closeSync(rootFd);
  }
}

/** What podman runs a shell with for `--user spec` on the rootfs, or its error line. */
function podmanAnswer(spec: string): Account | string {
  const r = spawnSync(
    'podman',
    [
      ...podmanRun(join(work, 'podman')),
      // Its own copy of /etc/passwd and /etc/group: no entry added for a user that has none.
      '--passwd=false',
      ...['--network', 'none'],
      ...['--user', spec, '--rootfs', rootfs],
      ...['/bin/busybox', 'sh', '-c', 'grep -E "^(Uid|Gid|Groups):" /proc/self/status; echo "HOME=$HOME"'],
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const line = r.stderr.trim();
    if (r.status === 126 && /^Error: unable to find (user|group) /.test(line)) return line.replace(/^Error: /, '');
    throw new Error(`podman --user ${spec} failed (status ${r.status}): ${line}`);
  }
  const field = (name: string, sep = ':') => {
    const m = new RegExp(`^${name}${sep}(.*)$`, 'm').exec(r.stdout);
    if (!m) throw new Error(`podman --user ${spec}: no ${name} in ${JSON.stringify(r.stdout)}`);
    return m[1];
  };
  const ids = (name: string) => field(name).trim().split(/\s+/).filter(Boolean).map(Number);
  const [uid, euid] = ids('Uid');
  const [gid, egid] = ids('Gid');
  expect([euid, egid], `podman --user ${spec}: effective ids`).toEqual([uid, gid]);
  return { uid, gid, groups: ids('Groups').sort((a, b) => a - b), home: field('HOME', '=') };
}

/** builder's and podman's answers for each spec, side by side. */
function compare(specs: string[]): void {
  const builder = Object.fromEntries(specs.map((s) => [s, builderAnswer(s)]));
  const podman = Object.fromEntries(specs.map((s) => [s, podmanAnswer(s)]));
  expect(builder).toEqual(podman);
}

describe('lookupContainerUser gives the answers podman gives, for the same files and specs', () => {
  beforeEach(() => accounts({ passwd: PASSWD, group: GROUP }));

  it('a name or a uid: its ids and home, and every group that lists it', () => {
    compare(['alice', 'bob', '1000', 'root', '0']);
  });

  it('an explicit group replaces the primary one and drops the supplementary groups', () => {
    compare(['1000:1000', 'alice:devs', '1000:devs', 'alice:2000', 'alice:4321', '1000:wheel']);
  });

  it('a uid without an entry: gid 0, or the one given, and home /', () => {
    compare(['4242', '4242:77']);
  });

  it('the first of two entries with one name; the second one by its uid', () => {
    compare(['dup', '1004']);
  });

  it('an unknown user or group: the same message', () => {
    compare(['nobody', 'alice:nogroup', 'nobody:devs']);
    expect(builderAnswer('nobody')).toBe('unable to find user nobody: no matching entries in passwd file');
  });
});

describe('lookupContainerUser without /etc/passwd and /etc/group gives the answers podman gives', () => {
  beforeEach(() => accounts(undefined));

  it('ids work, names do not', () => {
    compare(['1000:1000', '1000', '7', 'root', '1:wheel']);
  });
});
