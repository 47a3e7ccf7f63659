import { mountKindModule } from '@builder/core';
import { SysfsMountKind } from './sysfs-mount-kind.js';

export { SysfsMountKind };
export default mountKindModule(SysfsMountKind);
