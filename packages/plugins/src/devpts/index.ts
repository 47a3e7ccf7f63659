import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { DevptsMountKind } from './devpts-mount-kind.js';

export { DevptsMountKind };
export default new ContainerModule(({ bind }) => {
  bind(DevptsMountKind).toSelf();
  bind(MountKind).toService(DevptsMountKind);
});
