import { mountKindModule } from '@builder/core';
import type { ContainerModule } from '@builder/core/di';
import { Cgroup2MountKind, CgroupMountKind } from './cgroup-mount-kind.js';

export { Cgroup2MountKind, CgroupMountKind };

const cgroup = mountKindModule(CgroupMountKind);
const cgroup2 = mountKindModule(Cgroup2MountKind);
export default [cgroup, cgroup2] as readonly ContainerModule[];
