// What every command that builds an engine shares: the plugins to load and the runroot, from the
// built-in plugins, the config file and --plugin flags. Loaded lazily with core.
import type * as Core from '@builder/core';

/** Engine options from the config file ($BUILDER_CONFIG or /etc/builder/config.json) and --plugin flags. */
export function engineOptions(
  core: typeof Core,
  plugins: readonly string[] = [],
): Pick<Core.EngineOptions, 'plugins' | 'runroot'> {
  const config = core.loadConfig();
  return {
    // Built-in plugins first, then the config file's, then the command line's.
    plugins: [...core.DEFAULT_PLUGINS, ...config.plugins, ...plugins],
    ...(config.runroot ? { runroot: config.runroot } : {}),
  };
}
