import { parseUserSpec } from '@builder/native/ops';
import { ImageError } from '../errors.js';
import type { RunSpec } from '../spec/run-spec.js';
import { isObject } from './blob.js';
import type { ImageConfig } from './image.js';

function stringArray(v: unknown, field: string, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new ImageError(`${what}: config field ${field} is not a list of strings`);
  }
  return v as string[];
}

function string(v: unknown, field: string, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ImageError(`${what}: config field ${field} is not a string`);
  return v;
}

/** The run-time fields of a parsed OCI / docker image config (its `config` section). */
export function imageConfigFromJson(json: unknown, what: string): ImageConfig {
  if (!isObject(json)) throw new ImageError(`${what}: image config is not a JSON object`);
  const c = json.config ?? null;
  if (c === null) return {};
  if (!isObject(c)) throw new ImageError(`${what}: image config's "config" is not an object`);
  const out: ImageConfig = {};
  const env = stringArray(c.Env, 'Env', what);
  if (env) out.Env = env;
  const cmd = stringArray(c.Cmd, 'Cmd', what);
  if (cmd) out.Cmd = cmd;
  const ep = stringArray(c.Entrypoint, 'Entrypoint', what);
  if (ep) out.Entrypoint = ep;
  const wd = string(c.WorkingDir, 'WorkingDir', what);
  if (wd) out.WorkingDir = wd;
  const user = string(c.User, 'User', what);
  if (user) out.User = user;
  return out;
}

/** The config's `rootfs.diff_ids`. */
export function diffIdsFromJson(json: unknown, what: string): string[] {
  const rootfs = isObject(json) ? json.rootfs : undefined;
  const ids = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) {
    throw new ImageError(`${what}: image config has no rootfs.diff_ids list`);
  }
  return ids as string[];
}

/** User values that mean root: such an image runs exactly as a run without a user. */
const ROOT_USERS = new Set(['', 'root', '0', 'root:root', '0:0', 'root:0', '0:root']);

/**
 * Applies an image's config to a run spec, as podman does: argv = Entrypoint + (the spec's argv when
 * it has one, else Cmd); env = the image's Env, then the spec's (a later entry for the same name wins,
 * as in buildEnv); cwd = the spec's, else WorkingDir, else `/`; user = the spec's, else User.
 */
export function applyImageConfig(spec: RunSpec, config: ImageConfig): RunSpec {
  const imageUser = config.User ?? '';
  if (spec.user === undefined && !ROOT_USERS.has(imageUser)) {
    try {
      parseUserSpec(imageUser);
    } catch (err) {
      throw new ImageError(`image config User: ${(err as Error).message}`);
    }
  }
  const argv = [...(config.Entrypoint ?? []), ...(spec.argv.length > 0 ? spec.argv : (config.Cmd ?? []))];
  if (argv.length === 0) throw new ImageError('no command: the image has no Entrypoint or Cmd and none was given');
  const env = [...(config.Env ?? []), ...(spec.env ?? [])];
  const out: RunSpec = { ...spec, argv, cwd: spec.cwd ?? (config.WorkingDir || '/') };
  if (env.length > 0) out.env = env;
  if (spec.user === undefined && !ROOT_USERS.has(imageUser)) out.user = imageUser;
  return out;
}
