import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { ProcMountKind } from './proc-mount-kind.js';

export { ProcMountKind };
export default new ContainerModule(({ bind }) => {
  bind(ProcMountKind).toSelf();
  bind(MountKind).toService(ProcMountKind);
});
