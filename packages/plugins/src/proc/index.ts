import { mountKindModule } from '@builder/core';
import { ProcMountKind } from './proc-mount-kind.js';

export { ProcMountKind };
export default mountKindModule(ProcMountKind);
