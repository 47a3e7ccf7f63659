// The MountOp vocabulary: each kind's descriptor (validation, description, host paths).
import { describe, expect, it } from 'vitest';
import { describeOp, MOUNT_OPS, type MountOp, opHostPaths, validateOps } from '../src/mount-op.js';

const good: MountOp[] = [
  { op: 'mount', fstype: 'tmpfs', source: 'tmpfs', target: '/tmp', flags: ['nosuid', 'nodev'], data: ['mode=1777'] },
  { op: 'mount', fstype: 'proc', source: 'proc', target: '/proc' },
  { op: 'bind', source: '/host/dir', target: '/mnt', recursive: true, flags: ['ro'], propagation: 'rprivate' },
  { op: 'bind', source: '/etc/resolv.conf', target: '/etc/resolv.conf' },
  { op: 'mknod', target: '/dev/null', kind: 'char', major: 1, minor: 3, mode: 0o666, fallback: '/dev/null' },
  { op: 'mknod', target: '/dev/sda', kind: 'block', major: 8, minor: 0, mode: 0o660 },
  { op: 'symlink', link: '/proc/self/fd', target: '/dev/fd' },
  { op: 'mkdir', target: '/work', mode: 0o755 },
  { op: 'mask', target: '/proc/kcore' },
  { op: 'readonly', target: '/proc/sys' },
];

describe('validateOps', () => {
  it('accepts good ops of every kind', () => {
    expect(validateOps(good)).toEqual([]);
    expect(validateOps(JSON.parse(JSON.stringify(good)))).toEqual([]);
    expect(validateOps([])).toEqual([]);
  });

  it('rejects what is not a list', () => {
    expect(validateOps({ op: 'mkdir' })).toEqual(['ops: not a list']);
    expect(validateOps(undefined)).toEqual(['ops: not a list']);
  });

  it('rejects entries that are not objects', () => {
    expect(validateOps([null, 'mount'])).toEqual(['op 0: not an object', 'op 1: not an object']);
  });

  it('rejects a relative or missing target', () => {
    expect(validateOps([{ op: 'mkdir', target: 'work', mode: 0o755 }])).toEqual([
      'op 0: target must be an absolute path',
    ]);
    expect(validateOps([{ op: 'mkdir', mode: 0o755 }])).toEqual(['op 0: target must be an absolute path']);
  });

  it('rejects an unknown op', () => {
    expect(validateOps([{ op: 'chmod', target: '/x' }])).toEqual(['op 0: unknown op "chmod"']);
    expect(validateOps([{ target: '/x' }])).toEqual(['op 0: unknown op undefined']);
  });

  it('rejects a mount without fstype or source', () => {
    expect(validateOps([{ op: 'mount', fstype: '', source: 'x', target: '/x' }])).toEqual([
      'op 0: mount needs fstype and source',
    ]);
    expect(validateOps([{ op: 'mount', fstype: 'tmpfs', target: '/x' }])).toEqual([
      'op 0: mount needs fstype and source',
    ]);
  });

  it('rejects an unknown flag', () => {
    expect(validateOps([{ op: 'mount', fstype: 'tmpfs', source: 't', target: '/x', flags: ['ro', 'bind'] }])).toEqual([
      'op 0: unknown mount flag',
    ]);
    expect(validateOps([{ op: 'mount', fstype: 'tmpfs', source: 't', target: '/x', flags: ['toString'] }])).toEqual([
      'op 0: unknown mount flag',
    ]);
    expect(validateOps([{ op: 'bind', source: '/a', target: '/x', flags: ['rbind'] }])).toEqual([
      'op 0: unknown per-mount flag',
    ]);
    // sync is a filesystem flag: a bind mount cannot carry it.
    expect(validateOps([{ op: 'bind', source: '/a', target: '/x', flags: ['sync'] }])).toEqual([
      'op 0: unknown per-mount flag',
    ]);
    expect(validateOps([{ op: 'mount', fstype: 'tmpfs', source: 't', target: '/x', flags: 'ro' }])).toEqual([
      'op 0: unknown mount flag',
    ]);
  });

  it("rejects data words with ','", () => {
    expect(
      validateOps([{ op: 'mount', fstype: 'tmpfs', source: 't', target: '/x', data: ['mode=755,size=1m'] }]),
    ).toEqual(["op 0: data words must not contain ','"]);
  });

  it('rejects a bind with a relative source and an unknown propagation', () => {
    expect(validateOps([{ op: 'bind', source: 'rel/dir', target: '/x' }])).toEqual([
      'op 0: bind source must be an absolute path',
    ]);
    expect(validateOps([{ op: 'bind', source: '/a', target: '/x', propagation: 'sideways' }])).toEqual([
      'op 0: unknown propagation',
    ]);
  });

  it('rejects a mknod with a non-integer number, a bad kind or a relative fallback', () => {
    expect(validateOps([{ op: 'mknod', target: '/dev/x', kind: 'char', major: '1', minor: 3, mode: 0o666 }])).toEqual([
      'op 0: major, minor and mode must be integers',
    ]);
    expect(validateOps([{ op: 'mknod', target: '/dev/x', kind: 'char', major: 1.5, minor: 3, mode: 0o666 }])).toEqual([
      'op 0: major, minor and mode must be integers',
    ]);
    expect(validateOps([{ op: 'mknod', target: '/dev/x', kind: 'fifo', major: 1, minor: 3, mode: 0o666 }])).toEqual([
      'op 0: kind must be char or block',
    ]);
    expect(
      validateOps([{ op: 'mknod', target: '/dev/x', kind: 'char', major: 1, minor: 3, mode: 0o666, fallback: 'null' }]),
    ).toEqual(['op 0: fallback must be absolute']);
  });

  it('rejects a symlink without link text and a mkdir without integer mode', () => {
    expect(validateOps([{ op: 'symlink', link: '', target: '/x' }])).toEqual(['op 0: symlink needs link text']);
    expect(validateOps([{ op: 'mkdir', target: '/x', mode: '755' }])).toEqual(['op 0: mode must be an integer']);
  });

  it('takes a file op with a source or a content, never both or neither', () => {
    expect(validateOps([{ op: 'file', source: '/run/token', target: '/t', mode: 0o400 }])).toEqual([]);
    expect(validateOps([{ op: 'file', content: '', target: '/etc/hosts', mode: 0o644 }])).toEqual([]);
    const both = { op: 'file', source: '/run/token', content: 'x', target: '/t', mode: 0o644 };
    expect(validateOps([both, { op: 'file', target: '/t', mode: 0o644 }])).toEqual([
      'op 0: file needs a source or a content, not both',
      'op 1: file needs a source or a content, not both',
    ]);
    expect(validateOps([{ op: 'file', content: 7, target: '/t', mode: 0o644 }])).toEqual([
      'op 0: file content must be a string',
    ]);
    expect(validateOps([{ op: 'file', source: 'token', target: '/t', mode: 0o644 }])).toEqual([
      'op 0: file source must be an absolute path',
    ]);
  });

  it('reports every problem with the index of its op', () => {
    expect(
      validateOps([good[0], { op: 'bind', source: 'x', target: 'y' }, good[6], { op: 'nope', target: '/' }]),
    ).toEqual([
      'op 1: target must be an absolute path',
      'op 1: bind source must be an absolute path',
      'op 3: unknown op "nope"',
    ]);
  });
});

