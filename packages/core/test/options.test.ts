// Option specs and their checking, flag word helpers, mountFsOp, and the did-you-mean suggestions.
import { MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY } from '@builder/native';
import { mountFlags } from '@builder/native/pure';
import { describe, expect, it } from 'vitest';
import { addFlagWord, checkOption, flagOptions, mountFsOp, type OptionSpec } from '../src/contributions/mount-kind.js';
import { SpecError } from '../src/errors.js';
import { splitOption } from '../src/request/mount-spec.js';
import { didYouMean, editDistance } from '../src/request/suggest.js';

const specs: OptionSpec[] = [
  ...flagOptions('ro', 'nosuid'),
  { name: 'size', value: 'size', description: '' },
  { name: 'mode', value: 'octal', description: '' },
  { name: 'uid', value: 'integer', description: '' },
  { name: 'label', value: 'string', description: '' },
];

describe('checkOption', () => {
  it('accepts known options with valid values', () => {
    for (const o of [
      'ro',
      'nosuid',
      'size=64m',
      'size=10%',
      'size=1024',
      'size=2G',
      'mode=755',
      'mode=1777',
      'mode=01777',
      'uid=0',
      'uid=1000',
      'label=a=b c',
    ])
      expect(checkOption(specs, o), o).toBeUndefined();
  });

  it('names an unknown option', () => {
    expect(checkOption(specs, 'sise=1m')).toBe('unknown option "sise"');
    expect(checkOption(specs, 'rw')).toBe('unknown option "rw"');
    expect(checkOption(specs, '')).toBe('unknown option ""');
  });

  it('refuses a value for a bare word', () => {
    expect(checkOption(specs, 'ro=1')).toBe('option "ro" takes no value');
    expect(checkOption(specs, 'nosuid=')).toBe('option "nosuid" takes no value');
  });

  it('asks for a value', () => {
    expect(checkOption(specs, 'size')).toBe('option "size" needs a value');
    expect(checkOption(specs, 'mode=')).toBe('option "mode" needs a value');
  });

  it('checks octal, size and integer values', () => {
    expect(checkOption(specs, 'mode=800')).toBe('option "mode": "800" is not a valid octal');
    expect(checkOption(specs, 'mode=17777')).toBe('option "mode": "17777" is not a valid octal');
    expect(checkOption(specs, 'mode=rwx')).toBe('option "mode": "rwx" is not a valid octal');
    expect(checkOption(specs, 'size=1x')).toBe('option "size": "1x" is not a valid size');
    expect(checkOption(specs, 'size=m')).toBe('option "size": "m" is not a valid size');
    expect(checkOption(specs, 'size=1mb')).toBe('option "size": "1mb" is not a valid size');
    expect(checkOption(specs, 'uid=-1')).toBe('option "uid": "-1" is not a valid integer');
    expect(checkOption(specs, 'uid=1.5')).toBe('option "uid": "1.5" is not a valid integer');
  });
});

describe('flagOptions', () => {
  it('describes flag words as bare options', () => {
    expect(flagOptions('ro', 'nodev')).toEqual([
      { name: 'ro', value: 'none', description: 'mount flag ro' },
      { name: 'nodev', value: 'none', description: 'mount flag nodev' },
    ]);
  });

  it('throws on a word that is not a mount flag', () => {
    expect(() => flagOptions('ro', 'bind')).toThrow('not a mount flag word: bind');
    expect(() => flagOptions('size')).toThrow('not a mount flag word: size');
  });
});

describe('addFlagWord', () => {
  it('adds a word once, and names a contradiction with its opposite', () => {
    const flags: ('ro' | 'rw' | 'nosuid' | 'dirsync')[] = [];
    for (const word of ['ro', 'nosuid', 'ro', 'dirsync'] as const) addFlagWord(flags, word);
    expect(flags).toEqual(['ro', 'nosuid', 'dirsync']);
    expect(() => addFlagWord(flags, 'rw')).toThrow(new SpecError('conflicting options "ro" and "rw"'));
    expect(flags).toEqual(['ro', 'nosuid', 'dirsync']);
  });
});

