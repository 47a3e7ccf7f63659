// The `cgroup` and `cgroup2` mount kinds: the host's cgroup hierarchy, bound.
import {
  flagOptions,
  isMountAttrWord,
  type MountKind,
  type MountOp,
  type MountSpec,
  type OptionSpec,
} from '@builder/core';
import { injectable } from '@builder/core/di';

const CGROUP_OPTIONS: readonly OptionSpec[] = [
  ...flagOptions('ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'relatime', 'noatime'),
];

/**
 * The host's cgroup hierarchy, bound recursively (there is no cgroup namespace of the run's own):
 * what `cgroup`/`cgroup2` entries of an OCI spec (`runc spec` has one, read-only) get.
 */
abstract class HostCgroupMountKind implements MountKind {
  abstract readonly type: string;
  readonly description =
    `The host's /sys/fs/cgroup, bound recursively (read-only with ro, as runc's default spec asks).`;
  readonly options = CGROUP_OPTIONS;

  plan(mount: MountSpec): MountOp[] {
    // Every option of this kind is a per-mount flag word (the registry has checked them): all are kept.
    const flags = (mount.options ?? []).filter(isMountAttrWord);
    return [
      {
        op: 'bind',
        source: '/sys/fs/cgroup',
        target: mount.destination,
        recursive: true,
        // A kernel filesystem: nothing to pin, as buildah binds /sys without pinning it.
        pin: false,
        ...(flags.length ? { flags } : {}),
      },
    ];
  }
}

@injectable()
export class CgroupMountKind extends HostCgroupMountKind {
  readonly type = 'cgroup';
}

@injectable()
export class Cgroup2MountKind extends HostCgroupMountKind {
  readonly type = 'cgroup2';
}
