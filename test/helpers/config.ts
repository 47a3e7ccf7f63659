// builder's configuration file as a user meets it: `builder …` with $BUILDER_CONFIG set (or unset),
// and a command in a private mount namespace whose /etc/builder holds a given directory, so that the
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
 * The argv that runs `argv` in a private mount namespace (unshare -m) where /etc is an overlay of the
 * host's, its writes on a tmpfs mounted on `scratch` (an empty directory of the test's own), and
 * /etc/builder is a tmpfs holding a copy of `etcBuilder`'s files ('' for none). Every step is checked
 * before the next, so nothing is written unless /etc is the overlay and /etc/builder the tmpfs; it all
 * goes when the command exits, and the host's /etc is never written.
 */
export function inPrivateEtc(scratch: string, etcBuilder: string, argv: string[]): string[] {
  const script = [
    'set -eu',
    'mount -t tmpfs -o size=16m builder-test-etc "$1"',
    'mkdir "$1/upper" "$1/work"',
    'mount -t overlay builder-test-etc -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc',
    '[ "$(stat -f -c %T /etc)" = overlayfs ]',
    'mkdir -p /etc/builder',
    'mount -t tmpfs -o size=4m builder-test-etc /etc/builder',
    '[ "$(stat -f -c %T /etc/builder)" = tmpfs ]',
    'if [ -n "$2" ]; then cp -a "$2/." /etc/builder/; fi',
    'shift 2',
    'exec "$@"',
  ].join('\n');
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, 'sh', scratch, etcBuilder, ...argv];
}

/** `builder ARGS…` with $BUILDER_CONFIG unset and /etc/builder holding `etcBuilder`'s files (inPrivateEtc). */
export const builderWithEtcBuilder = (etcBuilder: string, scratch: string, args: string[]): Promise<Finished> =>
  startBuilder([], {
    command: inPrivateEtc(scratch, etcBuilder, [process.execPath, BUILDER, ...args]),
    env: childEnv(undefined),
  }).done;
