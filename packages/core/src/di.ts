// The DI primitives of the engine's own inversify, for plugins: a plugin imports these from
// `@builder/core/di` so that it and the engine share one inversify.
export {
  Container,
  ContainerModule,
  type ContainerModuleLoadOptions,
  inject,
  injectable,
  multiInject,
  named,
  optional,
} from 'inversify';
