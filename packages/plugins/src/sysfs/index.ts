import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { SysfsMountKind } from './sysfs-mount-kind.js';

export { SysfsMountKind };
export default new ContainerModule(({ bind }) => {
  bind(SysfsMountKind).toSelf();
  bind(MountKind).toService(SysfsMountKind);
});
