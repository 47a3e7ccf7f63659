import { rootfsSourceModule } from '@builder/core';
import { DockerArchiveRootfsSource } from './docker-archive-rootfs-source.js';

export { DockerArchiveRootfsSource };
export default rootfsSourceModule(DockerArchiveRootfsSource);
