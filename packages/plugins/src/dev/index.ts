import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { DevMountKind } from './dev-mount-kind.js';

export { DEFAULT_DEV_SYMLINKS, DEFAULT_DEVICES, DevMountKind } from './dev-mount-kind.js';
export default new ContainerModule(({ bind }) => {
  bind(DevMountKind).toSelf();
  bind(MountKind).toService(DevMountKind);
});
