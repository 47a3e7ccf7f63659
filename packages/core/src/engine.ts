import type { StagePlan } from '@builder/native/ops';
import { Container } from 'inversify';
import { MountKind } from './contributions/mount-kind.js';
import { MountKindRegistry } from './contributions/mount-kind-registry.js';
import { BuilderError, PluginError } from './errors.js';
import { resolveImage } from './images/image-rootfs.js';
import { LayerStore } from './layers/layer-store.js';
import { Logger, type LogLevel, WinstonLogger } from './logging/logger.js';
import { EngineSettings, Planner } from './plan/planner.js';
import { BUILTIN_PLUGINS, type LoadedPlugin, loadPlugin, type PluginRef } from './plugins/plugin-loader.js';
import { Runner, type RunOptions } from './run/runner.js';
import { prestartStage } from './run/stage-launcher.js';
import type { RunResult, RunSpec } from './spec/run-spec.js';

export interface EngineOptions {
  /** Plugins to load. Default: the built-in plugins, `@builder/plugins`. */
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

export interface Engine {
  /** Run a command. Resolves with its exit status; rejects with a BuilderError when it could not run. */
  run(spec: RunSpec, options?: RunOptions): Promise<RunResult>;
  /** The plan a spec turns into, without running it. */
  plan(spec: RunSpec): StagePlan;
  mountKinds(): MountKindInfo[];
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
  container.bind(Planner).toSelf();
  container.bind(Runner).toSelf();
  const origins = loadModules(container, plugins);

  const planner = container.get(Planner);
  const runner = container.get(Runner);
  const registry = container.get(MountKindRegistry);
  if (options.prestart) prestartStage();
  const store = new LayerStore(options.root ?? '/var/lib/builder');

  return {
    container,
    plan: (spec) => planner.plan(spec),
    async run(spec, runOptions) {
      const image = await resolveImage(spec, store);
      const plan = planner.plan(image.spec, image.rootfs);
      try {
        return await runner.run(plan, runOptions);
      } finally {
        if (options.prestart) prestartStage();
      }
    },
    mountKinds: () =>
      registry.list().map((k) => ({
        type: k.type,
        description: k.description,
        origin: origins.get(k) ?? '(unknown)',
        options: k.options.map((o) => ({ ...o, ...(o.aliases ? { aliases: [...o.aliases] } : {}) })),
      })),
  };
}

/** Load plugin modules one plugin at a time, noting which plugin each MountKind came from. */
function loadModules(container: Container, plugins: LoadedPlugin[]): Map<MountKind, string> {
  const origins = new Map<MountKind, string>();
  for (const plugin of plugins) {
    try {
      container.load(...plugin.modules);
      for (const kind of container.getAll<MountKind>(MountKind))
        if (!origins.has(kind)) origins.set(kind, plugin.origin);
    } catch (err) {
      if (err instanceof BuilderError) throw err;
      throw new PluginError(`plugin "${plugin.origin}": ${(err as Error).message}`, { cause: err });
    }
  }
  return origins;
}
