import { mountKindModule } from '@builder/core';
import { BindMountKind } from './bind-mount-kind.js';

export { BindMountKind, PROPAGATIONS } from './bind-mount-kind.js';
export default mountKindModule(BindMountKind);
