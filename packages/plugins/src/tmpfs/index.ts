import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { TmpfsMountKind } from './tmpfs-mount-kind.js';

export { TmpfsMountKind };
export default new ContainerModule(({ bind }) => {
  bind(TmpfsMountKind).toSelf();
  bind(MountKind).toService(TmpfsMountKind);
});
