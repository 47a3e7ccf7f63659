import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { O_CLOEXEC, O_PATH } from '../src/constants.js';
import { hasCode, SyscallError } from '../src/syscall-error.js';
import { open } from '../src/syscalls.js';

describe('SyscallError', () => {
  it("formats like Node's errors, with path and dest", () => {
    const err = new SyscallError('mount', 2, 'a', 'b');
    expect(err.message).toBe("ENOENT: no such file or directory, mount 'a' -> 'b'");
    expect(err.errno).toBe(-2);
    expect(err.code).toBe('ENOENT');
    expect(err.syscall).toBe('mount');
    expect(err.path).toBe('a');
    expect(err.dest).toBe('b');
    expect(err.name).toBe('SyscallError');
    expect(err).toBeInstanceOf(Error);
  });

  it('omits path and dest when not given', () => {
    const err = new SyscallError('unshare', 1);
    expect(err.message).toBe('EPERM: operation not permitted, unshare');
    expect(err.errno).toBe(-1);
    expect(err.code).toBe('EPERM');
    expect(err.path).toBeUndefined();
    expect(err.dest).toBeUndefined();
  });

  it('names an errno Node does not know', () => {
    const err = new SyscallError('ioctl', 9999);
    expect(err.message).toBe('E9999: unknown error 9999, ioctl');
    expect(err.code).toBe('E9999');
    expect(err.errno).toBe(-9999);
  });

  it("has the same message, code and errno as Node's own error for the same failure", () => {
    const path = '/nonexistent-builder-test/x';
    let nodeErr: NodeJS.ErrnoException | undefined;
    try {
      closeSync(openSync(path, 'r'));
    } catch (e) {
      nodeErr = e as NodeJS.ErrnoException;
    }
    const ours = new SyscallError('open', 2, path);
    expect(ours.message).toBe(nodeErr?.message);
    expect(ours.code).toBe(nodeErr?.code);
    expect(ours.errno).toBe(nodeErr?.errno);
  });

  it('is what a failing system call throws', () => {
    let err: unknown;
    try {
      closeSync(open('/nonexistent-builder-test/y', O_PATH | O_CLOEXEC));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SyscallError);
    expect((err as SyscallError).message).toBe(
      "ENOENT: no such file or directory, openat '/nonexistent-builder-test/y'",
    );
    expect((err as SyscallError).errno).toBe(-2);
  });
});

describe('hasCode', () => {
  it('matches the code of our errors and of Node errors', () => {
    expect(hasCode(new SyscallError('x', 17), 'EEXIST')).toBe(true);
    expect(hasCode(new SyscallError('x', 17), 'ENOENT')).toBe(false);
    expect(hasCode(Object.assign(new Error('x'), { code: 'EPERM' }), 'EPERM')).toBe(true);
    expect(hasCode(null, 'EPERM')).toBe(false);
    expect(hasCode('EPERM', 'EPERM')).toBe(false);
  });
});
