import { mountKindModule } from '@builder/core';
import { OverlayMountKind } from './overlay-mount-kind.js';

export { OverlayMountKind, splitLowerdirs } from './overlay-mount-kind.js';
export default mountKindModule(OverlayMountKind);
