import { getSystemErrorMap } from 'node:util';

let errnoNames: Map<number, [string, string]> | undefined;
/** Node builds a new map on every getSystemErrorMap() call: once is enough (some callers expect ENOENT often). */
const errorMap = () => {
  errnoNames ??= getSystemErrorMap();
  return errnoNames;
};

/**
 * A failed system call, shaped like Node's ErrnoException:
 * `ENOENT: no such file or directory, mount '/a' -> '/b'`, `errno` negative, `code` the errno name.
 */
export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  readonly path?: string;
  readonly dest?: string;

  constructor(syscall: string, errnoPositive: number, path?: string, dest?: string) {
    const [code, description] = errorMap().get(-errnoPositive) ?? [
      `E${errnoPositive}`,
      `unknown error ${errnoPositive}`,
    ];
    let message = `${code}: ${description}, ${syscall}`;
    if (path !== undefined) message += ` '${path}'`;
    if (dest !== undefined) message += ` -> '${dest}'`;
    super(message);
    this.name = 'SyscallError';
    this.errno = -errnoPositive;
    this.code = code;
    this.syscall = syscall;
    if (path !== undefined) this.path = path;
    if (dest !== undefined) this.dest = dest;
  }
}

/** True when `err` is an errno-style error (ours or Node's) with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
