// Loading plugins: a package name, a path or the ContainerModules themselves, each turned into
// inversify modules; a plugin loaded by name or path gets the engine's own @builder/core.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ContainerModule } from 'inversify';
import { isPluginPath } from '../config.js';
import { PluginError } from '../errors.js';

/** A plugin: a package name or path whose default export is a ContainerModule (or a list of them), or the modules themselves. */
export type PluginRef = string | ContainerModule | readonly ContainerModule[];

export interface LoadedPlugin {
  /** The package name or path it was named by, or `(module)` when passed as an object. */
  origin: string;
  modules: ContainerModule[];
}

/**
 * The built-in plugins, createEngine's default: always the engine's own copy, whatever the current
 * directory holds. An optional peer dependency of @builder/core (its package.json): @builder/plugins
 * depends on @builder/core, so a regular dependency would be a cycle, and a library user who passes
 * plugins of their own need not install it. The CLI depends on both.
 */
export const BUILTIN_PLUGINS = '@builder/plugins';

const isModule = (m: unknown): m is ContainerModule =>
  typeof m === 'object' && m !== null && typeof (m as { load?: unknown }).load === 'function';

function asModules(value: unknown): ContainerModule[] | undefined {
  if (isModule(value)) return [value];
  if (Array.isArray(value) && value.length > 0 && value.every(isModule)) return value;
  return undefined;
}

/** The engine's public modules, which every plugin must get from the engine itself. */
const SHARED = ['@builder/core', '@builder/core/di'];

/** Resolve hook (runs on Node's loader thread): the shared specifiers map to the engine's own files. */
const SHARE_HOOK = `
let shared = {};
export async function initialize(data) { shared = data; }
export async function resolve(specifier, context, next) {
  return Object.hasOwn(shared, specifier) ? { url: shared[specifier], shortCircuit: true } : next(specifier, context);
}`;

let sharing = false;

/**
 * Make `@builder/core` and `@builder/core/di` resolve to this engine's copy for every module
 * loaded from now on, wherever it lives: a plugin package outside any project that has builder
 * installed still finds the API, and the engine and its plugins always share one inversify.
 */
function shareEngineModules(): void {
  if (sharing) return;
  sharing = true;
  const data = Object.fromEntries(SHARED.map((s) => [s, import.meta.resolve(s)]));
  register(`data:text/javascript,${encodeURIComponent(SHARE_HOOK)}`, { data });
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/**
 * Import a plugin and return its modules.
 * - A path (`./x`, `../x`, `/x`) is taken from the current directory; a directory is a package
 *   (its package.json `exports`, else `main`, else `index.js`).
 * - A package name is looked up from the current directory first (so a plugin installed in the
 *   project that runs builder is found), then from the engine's own location.
 * Throws a PluginError of one line naming the plugin.
 */
export async function loadPlugin(ref: PluginRef): Promise<LoadedPlugin> {
  if (typeof ref !== 'string') {
    const modules = asModules(ref);
    if (!modules) throw new PluginError('plugin: not an inversify ContainerModule');
    return { origin: '(module)', modules };
  }
  const fail = (reason: string, cause?: unknown): never => {
    throw new PluginError(`plugin "${ref}": ${reason}`, { cause });
  };
  const specifier = resolvePlugin(ref, fail);
  if (ref !== BUILTIN_PLUGINS) shareEngineModules();
  let exported: { default?: unknown };
  try {
    exported = (await import(specifier)) as { default?: unknown };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // Only the plugin itself missing is "not installed"; a dependency of it missing is its own message.
    const missing =
      e.code === 'ERR_MODULE_NOT_FOUND' && specifier === ref && e.message.includes(`'${packageName(ref)}'`);
    return fail(missing ? 'not found (is it installed?)' : firstLine(err), err);
  }
  const modules = asModules(exported.default);
  if (!modules) fail('its default export is not an inversify ContainerModule (or a list of them)');
  return { origin: ref, modules: modules as ContainerModule[] };
}

/** What to import: a file URL, or the bare name itself (resolved from the engine's own location). */
function resolvePlugin(ref: string, fail: (reason: string, cause?: unknown) => never): string {
  const cwd = process.cwd();
  if (isPluginPath(ref)) {
    const path = resolve(cwd, ref);
    if (!existsSync(path)) fail('not found (is it installed?)');
    return pathToFileURL(statSync(path).isDirectory() ? packageEntry(path, '.', fail) : path).href;
  }
  if (ref === BUILTIN_PLUGINS) return ref;
  try {
    return pathToFileURL(createRequire(join(cwd, 'noop.js')).resolve(ref)).href;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
      // Exported for `import` only (an ESM-only package): read its exports ourselves.
      const name = packageName(ref);
      const dir = findPackageDir(cwd, name);
      if (dir) return pathToFileURL(packageEntry(dir, `.${ref.slice(name.length)}`, fail)).href;
    } else if (code !== 'MODULE_NOT_FOUND') fail(firstLine(err), err);
    return ref;
  }
}

/** `@scope/name` or `name`, without a subpath. */
function packageName(ref: string): string {
  const parts = ref.split('/');
  return (ref.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** The directory of package `name` in the nearest node_modules from `from` upwards. */
function findPackageDir(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

const CONDITIONS = ['import', 'node', 'default'];

/** The target of an `exports` value under the conditions `import`, `node`, `default`. */
function exportTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const target = exportTarget(v);
      if (target) return target;
    }
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [condition, v] of Object.entries(value))
    if (CONDITIONS.includes(condition)) {
      const target = exportTarget(v);
      if (target) return target;
    }
  return undefined;
}

/** The file a package directory's `subpath` (`.` for the package itself) names. */
function packageEntry(dir: string, subpath: string, fail: (reason: string, cause?: unknown) => never): string {
  const manifest = join(dir, 'package.json');
  let pkg: { exports?: unknown } = {};
  if (existsSync(manifest)) {
    try {
      pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    } catch (err) {
      fail(`${manifest}: ${firstLine(err)}`, err);
    }
  }
  if (pkg.exports !== undefined) {
    const exp = pkg.exports;
    const isSubpathMap =
      typeof exp === 'object' && exp !== null && !Array.isArray(exp) && Object.keys(exp).some((k) => k.startsWith('.'));
    const target = exportTarget(
      isSubpathMap ? (exp as Record<string, unknown>)[subpath] : subpath === '.' ? exp : undefined,
    );
    if (!target) return fail(`${manifest} exports no "${subpath}" for import`);
    return resolve(dir, target);
  }
  try {
    return createRequire(join(dir, 'noop.js')).resolve(subpath === '.' ? dir : join(dir, subpath));
  } catch (err) {
    return fail(`${dir} has no entry point (no "exports" or "main" in its package.json, and no index.js)`, err);
  }
}
