import { flagOptions, type MountKind, type MountOp, type MountSpec, mountFsOp, type OptionSpec } from '@builder/core';
import { injectable } from '@builder/core/di';

/** The kernel's sysfs, always nosuid, nodev, noexec (read-only unless rw is given). */
@injectable()
export class SysfsMountKind implements MountKind {
  readonly type = 'sysfs';
  readonly description = `The kernel's sysfs, always nosuid, nodev, noexec (read-only unless rw is given).`;
  readonly options: readonly OptionSpec[] = [...flagOptions('ro', 'rw', 'nosuid', 'nodev', 'noexec')];

  plan(mount: MountSpec): MountOp[] {
    return [mountFsOp(mount, 'sysfs', ['nosuid', 'nodev', 'noexec', 'ro'])];
  }
}
