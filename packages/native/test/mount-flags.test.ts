// The mount word table and what derives from it: mount(2) flags, mount_setattr masks, word sets.
import { describe, expect, it } from 'vitest';
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_STRICTATIME,
} from '../src/constants.js';
import {
  BIND_FLAGS,
  flagWordsWhere,
  isFlagWord,
  isMountAttrWord,
  isPropagation,
  MOUNT_FLAGS,
  MOUNT_WORDS,
  mountAttr,
  mountFlags,
  oppositeFlagWord,
  PROPAGATION_FLAGS,
  PROPAGATIONS,
} from '../src/mount-flags.js';

describe('mountFlags', () => {
  it('is 0 for no words', () => {
    expect(mountFlags([])).toBe(0);
  });

  it('ORs setting words together', () => {
    expect(mountFlags(['nosuid', 'nodev', 'noexec', 'ro'])).toBe(0xf);
    expect(mountFlags(['nosuid', 'nodev', 'noexec', 'ro'])).toBe(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
    expect(mountFlags(['nosuid', 'strictatime'])).toBe(MS_NOSUID | MS_STRICTATIME);
  });

  it('folds left to right: a later clearing word wins', () => {
    expect(mountFlags(['ro', 'rw'])).toBe(0);
    expect(mountFlags(['nosuid', 'ro', 'rw'])).toBe(MS_NOSUID);
    expect(mountFlags(['nosuid', 'suid', 'nodev'])).toBe(MS_NODEV);
    expect(mountFlags(['relatime', 'norelatime'])).toBe(0);
  });

  it('folds left to right: a later setting word wins', () => {
    expect(mountFlags(['rw', 'ro'])).toBe(MS_RDONLY);
    expect(mountFlags(['exec', 'noexec'])).toBe(MS_NOEXEC);
    expect(mountFlags(['norelatime', 'relatime'])).toBe(MS_RELATIME);
  });

  it('throws on a word that is not a flag', () => {
    expect(() => mountFlags(['nosuid', 'bind'])).toThrow('not a mount flag: bind');
    expect(() => mountFlags(['size=1m'])).toThrow('not a mount flag: size=1m');
    expect(() => mountFlags([''])).toThrow('not a mount flag: ');
  });

  it('throws on names inherited from Object.prototype', () => {
    expect(() => mountFlags(['toString'])).toThrow('not a mount flag: toString');
    expect(() => mountFlags(['constructor'])).toThrow('not a mount flag: constructor');
    expect(() => mountFlags(['__proto__'])).toThrow('not a mount flag: __proto__');
  });
});

describe('access-time modes', () => {
  it('exclude each other: the last one given wins', () => {
    expect(mountFlags(['strictatime', 'relatime'])).toBe(MS_RELATIME);
    expect(mountFlags(['relatime', 'nosuid', 'strictatime'])).toBe(MS_STRICTATIME | MS_NOSUID);
  });
});

describe('isFlagWord', () => {
  it('knows flag words and nothing else', () => {
    for (const w of ['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'nosymfollow'])
      expect(isFlagWord(w)).toBe(true);
    for (const w of ['bind', 'rbind', 'private', 'mode=755', 'size', 'toString', 'constructor', '__proto__', ''])
      expect(isFlagWord(w)).toBe(false);
  });

  it('every flag word has a single-bit flag', () => {
    for (const [word, entry] of Object.entries(MOUNT_FLAGS)) {
      expect(entry.flag, word).toBeGreaterThan(0);
      expect(entry.flag & (entry.flag - 1), word).toBe(0);
    }
  });
});

describe('propagation and bind words', () => {
  it('have their C values', () => {
    expect(PROPAGATION_FLAGS.rprivate).toBe(MS_PRIVATE | MS_REC);
    expect(PROPAGATION_FLAGS.private).toBe(0x40000);
    expect(BIND_FLAGS.rbind).toBe(MS_BIND | MS_REC);
    expect(BIND_FLAGS.bind).toBe(0x1000);
  });
});

// mount_setattr(2) attributes as the kernel's uapi header <linux/mount.h> defines them.
const ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, _ATIME: 0x70, NOATIME: 0x10, STRICTATIME: 0x20 };
const ATTR_NODIRATIME = 0x80;
const ATTR_NOSYMFOLLOW = 0x200000;

describe('mountAttr', () => {
  it('sets and clears per-mount flags, the last word winning', () => {
    expect(mountAttr([])).toEqual({ set: 0, clear: 0 });
    expect(mountAttr(['ro', 'nosuid', 'nodev', 'noexec'])).toEqual({
      set: ATTR.RDONLY | ATTR.NOSUID | ATTR.NODEV | ATTR.NOEXEC,
      clear: 0,
    });
    expect(mountAttr(['rw', 'suid'])).toEqual({ set: 0, clear: ATTR.RDONLY | ATTR.NOSUID });
    expect(mountAttr(['ro', 'rw'])).toEqual({ set: 0, clear: ATTR.RDONLY });
    expect(mountAttr(['rw', 'ro'])).toEqual({ set: ATTR.RDONLY, clear: 0 });
    expect(mountAttr(['nodiratime', 'symfollow'])).toEqual({ set: ATTR_NODIRATIME, clear: ATTR_NOSYMFOLLOW });
  });

  it('replaces the whole access-time field with an access-time mode', () => {
    expect(mountAttr(['noatime'])).toEqual({ set: ATTR.NOATIME, clear: ATTR._ATIME });
    expect(mountAttr(['noatime', 'relatime'])).toEqual({ set: 0, clear: ATTR._ATIME });
    expect(mountAttr(['relatime', 'strictatime', 'ro'])).toEqual({
      set: ATTR.STRICTATIME | ATTR.RDONLY,
      clear: ATTR._ATIME,
    });
  });

  it('throws on a word that is not a per-mount flag', () => {
    for (const w of ['atime', 'sync', 'bind', 'rshared', 'nobind', 'toString'])
      expect(() => mountAttr([w]), w).toThrow(`not a per-mount flag: ${w}`);
  });
});

describe('the word table', () => {
  it('gives each kind of word what it needs', () => {
    for (const [word, row] of Object.entries(MOUNT_WORDS)) {
      if (row.is === 'engine') expect(row.flag, word).toBeUndefined();
      else expect(row.flag, word).toBeGreaterThan(0);
      if (row.attr !== undefined) expect(row.is, word).toBe('flag');
      if (row.recursive) expect(['propagation', 'bind'], word).toContain(row.is);
      if (row.clear) expect(row.is, word).toBe('flag');
    }
  });

  it('knows every flag word a per-mount attribute stands for', () => {
    expect(Object.keys(MOUNT_FLAGS).filter(isMountAttrWord).sort()).toEqual(
      [
        'ro',
        'rw',
        'nosuid',
        'suid',
        'nodev',
        'dev',
        'noexec',
        'exec',
        'noatime',
        'relatime',
        'strictatime',
        'nodiratime',
        'diratime',
        'nosymfollow',
        'symfollow',
      ].sort(),
    );
  });

  it('pairs each word with its opposite, both ways', () => {
    expect(oppositeFlagWord('ro')).toBe('rw');
    expect(oppositeFlagWord('exec')).toBe('noexec');
    expect(oppositeFlagWord('dirsync')).toBeUndefined();
    expect(oppositeFlagWord('bind')).toBeUndefined();
    for (const word of Object.keys(MOUNT_FLAGS)) {
      const opposite = oppositeFlagWord(word);
      if (opposite !== undefined) expect(oppositeFlagWord(opposite), word).toBe(word);
    }
  });

  it('lists the propagations in order, and knows them', () => {
    expect(PROPAGATIONS).toEqual([
      'private',
      'rprivate',
      'shared',
      'rshared',
      'slave',
      'rslave',
      'unbindable',
      'runbindable',
    ]);
    expect(PROPAGATIONS.every(isPropagation)).toBe(true);
    for (const w of ['ro', 'rbind', 'public', 'toString']) expect(isPropagation(w), w).toBe(false);
  });

  it('picks flag words by their rows, in the order mount(8) lists them', () => {
    expect(flagWordsWhere((row) => row.volume !== undefined)).toEqual([
      'ro',
      'rw',
      'nosuid',
      'suid',
      'nodev',
      'dev',
      'noexec',
      'exec',
    ]);
    expect(flagWordsWhere((row) => row.flag === MS_RELATIME || row.flag === MS_STRICTATIME)).toEqual([
      'relatime',
      'norelatime',
      'strictatime',
      'nostrictatime',
    ]);
  });
});
