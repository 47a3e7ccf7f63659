import { rootfsSourceModule } from '@builder/core';
import { OciRootfsSource } from './oci-rootfs-source.js';

export { OciRootfsSource };
export default rootfsSourceModule(OciRootfsSource);
