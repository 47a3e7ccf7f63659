// builder's configuration file as a user meets it: `builder …` with $BUILDER_CONFIG set (or unset),
// and `builder …` in a private mount namespace whose /etc/builder holds a given directory, so that the
// default /etc/builder/config.json is read without the host's /etc ever being written.
import { BUILDER, type Finished, startBuilder } from './cli.js';

export interface SpawnOptions {
  /** $BUILDER_CONFIG for the child; undefined: unset (the default file is read). */
  config?: string;
  cwd?: string;
}

/** The environment of a child: ours, with $BUILDER_CONFIG set to `config` or removed. */
function childEnv(config: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.BUILDER_CONFIG;
  if (config !== undefined) env.BUILDER_CONFIG = config;
  return env;
}

/** `builder ARGS…` with $BUILDER_CONFIG set to `opts.config` (or unset), from `opts.cwd`. */
export const builderWith = (args: string[], opts: SpawnOptions = {}): Promise<Finished> =>
  startBuilder(args, { cwd: opts.cwd, env: childEnv(opts.config) }).done;

/**
 * `builder ARGS…` with $BUILDER_CONFIG unset, in a private mount namespace (unshare -m) where
 * /etc/builder is a copy of `etcBuilder`: a tmpfs is mounted on `scratch` (an empty directory of the
 * test's own), and /etc gets an overlay whose upper layer, on that tmpfs, holds the copy. Nothing of it
 * is seen outside the namespace, and it all goes when builder exits.
 */
export function builderWithEtcBuilder(etcBuilder: string, scratch: string, args: string[]): Promise<Finished> {
  const script = [
    'set -e',
    'mount -t tmpfs builder-test-etc "$1"',
    'mkdir "$1/upper" "$1/work"',
    'cp -a "$2" "$1/upper/builder"',
    'mount -t overlay builder-test-etc -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc',
    'shift 2',
    'exec "$@"',
  ].join('\n');
  return startBuilder([], {
    command: [
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      scratch,
      etcBuilder,
      process.execPath,
      BUILDER,
      ...args,
    ],
    env: childEnv(undefined),
  }).done;
}
