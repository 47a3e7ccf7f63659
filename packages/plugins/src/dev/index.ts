import { mountKindModule } from '@builder/core';
import { DevMountKind } from './dev-mount-kind.js';

export { DEFAULT_DEV_SYMLINKS, DEFAULT_DEVICES, DevMountKind } from './dev-mount-kind.js';
export default mountKindModule(DevMountKind);
