// createEngine: the engine as a library, a DI container with the core services and the plugins'
// contributions, and the Engine API over it.
import { constants as osConstants } from 'node:os';
import { INTERRUPT_SIGNALS } from '@builder/native/protocol';
import type { RootfsPlan, StagePlan } from '@builder/native/pure';
import { Container } from 'inversify';
import { MountKind } from './contributions/mount-kind.js';
import { MountKindRegistry } from './contributions/mount-kind-registry.js';
import { RootfsSource } from './contributions/rootfs-source.js';
import { RootfsSourceRegistry } from './contributions/rootfs-source-registry.js';
import { BuilderError, ImageError, PluginError, RunError, SpecError } from './errors.js';
import { type ImageInfo, LayerStore, type ProgressListener, type PruneResult } from './image/index.js';
import { Logger, type LogLevel, WinstonLogger } from './logging/logger.js';
import { EngineSettings, Planner } from './plan/planner.js';
import { BUILTIN_PLUGINS, type LoadedPlugin, loadPlugin, type PluginRef } from './plugins/plugin-loader.js';
import type { RunResult, RunSpec } from './request/run-spec.js';
import { applyImageConfig } from './run/image-config.js';
import { Runner, type RunOptions } from './run/runner.js';
import { prestartStage } from './run/stage-launcher.js';

export interface EngineOptions {
  /** Plugins to load. Default: the built-in plugins, `@builder/plugins` (an optional peer dependency: install it too). */
  plugins?: PluginRef[];
  /** Where log lines go. Default: winston on stderr at `logLevel`. */
  logger?: Logger;
  logLevel?: LogLevel;
  /** Host directory under which each run mounts its private scratch space. Default `/run/builder`. */
  runroot?: string;
  /** Keep a stage process started ahead of the next run, so a run costs only its own work. */
  prestart?: boolean;
  /** Where the layer store lives. Default `/var/lib/builder`. */
  root?: string;
}

export interface MountKindInfo {
  type: string;
  description: string;
  origin: string;
  options: { name: string; value: string; description: string; aliases?: string[] }[];
}

export interface SourceInfo {
  transport: string;
  usage: string;
  description: string;
  origin: string;
}

export interface EngineRunOptions extends RunOptions {
  /** Told how each layer of `spec.image` is coming along while the store unpacks it. */
  progress?: ProgressListener;
}

export interface Engine {
  /**
   * Run a command. Resolves with its exit status; rejects with a BuilderError when it could not run.
   * With `spec.image`, the image's layers are unpacked into the layer store first (once per layer).
   */
  run(spec: RunSpec, options?: EngineRunOptions): Promise<RunResult>;
  /** The plan a spec turns into, without running it. */
  plan(spec: RunSpec): StagePlan;
  mountKinds(): MountKindInfo[];
  /** The image transports (`oci`, `docker-archive` …) the loaded plugins contribute. */
  sources(): SourceInfo[];
  /** The images in the layer store, most recently used first. */
  images(): ImageInfo[];
  /**
   * Remove images that lost their names (with `all`, every image) and the layers no remaining image
   * needs; layers in use by a run stay.
   */
  prune(options?: { all?: boolean }): Promise<PruneResult>;
  /** The DI container, for callers that bind their own services. */
  readonly container: Container;
}

export const DEFAULT_PLUGINS: readonly string[] = [BUILTIN_PLUGINS];

