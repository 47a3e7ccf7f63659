export * from './constants.js';
export { type CreateSpec, fdPath, type Resolved, resolveInRoot, resolveParentInRoot, splitPath } from './in-root.js';
export { executeOps, type InterpreterContext, MountOpError } from './interpreter.js';
export * from './ops.js';
export { forbidThreadPool, THREADPOOL_RESOURCES } from './stage/guard.js';
export { hasCode, SyscallError } from './syscall-error.js';
export * from './syscalls.js';
