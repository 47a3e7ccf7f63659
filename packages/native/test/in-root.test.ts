import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_DIRECTORY, O_PATH } from '../src/constants.js';
import { fdPath, joinPath, resolveInRoot, resolveParentInRoot, splitPath } from '../src/in-root.js';
import { SyscallError } from '../src/syscall-error.js';
import { open } from '../src/syscalls.js';

let root: string;
let rootFd: number;
let oldUmask: number;

beforeEach(() => {
  oldUmask = process.umask(0);
  root = realpathSync(mkdtempSync(join(tmpdir(), 'builder-in-root-')));
  rootFd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
});

afterEach(() => {
  closeSync(rootFd);
  rmSync(root, { recursive: true, force: true });
  process.umask(oldUmask);
});

/** Host path of an fd, closing it. */
function pathOf(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } finally {
    closeSync(fd);
  }
}

const openFds = () => readdirSync('/proc/self/fd').length;

function errorOf(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SyscallError);
    return err as SyscallError;
  }
  throw new Error('expected an error');
}

describe('resolveInRoot', () => {
  it('resolves an existing path', () => {
    mkdirSync(join(root, 'a/b'), { recursive: true });
    writeFileSync(join(root, 'a/b/f'), 'x');
    const r = resolveInRoot(rootFd, '/a/b/f');
    expect(r.path).toBe('/a/b/f');
    expect(r.created).toEqual([]);
    expect(pathOf(r.fd)).toBe(join(root, 'a/b/f'));
  });

  it('resolves the root itself for "/", "" and "."', () => {
    for (const p of ['/', '', '.', '//./']) {
      const r = resolveInRoot(rootFd, p);
      expect(r.path).toBe('/');
      expect(r.created).toEqual([]);
      expect(pathOf(r.fd)).toBe(root);
    }
  });

  it('creates missing directories parents first, mode 0755', () => {
    mkdirSync(join(root, 'a'));
    const r = resolveInRoot(rootFd, '/a/b/c/d', { kind: 'dir' });
    expect(r.path).toBe('/a/b/c/d');
    expect(r.created).toEqual(['/a/b', '/a/b/c', '/a/b/c/d']);
    expect(pathOf(r.fd)).toBe(join(root, 'a/b/c/d'));
    for (const d of ['a/b', 'a/b/c', 'a/b/c/d']) {
      const st = statSync(join(root, d));
      expect(st.isDirectory()).toBe(true);
      expect(st.mode & 0o7777).toBe(0o755);
    }
  });

  it('gives the final directory the mode asked for, parents 0755', () => {
    const r = resolveInRoot(rootFd, '/x/y', { kind: 'dir', mode: 0o700 });
    closeSync(r.fd);
    expect(statSync(join(root, 'x')).mode & 0o7777).toBe(0o755);
    expect(statSync(join(root, 'x/y')).mode & 0o7777).toBe(0o700);
  });

  it("creates an empty file for kind 'file' (default mode 0644)", () => {
    const r = resolveInRoot(rootFd, '/etc/hosts', { kind: 'file' });
    expect(r.path).toBe('/etc/hosts');
    expect(r.created).toEqual(['/etc', '/etc/hosts']);
    expect(pathOf(r.fd)).toBe(join(root, 'etc/hosts'));
    const st = statSync(join(root, 'etc/hosts'));
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(0);
    expect(st.mode & 0o7777).toBe(0o644);
    expect(statSync(join(root, 'etc')).isDirectory()).toBe(true);
  });

  it("creates a file with the mode asked for and leaves an existing file's content alone", () => {
    closeSync(resolveInRoot(rootFd, '/f', { kind: 'file', mode: 0o600 }).fd);
    expect(statSync(join(root, 'f')).mode & 0o7777).toBe(0o600);
    writeFileSync(join(root, 'f'), 'keep');
    const r = resolveInRoot(rootFd, '/f', { kind: 'file' });
    expect(r.created).toEqual([]);
    closeSync(r.fd);
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('keep');
  });

  it('follows an absolute symlink inside the root, not on the host', () => {
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'tmp'));
    const r = resolveInRoot(rootFd, '/tmp');
    expect(r.path).toBe('/etc');
    expect(pathOf(r.fd)).toBe(join(root, 'etc'));
  });

  it('creates below an absolute symlink inside the root, never in the host directory', () => {
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'tmp'));
    const name = `builder-test-${process.pid}-${Date.now()}`;
    const r = resolveInRoot(rootFd, `/tmp/${name}`, { kind: 'file' });
    expect(r.path).toBe(`/etc/${name}`);
    expect(r.created).toEqual([`/etc/${name}`]);
    expect(pathOf(r.fd)).toBe(join(root, 'etc', name));
    expect(existsSync(join('/etc', name))).toBe(false);
    expect(existsSync(join(root, 'etc', name))).toBe(true);
  });

  it('restarts at the root for an absolute symlink deep in the tree', () => {
    mkdirSync(join(root, 'etc'));
    mkdirSync(join(root, 'a/b'), { recursive: true });
    symlinkSync('/etc', join(root, 'a/b/link'));
    const r = resolveInRoot(rootFd, '/a/b/link/x', { kind: 'file' });
    expect(r.path).toBe('/etc/x');
    expect(r.created).toEqual(['/etc/x']);
    expect(pathOf(r.fd)).toBe(join(root, 'etc/x'));
    expect(existsSync(join(root, 'a/b/etc'))).toBe(false);
  });

  it('keeps a relative escape (x -> ../../..) inside the root', () => {
    symlinkSync('../../..', join(root, 'x'));
    const r = resolveInRoot(rootFd, '/x/f', { kind: 'file' });
    expect(r.path).toBe('/f');
    expect(r.created).toEqual(['/f']);
    expect(pathOf(r.fd)).toBe(join(root, 'f'));
    expect(lstatSync(join(root, 'f')).isFile()).toBe(true);
  });

  it('follows relative symlinks from the directory that holds them', () => {
    mkdirSync(join(root, 'a/real'), { recursive: true });
    mkdirSync(join(root, 'b'));
    symlinkSync('real', join(root, 'a/link'));
    symlinkSync('../a/link', join(root, 'b/up'));
    const r = resolveInRoot(rootFd, '/b/up');
    expect(r.path).toBe('/a/real');
    expect(pathOf(r.fd)).toBe(join(root, 'a/real'));
  });

  it('never climbs above the root with ..', () => {
    mkdirSync(join(root, 'etc'));
    const r = resolveInRoot(rootFd, '/../../../etc');
    expect(r.path).toBe('/etc');
    expect(pathOf(r.fd)).toBe(join(root, 'etc'));
    const top = resolveInRoot(rootFd, '/etc/../../..');
    expect(top.path).toBe('/');
    expect(pathOf(top.fd)).toBe(root);
  });

  it('treats .. after a symlink as the parent of its target', () => {
    mkdirSync(join(root, 'x/y'), { recursive: true });
    symlinkSync('/x/y', join(root, 'l'));
    const r = resolveInRoot(rootFd, '/l/..');
    expect(r.path).toBe('/x');
    expect(pathOf(r.fd)).toBe(join(root, 'x'));
  });

  it('fails with ELOOP on a symlink loop, closing what it opened', () => {
    symlinkSync('b', join(root, 'a'));
    symlinkSync('/a', join(root, 'b'));
    symlinkSync('self', join(root, 'self'));
    const before = openFds();
    const err = errorOf(() => resolveInRoot(rootFd, '/a/x', { kind: 'dir' }));
    expect(err.code).toBe('ELOOP');
    expect(err.errno).toBe(-40);
    expect(err.message).toBe("ELOOP: too many symbolic links encountered, resolve '/a/x'");
    expect(errorOf(() => resolveInRoot(rootFd, '/self')).code).toBe('ELOOP');
    expect(openFds()).toBe(before);
    expect(readdirSync(root).sort()).toEqual(['a', 'b', 'self']);
  });

  it('follows a chain of 40 symlinks but not 41', () => {
    mkdirSync(join(root, 'end'));
    symlinkSync('/end', join(root, 'l0'));
    for (let i = 1; i <= 40; i++) symlinkSync(`/l${i - 1}`, join(root, `l${i}`));
    const r = resolveInRoot(rootFd, '/l39');
    expect(r.path).toBe('/end');
    closeSync(r.fd);
    expect(errorOf(() => resolveInRoot(rootFd, '/l40')).code).toBe('ELOOP');
  });

  it('fails with ENOTDIR on a non-directory in the middle', () => {
    mkdirSync(join(root, 'a'));
    writeFileSync(join(root, 'a/file'), '');
    const before = openFds();
    const err = errorOf(() => resolveInRoot(rootFd, '/a/file/x', { kind: 'dir' }));
    expect(err.code).toBe('ENOTDIR');
    expect(err.path).toBe('/a/file');
    expect(err.message).toBe("ENOTDIR: not a directory, resolve '/a/file'");
    expect(openFds()).toBe(before);
    expect(existsSync(join(root, 'a/file/x'))).toBe(false);
  });

  it('fails with ENOENT on a missing path without create, and creates nothing', () => {
    mkdirSync(join(root, 'a'));
    const before = openFds();
    const err = errorOf(() => resolveInRoot(rootFd, '/a/missing/x'));
    expect(err.code).toBe('ENOENT');
    expect(err.syscall).toBe('openat');
    expect(err.path).toBe('missing');
    expect(openFds()).toBe(before);
    expect(readdirSync(join(root, 'a'))).toEqual([]);
  });

  it('creates the target of a dangling absolute symlink inside the root', () => {
    const name = `builder-dangling-${process.pid}-${Date.now()}`;
    mkdirSync(join(root, 'sub'));
    symlinkSync(`/${name}/dir`, join(root, 'sub/link'));
    const r = resolveInRoot(rootFd, '/sub/link', { kind: 'dir' });
    expect(r.path).toBe(`/${name}/dir`);
    expect(r.created).toEqual([`/${name}`, `/${name}/dir`]);
    expect(pathOf(r.fd)).toBe(join(root, name, 'dir'));
    expect(statSync(join(root, name, 'dir')).isDirectory()).toBe(true);
    expect(existsSync(`/${name}`)).toBe(false);
    expect(existsSync(join(root, 'sub', name))).toBe(false);
  });

  it('returns an fd usable as a path through /proc/self/fd', () => {
    mkdirSync(join(root, 'd'));
    const r = resolveInRoot(rootFd, '/d');
    try {
      expect(fdPath(r.fd)).toBe(`/proc/self/fd/${r.fd}`);
      expect(statSync(fdPath(r.fd)).ino).toBe(statSync(join(root, 'd')).ino);
    } finally {
      closeSync(r.fd);
    }
  });
});

