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
import { BIND_FLAGS, isFlagWord, MOUNT_FLAGS, mountFlags, PROPAGATION_FLAGS } from '../src/mount-flags.js';

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