describe('mountFsOp', () => {
  it('splits flag words from data and takes type and destination', () => {
    expect(
      mountFsOp({ type: 'tmpfs', destination: '/tmp', options: ['nosuid', 'size=1m', 'ro', 'mode=1777'] }, 'tmpfs'),
    ).toEqual({
      op: 'mount',
      fstype: 'tmpfs',
      source: 'tmpfs',
      target: '/tmp',
      flags: ['nosuid', 'ro'],
      data: ['size=1m', 'mode=1777'],
    });
  });

  it('uses the given source and leaves out empty flags and data', () => {
    expect(mountFsOp({ type: 'tmpfs', source: 'shm', destination: '/dev/shm' }, 'tmpfs')).toEqual({
      op: 'mount',
      fstype: 'tmpfs',
      source: 'shm',
      target: '/dev/shm',
    });
  });

  it('lets user options override defaults with the same key, in the default position', () => {
    const op = mountFsOp({ type: 'tmpfs', destination: '/t', options: ['mode=700', 'uid=5', 'rw'] }, 'tmpfs', [
      'ro',
      'nosuid',
      'mode=755',
      'size=64m',
    ]);
    expect(op.data).toEqual(['mode=700', 'size=64m', 'uid=5']);
    expect(op.flags).toEqual(['ro', 'nosuid', 'rw']);
    expect(mountFlags(op.flags ?? [])).toBe(MS_NOSUID);
  });

  it('keeps defaults flags when the user adds others', () => {
    const op = mountFsOp({ type: 'proc', destination: '/proc', options: ['ro'] }, 'proc', [
      'nosuid',
      'nodev',
      'noexec',
    ]);
    expect(mountFlags(op.flags ?? [])).toBe(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY);
    expect(op.data).toBeUndefined();
  });
});

describe('mountFsOp flag words', () => {
  it('keeps a repeated word only at its last place', () => {
    const op = mountFsOp({ type: 'proc', destination: '/proc', options: ['nosuid'] }, 'proc', [
      'nosuid',
      'noexec',
      'nodev',
    ]);
    expect(op.flags).toEqual(['noexec', 'nodev', 'nosuid']);
  });
});

describe('splitOption', () => {
  it('splits on the first =', () => {
    expect(splitOption('a=b=c')).toEqual({ key: 'a', value: 'b=c' });
    expect(splitOption('ro')).toEqual({ key: 'ro' });
    expect(splitOption('k=')).toEqual({ key: 'k', value: '' });
  });
});

describe('didYouMean', () => {
  it('suggests the closest candidate', () => {
    expect(didYouMean('tmpfss', ['proc', 'tmpfs', 'sysfs'])).toBe(' (did you mean "tmpfs"?)');
    expect(didYouMean('sise', ['size', 'mode', 'uid', 'gid'])).toBe(' (did you mean "size"?)');
    expect(didYouMean('devtps', ['dev', 'devpts', 'mqueue'])).toBe(' (did you mean "devpts"?)');
  });

  it('suggests nothing when every candidate is too far', () => {
    expect(didYouMean('overlay', ['proc', 'tmpfs', 'sysfs'])).toBe('');
    expect(didYouMean('xyz', ['abc'])).toBe('');
    expect(didYouMean('anything', [])).toBe('');
  });

  it('allows more edits for longer words', () => {
    // 12 letters: up to 4 edits.
    expect(didYouMean('nr_inodesxyz', ['nr_inodes'])).toBe(' (did you mean "nr_inodes"?)');
    expect(didYouMean('nr_inodesvwxyz', ['nr_inodes'])).toBe('');
  });

  it('takes any iterable', () => {
    expect(didYouMean('prco', new Map([['proc', 1]]).keys())).toBe(' (did you mean "proc"?)');
  });
});

describe('editDistance', () => {
  it('is the Levenshtein distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
    expect(editDistance('ab', 'ba')).toBe(2);
  });
});
