import { flagOptions, type MountKind, type MountOp, type MountSpec, mountFsOp, type OptionSpec } from '@builder/core';
import { injectable } from '@builder/core/di';

/** POSIX message queues of the container's IPC namespace. */
@injectable()
export class MqueueMountKind implements MountKind {
  readonly type = 'mqueue';
  readonly description = `POSIX message queues of the container's IPC namespace.`;
  readonly options: readonly OptionSpec[] = [...flagOptions('ro', 'rw', 'nosuid', 'nodev', 'noexec')];

  plan(mount: MountSpec): MountOp[] {
    return [mountFsOp(mount, 'mqueue', ['nosuid', 'nodev', 'noexec'])];
  }
}
