import { mountKindModule } from '@builder/core';
import { TmpfsMountKind } from './tmpfs-mount-kind.js';

export { TmpfsMountKind };
export default mountKindModule(TmpfsMountKind);
