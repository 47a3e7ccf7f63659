// Mount option words and the mount(2) flags they stand for: one table, as crun's mount_flags.
import {
  MOUNT_ATTR__ATIME,
  MOUNT_ATTR_NOATIME,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NODIRATIME,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_NOSYMFOLLOW,
  MOUNT_ATTR_RDONLY,
  MOUNT_ATTR_RELATIME,
  MOUNT_ATTR_STRICTATIME,
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from './constants.js';

export interface FlagWord {
  flag: number;
  /** The word clears the flag instead of setting it (`rw`, `suid`, `exec` …). */
  clear?: boolean;
}

/** Words that are mount flags. Anything else in a mount's options is filesystem data. */
export const MOUNT_FLAGS: Readonly<Record<string, FlagWord>> = {
  ro: { flag: MS_RDONLY },
  rw: { flag: MS_RDONLY, clear: true },
  nosuid: { flag: MS_NOSUID },
  suid: { flag: MS_NOSUID, clear: true },
  nodev: { flag: MS_NODEV },
  dev: { flag: MS_NODEV, clear: true },
  noexec: { flag: MS_NOEXEC },
  exec: { flag: MS_NOEXEC, clear: true },
  sync: { flag: MS_SYNCHRONOUS },
  async: { flag: MS_SYNCHRONOUS, clear: true },
  dirsync: { flag: MS_DIRSYNC },
  mand: { flag: MS_MANDLOCK },
  nomand: { flag: MS_MANDLOCK, clear: true },
  noatime: { flag: MS_NOATIME },
  atime: { flag: MS_NOATIME, clear: true },
  nodiratime: { flag: MS_NODIRATIME },
  diratime: { flag: MS_NODIRATIME, clear: true },
  relatime: { flag: MS_RELATIME },
  norelatime: { flag: MS_RELATIME, clear: true },
  strictatime: { flag: MS_STRICTATIME },
  nostrictatime: { flag: MS_STRICTATIME, clear: true },
  lazytime: { flag: MS_LAZYTIME },
  nolazytime: { flag: MS_LAZYTIME, clear: true },
  nosymfollow: { flag: MS_NOSYMFOLLOW },
  symfollow: { flag: MS_NOSYMFOLLOW, clear: true },
};

/** Propagation words and their flags. */
export const PROPAGATION_FLAGS: Readonly<Record<string, number>> = {
  private: MS_PRIVATE,
  rprivate: MS_PRIVATE | MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS_REC,
  slave: MS_SLAVE,
  rslave: MS_SLAVE | MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS_REC,
};

export const BIND_FLAGS: Readonly<Record<string, number>> = { bind: MS_BIND, rbind: MS_BIND | MS_REC };

export const isFlagWord = (word: string): boolean => Object.hasOwn(MOUNT_FLAGS, word);

const ATIME_MODES = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

/** Fold flag words left to right into mount(2) flags. Throws on a word that is not a flag. */
export function mountFlags(words: readonly string[]): number {
  let flags = 0;
  for (const word of words) {
    const entry = Object.hasOwn(MOUNT_FLAGS, word) ? MOUNT_FLAGS[word] : undefined;
    if (!entry) throw new Error(`not a mount flag: ${word}`);
    if (entry.clear) flags &= ~entry.flag;
    // The access-time modes exclude each other: the last one given wins.
    else flags = ((entry.flag & ATIME_MODES ? flags & ~ATIME_MODES : flags) | entry.flag) >>> 0;
  }
  return flags;
}

/** Per-mount attributes (mount_setattr) of the flag words that have one. */
const MOUNT_ATTRS: Readonly<Record<string, { set?: number; clear: number }>> = {
  ro: { set: MOUNT_ATTR_RDONLY, clear: 0 },
  rw: { clear: MOUNT_ATTR_RDONLY },
  nosuid: { set: MOUNT_ATTR_NOSUID, clear: 0 },
  suid: { clear: MOUNT_ATTR_NOSUID },
  nodev: { set: MOUNT_ATTR_NODEV, clear: 0 },
  dev: { clear: MOUNT_ATTR_NODEV },
  noexec: { set: MOUNT_ATTR_NOEXEC, clear: 0 },
  exec: { clear: MOUNT_ATTR_NOEXEC },
  noatime: { set: MOUNT_ATTR_NOATIME, clear: MOUNT_ATTR__ATIME },
  relatime: { set: MOUNT_ATTR_RELATIME, clear: MOUNT_ATTR__ATIME },
  strictatime: { set: MOUNT_ATTR_STRICTATIME, clear: MOUNT_ATTR__ATIME },
  nodiratime: { set: MOUNT_ATTR_NODIRATIME, clear: 0 },
  diratime: { clear: MOUNT_ATTR_NODIRATIME },
  nosymfollow: { set: MOUNT_ATTR_NOSYMFOLLOW, clear: 0 },
  symfollow: { clear: MOUNT_ATTR_NOSYMFOLLOW },
};

/** True when the word is a per-mount flag (one a bind mount can carry). */
export const isMountAttrWord = (word: string): boolean => Object.hasOwn(MOUNT_ATTRS, word);

/** Fold flag words left to right into the `set`/`clear` masks of mount_setattr(2). */
export function mountAttr(words: readonly string[]): { set: number; clear: number } {
  let set = 0;
  let clear = 0;
  for (const word of words) {
    const entry = Object.hasOwn(MOUNT_ATTRS, word) ? MOUNT_ATTRS[word] : undefined;
    if (!entry) throw new Error(`not a per-mount flag: ${word}`);
    set &= ~entry.clear;
    clear |= entry.clear;
    if (entry.set !== undefined) {
      set |= entry.set;
      clear &= ~entry.set | entry.clear;
    }
  }
  return { set, clear };
}

/** The word that undoes `word` (`rw` for `ro`, `exec` for `noexec` …), if it has one. */
export function oppositeFlagWord(word: string): string | undefined {
  const entry = Object.hasOwn(MOUNT_FLAGS, word) ? MOUNT_FLAGS[word] : undefined;
  if (!entry) return undefined;
  return Object.entries(MOUNT_FLAGS).find(([, e]) => e.flag === entry.flag && !e.clear !== !entry.clear)?.[0];
}
