export { confine } from './confine.js';
export * from './constants.js';
export { containerAccounts, lookupContainerUser, readFileInRoot } from './container-user.js';
export { becomeUser } from './credentials.js';
export { attachDeviceFilter } from './device-filter.js';
export {
  type CreateSpec,
  fdPath,
  type ParentTimes,
  type Resolved,
  resolveInRoot,
  resolveParentInRoot,
  type Stub,
  StubLog,
  splitPath,
} from './in-root.js';
export { executeOps, type InterpreterContext, MountOpError } from './interpreter.js';
export { pinBindSources, unmountAll } from './pinned-sources.js';
export * from './pure.js';
export { exportSeccompBpf } from './seccomp.js';
export { forbidThreadPool, THREADPOOL_RESOURCES } from './stage/guard.js';
export { removeStubs } from './stubs.js';
export { hasCode, SyscallError } from './syscall-error.js';
export * from './syscalls.js';
