// USER[:GROUP] specs and their lookup in a container's /etc/passwd and /etc/group, read from real
// files in a temp root the way the stage reads them (by fd, inside the root). The rules are podman's
// (test/e2e/user-podman.test.ts runs podman itself on well-formed files and compares); these files
// also have damaged lines, where builder follows glibc and the README instead of podman's parser:
// podman reads a non-number id as 0 (so "broken:x:x:alice" puts alice in group 0, and user broken is
// root), keeps the space in "alice, bob" (bob is not in wheel), and gives an empty HOME for an empty
// home field.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_DIRECTORY, O_PATH } from '../src/constants.js';
import { containerAccounts, lookupContainerUser, readFileInRoot } from '../src/container-user.js';
import { open } from '../src/syscalls.js';
import {
  formatUserSpec,
  MAX_ID,
  parseGroup,
  parsePasswd,
  parseUserSpec,
  resolveUser,
  UserLookupError,
} from '../src/user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment, then a blank line and a NIS line, both skipped

+::::::
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
nohome:x:1002:1002::
broken:x:notanumber:1:::
dup:x:1003:1003::/first:
dup:x:1004:1004::/second:
`;
const GROUP = `root:x:0:
wheel:x:10:alice, bob
alice:x:1000:
bob:x:1001:
devs:x:2000:alice
broken:x:x:alice
again:x:10:alice
`;

let root: string;
let rootFd: number;

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'builder-user-')));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), PASSWD);
  writeFileSync(join(root, 'etc/group'), GROUP);
  rootFd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
});

afterEach(() => {
  closeSync(rootFd);
  rmSync(root, { recursive: true, force: true });
});

const lookup = (spec: string) => lookupContainerUser(rootFd, parseUserSpec(spec));

describe('parseUserSpec', () => {
  it('takes names and ids, with or without a group', () => {
    expect(parseUserSpec('alice')).toEqual({ user: 'alice' });
    expect(parseUserSpec('1000')).toEqual({ user: 1000 });
    expect(parseUserSpec('alice:devs')).toEqual({ user: 'alice', group: 'devs' });
    expect(parseUserSpec('1000:1000')).toEqual({ user: 1000, group: 1000 });
    expect(parseUserSpec('1000:devs')).toEqual({ user: 1000, group: 'devs' });
    expect(parseUserSpec('alice:2000')).toEqual({ user: 'alice', group: 2000 });
    expect(parseUserSpec('0')).toEqual({ user: 0 });
    expect(parseUserSpec(`${MAX_ID}:${MAX_ID}`)).toEqual({ user: MAX_ID, group: MAX_ID });
    // Not all digits: a name (podman treats it the same way).
    expect(parseUserSpec('1e3')).toEqual({ user: '1e3' });
    expect(parseUserSpec('-1')).toEqual({ user: '-1' });
    expect(parseUserSpec('www-data:www-data')).toEqual({ user: 'www-data', group: 'www-data' });
  });

  it('formats a spec back, ids as plain numbers', () => {
    expect(formatUserSpec(parseUserSpec('alice'))).toBe('alice');
    expect(formatUserSpec(parseUserSpec('0001000:0010'))).toBe('1000:10');
  });

  it('refuses malformed specs with one line naming them', () => {
    const cases: [string, string][] = [
      ['', 'invalid user "": the user is empty (expected USER[:GROUP])'],
      [':1000', 'invalid user ":1000": the user is empty (expected USER[:GROUP])'],
      ['alice:', 'invalid user "alice:": the group is empty (expected USER[:GROUP])'],
      ['a:b:c', 'invalid user "a:b:c": expected USER[:GROUP]'],
      ['al ice', 'invalid user "al ice": user "al ice" is not a valid name'],
      ['alice:d/evs', 'invalid user "alice:d/evs": group "d/evs" is not a valid name'],
      ['a\nb', 'invalid user "a\\nb": user "a\\nb" is not a valid name'],
      ['2147483648', 'invalid user "2147483648": user id 2147483648 is out of range (0-2147483647)'],
      ['1:99999999999', 'invalid user "1:99999999999": group id 99999999999 is out of range (0-2147483647)'],
    ];
    for (const [spec, message] of cases) expect(() => parseUserSpec(spec), spec).toThrow(message);
  });
});

describe('parsePasswd and parseGroup (files read inside a root)', () => {
  it('reads the entries in order and skips comments, blank, NIS and malformed lines', () => {
    const { passwd, group } = containerAccounts(rootFd);
    expect(passwd?.map((p) => `${p.name}:${p.uid}:${p.gid}:${p.home}`)).toEqual([
      'root:0:0:/root',
      'alice:1000:1000:/home/alice',
      'bob:1001:1001:/home/bob',
      'nohome:1002:1002:',
      'dup:1003:1003:/first',
      'dup:1004:1004:/second',
    ]);
    expect(group).toEqual([
      { name: 'root', gid: 0, members: [] },
      { name: 'wheel', gid: 10, members: ['alice', 'bob'] },
      { name: 'alice', gid: 1000, members: [] },
      { name: 'bob', gid: 1001, members: [] },
      { name: 'devs', gid: 2000, members: ['alice'] },
      { name: 'again', gid: 10, members: ['alice'] },
    ]);
  });

  it('takes CRLF line ends and short lines', () => {
    expect(parsePasswd('a:x:1:2:g:/h:/s\r\nb:x:3:4\r\n')).toEqual([
      { name: 'a', uid: 1, gid: 2, home: '/h' },
      { name: 'b', uid: 3, gid: 4, home: '' },
    ]);
    expect(parseGroup('g:x:5\r\n')).toEqual([{ name: 'g', gid: 5, members: [] }]);
  });
});

describe("lookupContainerUser: podman's rules, glibc's on damaged lines", () => {
  it('a name: its ids and home, every group that lists it, the primary gid first', () => {
    // Not in group 0 of the line "broken:x:x:alice"; bob is in wheel ("alice, bob"): glibc's reading.
    expect(lookup('alice')).toEqual({ uid: 1000, gid: 1000, groups: [1000, 10, 2000], home: '/home/alice' });
    expect(lookup('bob')).toEqual({ uid: 1001, gid: 1001, groups: [1001, 10], home: '/home/bob' });
  });

  it('a uid with a passwd entry is that user, supplementary groups included', () => {
    expect(lookup('1000')).toEqual(lookup('alice'));
  });

  it('an explicit group replaces the primary one and drops the supplementary groups', () => {
    const alice = { uid: 1000, home: '/home/alice' };
    expect(lookup('1000:1000')).toEqual({ ...alice, gid: 1000, groups: [1000] });
    expect(lookup('alice:devs')).toEqual({ ...alice, gid: 2000, groups: [2000] });
    expect(lookup('1000:devs')).toEqual({ ...alice, gid: 2000, groups: [2000] });
    expect(lookup('alice:2000')).toEqual({ ...alice, gid: 2000, groups: [2000] });
    // A gid need not be in /etc/group.
    expect(lookup('alice:4321')).toEqual({ ...alice, gid: 4321, groups: [4321] });
  });

  it('a uid without an entry runs with gid 0 and home /', () => {
    expect(lookup('4242')).toEqual({ uid: 4242, gid: 0, groups: [0], home: '/' });
    expect(lookup('4242:77')).toEqual({ uid: 4242, gid: 77, groups: [77], home: '/' });
  });

  it('root, an empty home field (/, as the README says), and the first of two entries', () => {
    expect(lookup('root')).toEqual({ uid: 0, gid: 0, groups: [0], home: '/root' });
    expect(lookup('0')).toEqual(lookup('root'));
    expect(lookup('nohome')).toEqual({ uid: 1002, gid: 1002, groups: [1002], home: '/' });
    expect(lookup('dup')).toMatchObject({ uid: 1003, home: '/first' });
  });

  it("refuses an unknown user or group with podman's message", () => {
    expect(() => lookup('nobody')).toThrow(UserLookupError);
    expect(() => lookup('nobody')).toThrow('unable to find user nobody: no matching entries in passwd file');
    // A passwd line whose uid is not a number is skipped (podman would run as uid 0).
    expect(() => lookup('broken')).toThrow('unable to find user broken: no matching entries in passwd file');
    expect(() => lookup('alice:nogroup')).toThrow('unable to find group nogroup: no matching entries in group file');
  });

  it('without /etc/passwd and /etc/group: ids work, names do not', () => {
    rmSync(join(root, 'etc'), { recursive: true });
    expect(lookup('1000:1000')).toEqual({ uid: 1000, gid: 1000, groups: [1000], home: '/' });
    expect(lookup('1000')).toEqual({ uid: 1000, gid: 0, groups: [0], home: '/' });
    expect(() => lookup('root')).toThrow('unable to find user root: no matching entries in passwd file');
    expect(() => lookup('1:wheel')).toThrow('unable to find group wheel: no matching entries in group file');
    // /etc a file: the same as missing.
    writeFileSync(join(root, 'etc'), 'not a directory');
    expect(lookup('7')).toEqual({ uid: 7, gid: 0, groups: [0], home: '/' });
  });

  it("never reads the host's files through a symlink", () => {
    // A passwd outside the root that knows eve, and symlinks in the root that point at it.
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'builder-user-host-')));
    try {
      writeFileSync(join(outside, 'passwd'), 'eve:x:666:666::/eve:/bin/sh\n');
      writeFileSync(join(outside, 'group'), 'evil:x:667:alice\n');
      rmSync(join(root, 'etc/passwd'));
      rmSync(join(root, 'etc/group'));
      symlinkSync(join(outside, 'passwd'), join(root, 'etc/passwd'));
      symlinkSync(`../../../../../../../../..${outside}/group`, join(root, 'etc/group'));
      expect(() => lookup('eve')).toThrow('unable to find user eve: no matching entries in passwd file');
      expect(() => lookup('1:evil')).toThrow('unable to find group evil: no matching entries in group file');
      // The same targets inside the root are what gets read.
      mkdirSync(join(root, outside), { recursive: true });
      writeFileSync(join(root, outside, 'passwd'), 'eve:x:1666:1666::/in-root:/bin/sh\n');
      writeFileSync(join(root, outside, 'group'), 'evil:x:1667:eve\n');
      expect(lookup('eve')).toEqual({ uid: 1666, gid: 1666, groups: [1666, 1667], home: '/in-root' });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('refuses an /etc/passwd that is a fifo or a directory (a fifo would block the stage)', () => {
    rmSync(join(root, 'etc/passwd'));
    execFileSync('mkfifo', [join(root, 'etc/passwd')]);
    expect(() => lookup('alice')).toThrow('/etc/passwd in the container is not a regular file');
    rmSync(join(root, 'etc/passwd'));
    mkdirSync(join(root, 'etc/passwd'));
    expect(() => lookup('alice')).toThrow('/etc/passwd in the container is not a regular file');
  });

  it('readFileInRoot: the text of a file, undefined when it is missing', () => {
    expect(readFileInRoot(rootFd, '/etc/group')).toBe(GROUP);
    expect(readFileInRoot(rootFd, 'etc/../etc/./passwd')).toBe(PASSWD);
    expect(readFileInRoot(rootFd, '/etc/shadow')).toBeUndefined();
    expect(readFileInRoot(rootFd, '/nope/passwd')).toBeUndefined();
  });
});

describe('resolveUser without files', () => {
  it('undefined passwd and group: a missing file', () => {
    expect(resolveUser({ user: 5, group: 6 }, undefined, undefined)).toEqual({
      uid: 5,
      gid: 6,
      groups: [6],
      home: '/',
    });
    expect(() => resolveUser({ user: 'x' }, undefined, undefined)).toThrow(/unable to find user x/);
  });
});
