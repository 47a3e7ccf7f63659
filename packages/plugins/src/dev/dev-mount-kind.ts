// The `dev` mount kind: a /dev tmpfs with the default device nodes and symlinks.
import { type MountKind, type MountOp, type MountSpec, mountFsOp } from '@builder/core';
import { injectable } from '@builder/core/di';
import { TMPFS_OPTIONS } from '../tmpfs/tmpfs-mount-kind.js';

/** The device nodes every container gets (OCI runtime spec "Default Devices"), all 0666. */
export const DEFAULT_DEVICES: readonly { name: string; major: number; minor: number }[] = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/** The symlinks every container's /dev gets: name → link text. */
export const DEFAULT_DEV_SYMLINKS: readonly [string, string][] = [
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
  ['ptmx', 'pts/ptmx'],
];

/** runc's options of the default /dev: what the tmpfs has unless the mount says otherwise. */
const DEV_OPTIONS: readonly string[] = ['nosuid', 'strictatime', 'mode=755', 'size=65536k'];

/**
 * A /dev: a tmpfs with the default device nodes and symlinks. When a node cannot be created
 * (no CAP_MKNOD), the host's node is bind-mounted instead.
 */
@injectable()
export class DevMountKind implements MountKind {
  readonly type = 'dev';
  readonly description = `A tmpfs with the default device nodes (null, zero, full, random, urandom, tty) and symlinks.`;
  readonly options = TMPFS_OPTIONS;

  plan(mount: MountSpec): MountOp[] {
    const dir = mount.destination.replace(/\/+$/, '');
    return [
      mountFsOp(mount, 'tmpfs', DEV_OPTIONS),
      ...DEFAULT_DEVICES.map(
        (d): MountOp => ({
          op: 'mknod',
          target: `${dir}/${d.name}`,
          kind: 'char',
          major: d.major,
          minor: d.minor,
          mode: 0o666,
          fallback: `/dev/${d.name}`,
        }),
      ),
      ...DEFAULT_DEV_SYMLINKS.map(([name, link]): MountOp => ({ op: 'symlink', target: `${dir}/${name}`, link })),
    ];
  }
}
