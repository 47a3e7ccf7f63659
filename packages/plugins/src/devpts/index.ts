import { mountKindModule } from '@builder/core';
import { DevptsMountKind } from './devpts-mount-kind.js';

export { DevptsMountKind };
export default mountKindModule(DevptsMountKind);
