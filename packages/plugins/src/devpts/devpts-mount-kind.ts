import { flagOptions, type MountKind, type MountOp, type MountSpec, mountFsOp, type OptionSpec } from '@builder/core';
import { injectable } from '@builder/core/di';

/** A pseudo-terminal filesystem (a new instance; /dev/ptmx points at its ptmx). */
@injectable()
export class DevptsMountKind implements MountKind {
  readonly type = 'devpts';
  readonly description = `A pseudo-terminal filesystem (a new instance; /dev/ptmx points at its ptmx).`;
  readonly options: readonly OptionSpec[] = [
    ...flagOptions('ro', 'rw', 'nosuid', 'noexec'),
    { name: 'newinstance', value: 'none', description: 'a private instance (always the case on current kernels)' },
    { name: 'ptmxmode', value: 'octal', description: 'permissions of the ptmx node' },
    { name: 'mode', value: 'octal', description: 'permissions of new pty slaves' },
    { name: 'gid', value: 'integer', description: 'group of new pty slaves' },
    { name: 'uid', value: 'integer', description: 'owner of new pty slaves' },
    { name: 'max', value: 'integer', description: 'maximum number of ptys' },
  ];

  plan(mount: MountSpec): MountOp[] {
    return [mountFsOp(mount, 'devpts')];
  }
}
