// The planner: a RunSpec becomes the stage's plan (namespaces, rootfs, the ops of every mount, the
// process), with the host paths the ops read checked to exist.
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  formatUserSpec,
  type MountOp,
  opHostPaths,
  parseUserSpec,
  type RootfsPlan,
  type StagePlan,
  type UserSpec,
} from '@builder/native/pure';
import { inject, injectable } from 'inversify';
import { type PlanContext, PlanContextError } from '../contributions/mount-kind.js';
import { MountKindRegistry, mountError } from '../contributions/mount-kind-registry.js';
import { RootfsError, SpecError } from '../errors.js';
import { dirModeMounts } from '../request/dir-modes.js';
import type { MountSpec } from '../request/mount-spec.js';
import { DEFAULT_PATH, type RunSpec } from '../request/run-spec.js';
import { boundDevSource, keptOnBoundDev } from './bound-dev.js';
import { confinedPathOps, readOnlyTmpfsMounts } from './confined-paths.js';
import { DEFAULT_MOUNTS } from './default-mounts.js';
import { planLimits } from './limits.js';
import { planNetwork } from './network.js';
import { planSecurity } from './security.js';

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
    // A library caller's "false" or 1 must not half-apply a switch: each is true or false, or absent.
    for (const key of ['privileged', 'noNewPrivileges', 'readOnly', 'readOnlyTmpfs', 'terminal'] as const)
      if (spec[key] !== undefined && typeof spec[key] !== 'boolean')
        throw new SpecError(`${key} must be true or false`);
    const defaults = [...DEFAULT_MOUNTS, ...readOnlyTmpfsMounts(spec)];
    // On a host directory bound on /dev, a default below /dev stays only where its mountpoint exists.
    const devSource = boundDevSource(userByDest.get('/dev'));
    const mounts: MountSpec[] = defaults.flatMap((d) => {
      const user = userByDest.get(d.destination);
      return user ? [user] : keptOnBoundDev(devSource, d) ? [d] : [];
    });
    for (const m of userMounts) if (!mounts.includes(m)) mounts.push(m);
    const user = spec.user === undefined ? undefined : parseUser(spec.user);
    const limits = planLimits(spec);
    const ctx: PlanContext = { runId, user: knownIds(user) };
    const ops = mounts.flatMap((mount) => {
      const planned = this.registry.plan(mount, ctx);
      checkHostPaths(mount, planned);
      return planned;
    });
    // The generated /etc/hosts, /etc/hostname and /etc/resolv.conf, after every mount; a user's mount on one replaces it.
    const network = planNetwork(spec, hostname, (dest) => userByDest.has(dest));
    ops.push(...network.ops);
    // Masked and read-only paths come last (runc makes them after every mount).
    ops.push(...confinedPathOps(spec));

    return {
      security: planSecurity(spec),
      namespaces: { pid: true, uts: true, ipc: true, net: network.netns },
      runroot: this.settings.runroot,
      rootfs: {
        ...(rootfs ??
          (spec.rootfs === undefined
            ? { type: 'overlay', lowers: ['/'] }
            : { type: 'dir', path: checkRootfs(spec.rootfs) })),
        ...(spec.readOnly ? { readOnly: true } : {}),
      },
      ops,
      hostname,
      ...(limits ? { limits } : {}),
      process: {
        argv: spec.argv,
        env: buildEnv(
          [...(spec.terminal ? [`TERM=${process.env.TERM || 'xterm'}`] : []), ...(spec.env ?? [])],
          hostname,
          // With a user, the stage sets HOME from its passwd entry unless the entries set it.
          user === undefined ? DEFAULT_HOME : null,
        ),
        cwd,
        ...(user === undefined ? {} : { user: formatUserSpec(user) }),
        ...(spec.terminal ? { terminal: true } : {}),
      },
    };
  }
}

function parseUser(text: string): UserSpec {
  try {
    return parseUserSpec(text);
  } catch (err) {
    throw new SpecError((err as Error).message);
  }
}

/** PlanContext.user: the ids when they are known now (user.ts resolves the rest in the stage). */
function knownIds(user: UserSpec | undefined): PlanContext['user'] {
  if (user === undefined) return { uid: 0, gid: 0 };
  if (typeof user.user === 'number' && typeof user.group === 'number') return { uid: user.user, gid: user.group };
  const unknown = (): never => {
    throw new PlanContextError(
      `user "${formatUserSpec(user)}" is looked up in the container's /etc/passwd when the run starts, too late for a mount that needs its ids (bind's U option): give the user as UID:GID`,
    );
  };
  return {
    get uid() {
      return unknown();
    },
    get gid() {
      return unknown();
    },
  };
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
  for (const { what, path } of ops.flatMap(opHostPaths))
    if (!existsSync(path)) throw mountError(mount, `${what} "${path}" does not exist`);
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

/** HOME of a run without a user (docker's). */
export const DEFAULT_HOME = '/root';

/**
 * The command's environment: docker's defaults, then the user's `KEY=VALUE` / `KEY` entries.
 * `home`: the default HOME; null for none (a run with a user gets it from passwd in the stage).
 */
export function buildEnv(entries: string[], hostname: string, home: string | null = DEFAULT_HOME): string[] {
  const env = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', hostname],
  ]);
  if (home !== null) env.set('HOME', home);
  for (const entry of entries) {
    const i = entry.indexOf('=');
    const key = i < 0 ? entry : entry.slice(0, i);
    if (key === '' || key.includes('\0')) throw new SpecError(`invalid environment variable "${entry}"`);
    if (i >= 0) env.set(key, entry.slice(i + 1));
    else if (process.env[key] !== undefined) env.set(key, process.env[key] as string);
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}
