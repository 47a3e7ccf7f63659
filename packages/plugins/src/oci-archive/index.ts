import { rootfsSourceModule } from '@builder/core';
import { OciArchiveRootfsSource } from './oci-archive-rootfs-source.js';

export { OciArchiveRootfsSource };
export default rootfsSourceModule(OciArchiveRootfsSource);
