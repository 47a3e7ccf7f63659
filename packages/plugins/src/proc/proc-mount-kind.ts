import { flagOptions, type MountKind, type MountOp, type MountSpec, mountFsOp, type OptionSpec } from '@builder/core';
import { injectable } from '@builder/core/di';

/** A procfs of the container's PID namespace (flags nosuid, nodev, noexec are always set). */
@injectable()
export class ProcMountKind implements MountKind {
  readonly type = 'proc';
  readonly description = `A procfs of the container's PID namespace (flags nosuid, nodev, noexec are always set).`;
  readonly options: readonly OptionSpec[] = [
    ...flagOptions('ro', 'rw', 'nosuid', 'nodev', 'noexec'),
    {
      name: 'hidepid',
      value: 'string',
      description: 'who may see other processes: 0|1|2|invisible|noaccess|ptraceable',
    },
    { name: 'subset', value: 'string', description: 'subset=pid: only the process directories' },
  ];

  plan(mount: MountSpec): MountOp[] {
    return [mountFsOp(mount, 'proc', ['nosuid', 'nodev', 'noexec'])];
  }
}
