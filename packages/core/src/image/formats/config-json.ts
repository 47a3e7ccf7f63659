// The fields builder reads from an image's config JSON (OCI or docker): its run-time settings and its
// layers' diffIDs.
import { ImageError } from '../../errors.js';
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