describe('resolveParentInRoot', () => {
  it('resolves the parent and returns the final name', () => {
    mkdirSync(join(root, 'dev'));
    const r = resolveParentInRoot(rootFd, '/dev/null', false);
    expect(r.name).toBe('null');
    expect(r.path).toBe('/dev');
    expect(r.created).toEqual([]);
    expect(pathOf(r.fd)).toBe(join(root, 'dev'));
  });

  it('creates missing parents when asked, not the final name', () => {
    const r = resolveParentInRoot(rootFd, '/a/b/c', true);
    expect(r.name).toBe('c');
    expect(r.path).toBe('/a/b');
    expect(r.created).toEqual(['/a', '/a/b']);
    expect(pathOf(r.fd)).toBe(join(root, 'a/b'));
    expect(existsSync(join(root, 'a/b/c'))).toBe(false);
  });

  it('does not create parents unless asked', () => {
    expect(errorOf(() => resolveParentInRoot(rootFd, '/a/b/c', false)).code).toBe('ENOENT');
    expect(readdirSync(root)).toEqual([]);
  });

  it('follows symlinked parents inside the root but keeps the final name as is', () => {
    mkdirSync(join(root, 'etc'));
    symlinkSync('/etc', join(root, 'tmp'));
    symlinkSync('/etc', join(root, 'etc/last'));
    const r = resolveParentInRoot(rootFd, '/tmp/last', false);
    expect(r.path).toBe('/etc');
    expect(r.name).toBe('last');
    expect(pathOf(r.fd)).toBe(join(root, 'etc'));
  });

  it('rejects a path without a final name or ending in ..', () => {
    for (const p of ['/', '/a/..']) {
      const err = errorOf(() => resolveParentInRoot(rootFd, p, true));
      expect(err.code).toBe('EINVAL');
      expect(err.path).toBe(p);
    }
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('splitPath and joinPath', () => {
  it('split on / without empty and . parts', () => {
    expect(splitPath('//a/./b/../c/')).toEqual(['a', 'b', '..', 'c']);
    expect(splitPath('/')).toEqual([]);
  });

  it('join without doubling the root slash', () => {
    expect(joinPath('/', 'a')).toBe('/a');
    expect(joinPath('/a', 'b')).toBe('/a/b');
  });
});
