// Pure exports of @builder/native: usable on the host side without loading koffi.

export * from './capabilities.js';
export * from './cgroup.js';
export { ELOOP, MAXSYMLINKS } from './constants.js';
export type { ParentTimes, Stub } from './in-root.js';
export * from './mount-flags.js';
export * from './mount-op.js';
export * from './mountinfo.js';
export { escapeOverlayPath, overlayData } from './overlay.js';
export * from './seccomp-profile.js';
export * from './stage/protocol.js';
export * from './user.js';
