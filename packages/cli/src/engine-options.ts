// What every command that builds an engine shares: the plugins to load, the runroot and the store's
// root, from the built-in plugins, the config file and the flags. Loaded lazily with core.
import { resolve } from 'node:path';
import type * as Core from '@builder/core';

/**
 * Engine options from the config file ($BUILDER_CONFIG or /etc/builder/config.json), --plugin and
 * --root flags.
 */
export function engineOptions(
  core: typeof Core,
  flags: { plugin?: readonly string[]; root?: string; 'log-level'?: string } = {},
): Pick<Core.EngineOptions, 'plugins' | 'runroot' | 'root' | 'logLevel'> {
  const config = core.loadConfig();
  const root = flags.root ?? config.root;
  return {
    // Built-in plugins first, then the config file's, then the command line's.
    plugins: [...core.DEFAULT_PLUGINS, ...config.plugins, ...(flags.plugin ?? [])],
    ...(config.runroot ? { runroot: config.runroot } : {}),
    ...(root ? { root: resolve(root) } : {}),
    ...(flags['log-level'] ? { logLevel: flags['log-level'] as Core.LogLevel } : {}),
  };
}
