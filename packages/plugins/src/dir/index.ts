import { rootfsSourceModule } from '@builder/core';
import { DirRootfsSource } from './dir-rootfs-source.js';

export { DirRootfsSource };
export default rootfsSourceModule(DirRootfsSource);
