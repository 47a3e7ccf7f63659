// builder's built-in plugins: mount kinds and rootfs sources. Each folder is one plugin exporting an
// inversify ContainerModule; this package's default export is the list of them, which is what the
// engine loads by default.
import type { ContainerModule } from '@builder/core/di';
import bind from './bind/index.js';
import cgroup from './cgroup/index.js';
import dev from './dev/index.js';
import devpts from './devpts/index.js';
import dir from './dir/index.js';
import dockerArchive from './docker-archive/index.js';
import mqueue from './mqueue/index.js';
import oci from './oci/index.js';
import ociArchive from './oci-archive/index.js';
import overlay from './overlay/index.js';
import proc from './proc/index.js';
import sysfs from './sysfs/index.js';
import tar from './tar/index.js';
import tmpfs from './tmpfs/index.js';

export { BindMountKind, PROPAGATIONS } from './bind/index.js';
export { DEFAULT_DEV_SYMLINKS, DEFAULT_DEVICES, DevMountKind } from './dev/index.js';
export { DevptsMountKind } from './devpts/index.js';
export { DirRootfsSource } from './dir/index.js';
export { DockerArchiveRootfsSource } from './docker-archive/index.js';
export { MqueueMountKind } from './mqueue/index.js';
export { OciRootfsSource } from './oci/index.js';
export { OciArchiveRootfsSource } from './oci-archive/index.js';
export { OverlayMountKind, splitLowerdirs } from './overlay/index.js';
export { ProcMountKind } from './proc/index.js';
export { SysfsMountKind } from './sysfs/index.js';
export { TarRootfsSource } from './tar/index.js';
export { TmpfsMountKind } from './tmpfs/index.js';

export const builtinModules: readonly ContainerModule[] = [
  proc,
  sysfs,
  dev,
  devpts,
  tmpfs,
  mqueue,
  bind,
  overlay,
  ...cgroup,
  oci,
  ociArchive,
  dockerArchive,
  tar,
  dir,
];
export default builtinModules;
