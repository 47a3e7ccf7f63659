import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { SpecError } from './errors.js';
import { didYouMean } from './request/suggest.js';

/** builder's configuration file: `$BUILDER_CONFIG`, else `/etc/builder/config.json`. */
export interface BuilderConfig {
  /** Plugins to load after the built-in ones: package names, or paths (made absolute). */
  plugins: string[];
  /** Host directory under which each run mounts its private scratch space. */
  runroot?: string;
  /** Where the layer store lives. */
  root?: string;
  /** The file this came from, when there was one. */
  file?: string;
}

export const DEFAULT_CONFIG_FILE = '/etc/builder/config.json';

const KEYS = ['plugins', 'runroot', 'root'];

/** A plugin named by a path (`./x`, `../x`, `/x`) rather than a package name. */
export const isPluginPath = (ref: string): boolean => ref.startsWith('.') || isAbsolute(ref);

/**
 * Read the configuration: the file named by `$BUILDER_CONFIG`, else `/etc/builder/config.json` if it
 * exists, else an empty configuration. The file is JSON:
 * `{"plugins": ["pkg-or-path", …], "runroot": "/run/builder", "root": "/var/lib/builder"}`;
 * relative plugin paths are taken from the file's directory. Throws SpecError naming the file.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): BuilderConfig {
  const named = env.BUILDER_CONFIG;
  const file = named ? resolve(named) : existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined;
  if (!file) return { plugins: [] };
  const shown = named ?? file;
  const fail = (problem: string): never => {
    throw new SpecError(`config file ${JSON.stringify(shown)}: ${problem}`);
  };

  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(e.code === 'ENOENT' ? 'no such file' : `cannot read it (${e.code ?? e.message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    return fail('expected a JSON object ({"plugins": […], "runroot": …})');

  const config: BuilderConfig = { plugins: [], file };
  for (const [key, value] of Object.entries(data)) {
    if (key === 'plugins') {
      if (!Array.isArray(value) || !value.every((p) => typeof p === 'string' && p !== ''))
        fail('"plugins" must be an array of package names or paths');
      config.plugins = (value as string[]).map((p) => (isPluginPath(p) ? resolve(dirname(file), p) : p));
    } else if (key === 'runroot' || key === 'root') {
      if (typeof value !== 'string' || !isAbsolute(value)) fail(`"${key}" must be an absolute path`);
      config[key] = value as string;
    } else fail(`unknown key ${JSON.stringify(key)}${didYouMean(key, KEYS)}`);
  }
  return config;
}
