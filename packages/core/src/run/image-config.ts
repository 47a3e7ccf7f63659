// An image's config applied to a run spec: the engine's side of an image (the image room reads the
// config, image/formats/config-json.ts; what it means for a run is decided here).
import { parseUserSpec } from '@builder/native/pure';
import { ImageError } from '../errors.js';
import type { ImageConfig } from '../image/index.js';
import type { RunSpec } from '../request/run-spec.js';

/** User values that mean root: such an image runs exactly as a run without a user. */
const ROOT_USERS = new Set(['', 'root', '0', 'root:root', '0:0', 'root:0', '0:root']);

/**
 * Applies an image's config to a run spec, as podman does: argv = Entrypoint + (the spec's argv when
 * it has one, else Cmd); env = the image's Env, then the spec's (a later entry for the same name wins,
 * as in buildEnv); cwd = the spec's, else WorkingDir, else `/`; user = the spec's, else User.
 */
export function applyImageConfig(spec: RunSpec, config: ImageConfig): RunSpec {
  const imageUser = config.User ?? '';
  // The image's User applies when the spec names none and it is not root (the default anyway).
  const user = spec.user === undefined && !ROOT_USERS.has(imageUser) ? imageUser : undefined;
  if (user !== undefined) {
    try {
      parseUserSpec(user);
    } catch (err) {
      throw new ImageError(`image config User: ${(err as Error).message}`);
    }
  }
  const argv = [...(config.Entrypoint ?? []), ...(spec.argv.length > 0 ? spec.argv : (config.Cmd ?? []))];
  if (argv.length === 0) throw new ImageError('no command: the image has no Entrypoint or Cmd and none was given');
  const env = [...(config.Env ?? []), ...(spec.env ?? [])];
  const out: RunSpec = { ...spec, argv, cwd: spec.cwd ?? (config.WorkingDir || '/') };
  if (env.length > 0) out.env = env;
  if (user !== undefined) out.user = user;
  return out;
}
