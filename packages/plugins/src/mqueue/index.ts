import { MountKind } from '@builder/core';
import { ContainerModule } from '@builder/core/di';
import { MqueueMountKind } from './mqueue-mount-kind.js';

export { MqueueMountKind };
export default new ContainerModule(({ bind }) => {
  bind(MqueueMountKind).toSelf();
  bind(MountKind).toService(MqueueMountKind);
});
