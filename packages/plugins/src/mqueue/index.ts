import { mountKindModule } from '@builder/core';
import { MqueueMountKind } from './mqueue-mount-kind.js';

export { MqueueMountKind };
export default mountKindModule(MqueueMountKind);