/** Build an engine: a DI container with the core services and every plugin loaded. */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  const plugins = await Promise.all((options.plugins ?? DEFAULT_PLUGINS).map(loadPlugin));
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(Logger).toConstantValue(options.logger ?? new WinstonLogger(options.logLevel ?? 'warn'));
  container.bind(EngineSettings).toConstantValue({ runroot: options.runroot ?? '/run/builder' });
  container.bind(MountKindRegistry).toSelf();
  container.bind(RootfsSourceRegistry).toSelf();
  container.bind(Planner).toSelf();
  container.bind(Runner).toSelf();
  const origins = loadModules(container, plugins);

  const planner = container.get(Planner);
  const runner = container.get(Runner);
  const registry = container.get(MountKindRegistry);
  const sources = container.get(RootfsSourceRegistry);
  const log = container.get<Logger>(Logger);
  if (options.prestart) prestartStage();
  const store = new LayerStore(options.root ?? '/var/lib/builder', log);

  /** The spec with its image resolved: a rootfs directory, or the image's layers in the store. */
  async function openImage(spec: RunSpec, progress?: ProgressListener, signal?: AbortSignal): Promise<ResolvedSpec> {
    if (spec.image === undefined) return { spec, release: () => {} };
    if (spec.rootfs !== undefined) throw new SpecError('give a rootfs or an image, not both');
    const opened = await sources.open(spec.image, process.cwd(), (file) => store.fileDigest(file));
    if ('rootfs' in opened) return { spec: { ...spec, image: undefined, rootfs: opened.rootfs }, release: () => {} };
    const { image } = opened;
    try {
      if (image.layers.length === 0) throw new ImageError(`${spec.image}: the image has no layers`);
      const configured = applyImageConfig(spec, image.config);
      const prepared = await store.prepare(image, opened.name ?? spec.image, progress, signal);
      return { spec: configured, rootfs: { type: 'overlay', lowers: prepared.lowers }, release: prepared.release };
    } finally {
      await image.close();
    }
  }

  return {
    container,
    plan: (spec) => planner.plan(spec),
    async run(spec, runOptions = {}) {
      const { progress, ...rest } = runOptions;
      // Before the command exists, the signals it would get stop the unpacking instead (and its temp
      // directory goes): the run ends with 128 + the signal's number, as the command would have.
      const interrupt = rest.forwardSignals ? interruptOnSignals() : undefined;
      let resolved: ResolvedSpec;
      try {
        const t0 = Date.now(); // (not performance.now(): its module would load for every run)
        resolved = await openImage(spec, progress, interrupt?.signal);
        if (spec.image !== undefined) log.debug('image ready', { image: spec.image, ms: Date.now() - t0 });
        interrupt?.signal.throwIfAborted();
      } finally {
        interrupt?.stop();
      }
      try {
        const plan = planner.plan(resolved.spec, resolved.rootfs);
        return await runner.run(plan, rest);
      } finally {
        resolved.release();
        if (options.prestart) prestartStage();
      }
    },
    sources: () =>
      sources.list().map((s) => ({
        transport: s.transport,
        usage: s.usage,
        description: s.description,
        origin: origins.get(s) ?? '(unknown)',
      })),
    images: () => store.images(),
    prune: (pruneOptions) => store.prune(pruneOptions),
    mountKinds: () =>
      registry.list().map((k) => ({
        type: k.type,
        description: k.description,
        origin: origins.get(k) ?? '(unknown)',
        options: k.options.map((o) => ({ ...o, ...(o.aliases ? { aliases: [...o.aliases] } : {}) })),
      })),
  };
}

/** An AbortSignal that SIGINT, SIGTERM or SIGHUP (INTERRUPT_SIGNALS) abort with a RunError (exit status 128 + N). */
function interruptOnSignals(): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const on = (name: NodeJS.Signals) =>
    controller.abort(new RunError(`interrupted by ${name}`, { exitCode: 128 + osConstants.signals[name] }));
  for (const s of INTERRUPT_SIGNALS) process.on(s, on);
  const stop = () => {
    for (const s of INTERRUPT_SIGNALS) process.off(s, on);
  };
  return { signal: controller.signal, stop };
}

interface ResolvedSpec {
  spec: RunSpec;
  rootfs?: RootfsPlan;
  /** Lets go of the image's layers once the run is over. */
  release(): void;
}

/** Load plugin modules one plugin at a time, noting which plugin each contribution came from. */
function loadModules(container: Container, plugins: LoadedPlugin[]): Map<MountKind | RootfsSource, string> {
  const origins = new Map<MountKind | RootfsSource, string>();
  for (const plugin of plugins) {
    try {
      container.load(...plugin.modules);
      const contributed = [
        ...container.getAll<MountKind>(MountKind, { optional: true }),
        ...container.getAll<RootfsSource>(RootfsSource, { optional: true }),
      ];
      for (const c of contributed) if (!origins.has(c)) origins.set(c, plugin.origin);
    } catch (err) {
      if (err instanceof BuilderError) throw err;
      throw new PluginError(`plugin "${plugin.origin}": ${(err as Error).message}`, { cause: err });
    }
  }
  return origins;
}
