// @builder/core: the engine as a library. The CLI is one user of this API; CI tooling is another.

export type {
  BindOp,
  MkdirOp,
  MknodOp,
  MountFsOp,
  MountOp,
  RootfsPlan,
  StagePlan,
  SymlinkOp,
} from '@builder/native/ops';
export { oppositeFlagWord } from '@builder/native/ops';
export { type BuilderConfig, DEFAULT_CONFIG_FILE, loadConfig } from './config.js';
export {
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
export { createEngine, DEFAULT_PLUGINS, type Engine, type EngineOptions, type MountKindInfo } from './engine.js';
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
export type { ImageConfig, ImageLayer, ImageManifest, OpenImage } from './images/image.js';
export { applyImageConfig } from './images/image-config.js';
export { IMAGE_TRANSPORTS, type ImageRef, type ImageTransport, parseImageRef } from './images/image-ref.js';
export { resolveImage } from './images/image-rootfs.js';
export { type Compression, layerCompression, MEDIA_TYPE } from './images/media-types.js';
export { openImage, withImage } from './images/open-image.js';
export { LayerStore } from './layers/layer-store.js';
export { type LayerFormat, type UnpackOptions, type UnpackResult, unpackLayer } from './layers/unpack.js';
export { LOG_LEVELS, Logger, type LogLevel, WinstonLogger } from './logging/logger.js';
export { DEFAULT_MOUNTS } from './plan/default-mounts.js';
export { buildEnv, EngineSettings, Planner } from './plan/planner.js';
export { loadPlugin, type PluginRef } from './plugins/plugin-loader.js';
export { Runner, type RunOptions } from './run/runner.js';
export type { StageStdio, StdioEntry } from './run/stage-launcher.js';
export { type DirMode, type DirModeSpec, dirModeMounts } from './spec/dir-modes.js';
export { type MountSpec, splitOption } from './spec/mount-spec.js';
export { parseMountFlag, parseMountsFile, parseVolumeFlag } from './spec/parse-mount.js';
export type { RunResult, RunSpec } from './spec/run-spec.js';
export { DEFAULT_PATH } from './spec/run-spec.js';
export { didYouMean } from './spec/suggest.js';
