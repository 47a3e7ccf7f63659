// The `tmpfs` mount kind, and the tmpfs options the dev kind shares.
import { flagOptions, type MountKind, type MountOp, type MountSpec, mountFsOp, type OptionSpec } from '@builder/core';
import { injectable } from '@builder/core/di';

/** The options of a tmpfs (the dev kind's /dev is a tmpfs too). */
export const TMPFS_OPTIONS: readonly OptionSpec[] = [
  ...flagOptions(
    'ro',
    'rw',
    'nosuid',
    'suid',
    'nodev',
    'dev',
    'noexec',
    'exec',
    'noatime',
    'atime',
    'relatime',
    'norelatime',
    'strictatime',
    'nodiratime',
  ),
  {
    name: 'size',
    value: 'size',
    description: 'size limit: bytes, or with k, m, g or % suffix',
    aliases: ['tmpfs-size'],
  },
  {
    name: 'mode',
    value: 'octal',
    description: 'permissions of the root directory (octal)',
    aliases: ['tmpfs-mode'],
  },
  { name: 'uid', value: 'integer', description: 'owner of the root directory' },
  { name: 'gid', value: 'integer', description: 'group of the root directory' },
  { name: 'nr_inodes', value: 'size', description: 'maximum number of inodes' },
];

/** A fresh in-memory filesystem. */
@injectable()
export class TmpfsMountKind implements MountKind {
  readonly type = 'tmpfs';
  readonly description = `A fresh in-memory filesystem.`;
  readonly options = TMPFS_OPTIONS;

  plan(mount: MountSpec): MountOp[] {
    return [mountFsOp(mount, 'tmpfs')];
  }
}
