import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ContainerModule } from 'inversify';
import { PluginError } from '../errors.js';

/** A plugin: a package name or path whose default export is a ContainerModule (or a list of them), or the modules themselves. */
export type PluginRef = string | ContainerModule | readonly ContainerModule[];

export interface LoadedPlugin {
  /** The package name or path it was named by, or `(module)` when passed as an object. */
  origin: string;
  modules: ContainerModule[];
}

const isModule = (m: unknown): m is ContainerModule =>
  typeof m === 'object' && m !== null && typeof (m as { load?: unknown }).load === 'function';

function asModules(value: unknown): ContainerModule[] | undefined {
  if (isModule(value)) return [value];
  if (Array.isArray(value) && value.length > 0 && value.every(isModule)) return value;
  return undefined;
}

/** Import a plugin package or file. Relative paths are taken from the current directory. */
export async function loadPlugin(ref: PluginRef): Promise<LoadedPlugin> {
  if (typeof ref !== 'string') {
    const modules = asModules(ref);
    if (!modules) throw new PluginError('plugin: not an inversify ContainerModule');
    return { origin: '(module)', modules };
  }
  const specifier = ref.startsWith('.') || isAbsolute(ref) ? pathToFileURL(resolve(ref)).href : ref;
  let exported: { default?: unknown };
  try {
    exported = (await import(specifier)) as { default?: unknown };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === 'ERR_MODULE_NOT_FOUND' ? 'not found (is it installed?)' : e.message;
    throw new PluginError(`plugin "${ref}": ${reason}`, { cause: err });
  }
  const modules = asModules(exported.default);
  if (!modules)
    throw new PluginError(
      `plugin "${ref}": its default export is not an inversify ContainerModule (or a list of them)`,
    );
  return { origin: ref, modules };
}
