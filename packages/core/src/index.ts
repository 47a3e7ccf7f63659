// @builder/core: the engine as a library. The CLI is one user of this API; CI tooling is another.

export type {
  BindOp,
  CgroupPlan,
  FlagWord,
  MkdirOp,
  MknodOp,
  MountAttrWord,
  MountFsOp,
  MountOp,
  MountWord,
  MountWordRow,
  OverlayOp,
  Propagation,
  RootfsPlan,
  RunLimits,
  StagePlan,
  SymlinkOp,
} from '@builder/native/pure';
export {
  flagWordsWhere,
  isFlagWord,
  isMountAttrWord,
  isOneOf,
  isPropagation,
  MOUNT_WORDS,
  oppositeFlagWord,
  PROPAGATIONS,
} from '@builder/native/pure';
export { type BuilderConfig, DEFAULT_CONFIG_FILE, loadConfig } from './config.js';
export {
  addFlagWord,
  canonicalOption,
  checkOption,
  flagOptions,
  MountKind,
  mountFsOp,
  mountKindModule,
  type OptionSpec,
  type OptionValue,
  type PlanContext,
} from './contributions/mount-kind.js';
export { MountKindRegistry } from './contributions/mount-kind-registry.js';
export {
  RootfsSource,
  rootfsSourceModule,
  type SourceContext,
  type SourceResult,
  sourcePath,
} from './contributions/rootfs-source.js';
export { RootfsSourceRegistry } from './contributions/rootfs-source-registry.js';
export {
  createEngine,
  DEFAULT_PLUGINS,
  type Engine,
  type EngineOptions,
  type EngineRunOptions,
  type MountKindInfo,
  type SourceInfo,
} from './engine.js';
export {
  BuilderError,
  ExecError,
  ImageError,
  LayerError,
  PluginError,
  RootfsError,
  RunError,
  SpecError,
} from './errors.js';
export {
  type Compression,
  type ImageConfig,
  type ImageInfo,
  type ImageLayer,
  type ImageManifest,
  type LayerProgress,
  LayerStore,
  layerCompression,
  MEDIA_TYPE,
  type OpenImage,
  openDockerArchive,
  openOciArchive,
  openOciLayout,
  openRootfsTar,
  type PreparedImage,
  type ProgressListener,
  type PruneResult,
} from './image/index.js';
export { LOG_LEVELS, Logger, type LogLevel, WinstonLogger } from './logging/logger.js';
export { DEFAULT_MOUNTS } from './plan/default-mounts.js';
export { DEFAULT_PIDS_LIMIT, planLimits } from './plan/limits.js';
export { buildEnv, EngineSettings, Planner } from './plan/planner.js';
export { loadPlugin, type PluginRef } from './plugins/plugin-loader.js';
export { type DirMode, type DirModeSpec, dirModeMounts } from './request/dir-modes.js';
export { parseCpus, parsePidsLimit, parseSize } from './request/limits.js';
export { type MountSpec, splitOption } from './request/mount-spec.js';
export { parseMountFlag, parseMountsFile, parseVolumeFlag } from './request/parse-mount.js';
export type { RunResult, RunSpec } from './request/run-spec.js';
export { DEFAULT_PATH } from './request/run-spec.js';
export { didYouMean } from './request/suggest.js';
export { applyImageConfig } from './run/image-config.js';
export { Runner, type RunOptions } from './run/runner.js';
export type { StageStdio, StdioEntry } from './run/stage-launcher.js';