describe('describeOp', () => {
  it('describes each kind in one line', () => {
    expect(good.map(describeOp)).toEqual([
      'mount tmpfs on /tmp',
      'mount proc on /proc',
      'bind /host/dir on /mnt',
      'bind /etc/resolv.conf on /etc/resolv.conf',
      'mknod /dev/null',
      'mknod /dev/sda',
      'symlink /dev/fd -> /proc/self/fd',
      'mkdir /work',
      'mask /proc/kcore',
      'make /proc/sys read-only',
    ]);
    expect(describeOp({ op: 'file', content: '', target: '/etc/hosts', mode: 0o644 })).toBe('write /etc/hosts');
    expect(describeOp({ op: 'file', source: '/run/token', target: '/t', mode: 0o644 })).toBe('copy /run/token to /t');
  });
});

describe('MOUNT_OPS', () => {
  it('has a descriptor for every kind of op', () => {
    expect(Object.keys(MOUNT_OPS).sort()).toEqual([
      'bind',
      'file',
      'mask',
      'mkdir',
      'mknod',
      'mount',
      'overlay',
      'readonly',
      'symlink',
    ]);
  });

  it('names the host paths an op reads', () => {
    expect(good.flatMap(opHostPaths)).toEqual([
      { what: 'bind source', path: '/host/dir' },
      { what: 'bind source', path: '/etc/resolv.conf' },
    ]);
    expect(opHostPaths({ op: 'file', source: '/run/token', target: '/t', mode: 0o400 })).toEqual([
      { what: 'file source', path: '/run/token' },
    ]);
    expect(opHostPaths({ op: 'file', content: '127.0.0.1 localhost\n', target: '/etc/hosts', mode: 0o644 })).toEqual(
      [],
    );
    expect(opHostPaths({ op: 'overlay', target: '/o', lowerdirs: ['/a', '/b'] })).toEqual([
      { what: 'overlay lowerdir', path: '/a' },
      { what: 'overlay lowerdir', path: '/b' },
    ]);
  });
});
