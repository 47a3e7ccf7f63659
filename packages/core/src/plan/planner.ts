import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MountOp, RootfsPlan, StagePlan } from '@builder/native/ops';
import { inject, injectable } from 'inversify';
import { MountKindRegistry } from '../contributions/mount-kind-registry.js';
import { RootfsError, SpecError } from '../errors.js';
import { dirModeMounts } from '../spec/dir-modes.js';
import type { MountSpec } from '../spec/mount-spec.js';
import { DEFAULT_PATH, type RunSpec } from '../spec/run-spec.js';
import { DEFAULT_MOUNTS } from './default-mounts.js';

/** Engine-wide settings, bound by createEngine(). */
export const EngineSettings = Symbol.for('builder.EngineSettings');
export interface EngineSettings {
  /** Host directory under which each run mounts its private scratch tmpfs. Default `/run/builder`. */
  runroot: string;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Turns a RunSpec into the stage's plan: default mounts + user mounts, each planned by its MountKind. */
@injectable()
export class Planner {
  constructor(
    @inject(MountKindRegistry) private readonly registry: MountKindRegistry,
    @inject(EngineSettings) private readonly settings: EngineSettings,
  ) {}

  /** `rootfs`: a root filesystem already resolved (an image's layers), instead of spec.rootfs. */
  plan(spec: RunSpec, rootfs?: RootfsPlan): StagePlan {
    if (spec.image !== undefined && rootfs === undefined)
      throw new SpecError('an image is opened by run(), not by plan(): resolve it first');
    if (!Array.isArray(spec.argv) || spec.argv.length === 0 || spec.argv[0] === '')
      throw new SpecError('no command given: say what to run after "--"');
    const runId = randomBytes(6).toString('hex');
    const cwd = spec.cwd ?? '/';
    if (!cwd.startsWith('/')) throw new SpecError(`working directory "${cwd}" must be an absolute path`);
    const hostname = spec.hostname ?? runId;
    if (hostname.length > 64 || !HOSTNAME.test(hostname)) throw new SpecError(`invalid hostname "${hostname}"`);

    // A user mount on a default's destination takes that default's place in the order, so that a
    // user's /dev still comes before the default /dev/pts on top of it.
    const userMounts = [...dirModeMounts(spec.dirModes ?? []), ...(spec.mounts ?? [])].map(withDefaultDevices);
    const userByDest = new Map(userMounts.map((m) => [normalizeDestination(m.destination), m]));
    const mounts: MountSpec[] = DEFAULT_MOUNTS.map((d) => userByDest.get(d.destination) ?? d);
    for (const m of userMounts) if (!mounts.includes(m)) mounts.push(m);
    const ctx = { runId, user: { uid: 0, gid: 0 } };
    const ops = mounts.flatMap((m) => {
      const { kind, mount } = this.registry.resolve(m);
      const planned = kind.plan(mount, ctx);
      checkHostPaths(mount, planned);
      return planned;
    });

    return {
      namespaces: { pid: true, uts: true, ipc: true, net: false },
      runroot: this.settings.runroot,
      rootfs:
        rootfs ??
        (spec.rootfs === undefined
          ? { type: 'overlay', lowers: ['/'] }
          : { type: 'dir', path: checkRootfs(spec.rootfs) }),
      ops,
      hostname,
      process: {
        argv: spec.argv,
        env: buildEnv(
          [...(spec.terminal ? [`TERM=${process.env.TERM || 'xterm'}`] : []), ...(spec.env ?? [])],
          hostname,
        ),
        cwd,
        ...(spec.terminal ? { terminal: true } : {}),
      },
    };
  }
}

const normalizeDestination = (dest: string): string => dest.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');

/**
 * The OCI runtime spec's default devices are there whatever is mounted on /dev, unless /dev is bound
 * from elsewhere (runc's rule): a tmpfs on /dev, as `runc spec` has, becomes the dev kind's tmpfs
 * with its nodes and symlinks (gVisor forces that type too).
 */
function withDefaultDevices(mount: MountSpec): MountSpec {
  return mount.type === 'tmpfs' && normalizeDestination(mount.destination) === '/dev'
    ? { ...mount, type: 'dev' }
    : mount;
}

/** Host paths an op reads must exist now (buildah drops such a mount with a warning; we refuse it). */
function checkHostPaths(mount: MountSpec, ops: MountOp[]): void {
  const paths = ops.flatMap((op) => {
    if (op.op === 'bind' || op.op === 'file') return [{ what: `${op.op} source`, path: op.source }];
    if (op.op === 'overlay') return op.lowerdirs.map((path) => ({ what: 'overlay lowerdir', path }));
    return [];
  });
  for (const { what, path } of paths) {
    if (!existsSync(path))
      throw new SpecError(`mount on ${mount.destination} (type ${mount.type}): ${what} "${path}" does not exist`);
  }
}

function checkRootfs(path: string): string {
  const abs = resolve(path);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RootfsError(`rootfs "${path}": ${code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
  }
  if (!st.isDirectory()) throw new RootfsError(`rootfs "${path}": not a directory`);
  return abs;
}

/** The command's environment: docker's defaults, then the user's `KEY=VALUE` / `KEY` entries. */
export function buildEnv(entries: string[], hostname: string): string[] {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', hostname],
    ['HOME', '/root'],
  ]);
  for (const entry of entries) {
    const i = entry.indexOf('=');
    const key = i < 0 ? entry : entry.slice(0, i);
    if (key === '' || key.includes('\0')) throw new SpecError(`invalid environment variable "${entry}"`);
    if (i >= 0) env.set(key, entry.slice(i + 1));
    else if (process.env[key] !== undefined) env.set(key, process.env[key] as string);
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}
