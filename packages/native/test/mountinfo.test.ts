import { describe, expect, it } from 'vitest';
import { parseMountInfo, readMountInfo, unescapeMountField } from '../src/mountinfo.js';

describe('parseMountInfo', () => {
  it('parses a line with optional fields and super options', () => {
    const text =
      '36 35 98:0 /mnt1 /mnt2 rw,noatime shared:1 master:2 - ext3 /dev/root rw,errors=continue\n' +
      '25 1 0:22 / /dev/shm rw,nosuid,nodev - tmpfs shm rw,size=65536k,mode=1777\n';
    expect(parseMountInfo(text)).toEqual([
      {
        id: 36,
        parentId: 35,
        major: 98,
        minor: 0,
        root: '/mnt1',
        mountPoint: '/mnt2',
        options: ['rw', 'noatime'],
        optional: ['shared:1', 'master:2'],
        fstype: 'ext3',
        source: '/dev/root',
        superOptions: ['rw', 'errors=continue'],
      },
      {
        id: 25,
        parentId: 1,
        major: 0,
        minor: 22,
        root: '/',
        mountPoint: '/dev/shm',
        options: ['rw', 'nosuid', 'nodev'],
        optional: [],
        fstype: 'tmpfs',
        source: 'shm',
        superOptions: ['rw', 'size=65536k', 'mode=1777'],
      },
    ]);
  });

  it('unescapes octal escapes in root, mount point and source', () => {
    const [m] = parseMountInfo(
      '101 29 0:50 /dir\\040one /mnt/my\\040dir\\011tab rw,relatime shared:77 - tmpfs my\\134src rw,inode64',
    );
    expect(m.root).toBe('/dir one');
    expect(m.mountPoint).toBe('/mnt/my dir\ttab');
    expect(m.source).toBe('my\\src');
    expect(m.optional).toEqual(['shared:77']);
    expect(m.superOptions).toEqual(['rw', 'inode64']);
  });

  it('finds the separator after the mount options even when a mount point is "-"', () => {
    const [m] = parseMountInfo('7 1 8:1 / /- rw - ext4 /dev/sda1 rw');
    expect(m.mountPoint).toBe('/-');
    expect(m.optional).toEqual([]);
    expect(m.fstype).toBe('ext4');
  });

  it('skips blank lines', () => {
    expect(parseMountInfo('\n\n   \n')).toEqual([]);
  });

  it('throws on a line without separator', () => {
    expect(() => parseMountInfo('36 35 98:0 / / rw ext4 /dev/sda1 rw')).toThrow(
      'malformed mountinfo line: 36 35 98:0 / / rw ext4 /dev/sda1 rw',
    );
  });

  it('throws on a line cut after the separator', () => {
    expect(() => parseMountInfo('36 35 98:0 / / rw - ext4 /dev/sda1')).toThrow(/^malformed mountinfo line: /);
  });
});

describe('unescapeMountField', () => {
  it('turns \\040 \\011 \\012 \\134 into their characters and leaves the rest', () => {
    expect(unescapeMountField('a\\040b\\011c\\012d\\134e\\x')).toBe('a b\tc\nd\\e\\x');
  });
});

describe('readMountInfo', () => {
  it("reads this process's mount table, which has /", () => {
    const mounts = readMountInfo('self');
    expect(mounts.length).toBeGreaterThan(0);
    const root = mounts.find((m) => m.mountPoint === '/');
    expect(root).toBeDefined();
    expect(Number.isInteger(root?.id)).toBe(true);
    expect(readMountInfo().map((m) => m.mountPoint)).toContain('/');
  });

  it('reads another process by pid', () => {
    expect(readMountInfo(process.pid).some((m) => m.mountPoint === '/')).toBe(true);
  });
});
