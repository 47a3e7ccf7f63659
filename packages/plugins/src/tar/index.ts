import { rootfsSourceModule } from '@builder/core';
import { TarRootfsSource } from './tar-rootfs-source.js';

export { TarRootfsSource };
export default rootfsSourceModule(TarRootfsSource);
