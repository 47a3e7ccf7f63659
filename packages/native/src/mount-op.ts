// The MountOp vocabulary: the closed set of low-level steps a plan is made of. Pure data.
// Plugins describe what to do with these; only the interpreter in the stage process does it.
// Each kind has its type and, in MOUNT_OPS, its descriptor (how it is checked, described, and which
// host paths it reads): a new kind is a type, a descriptor and a case of the interpreter.
import {
  type FlagWord,
  isFlagWord,
  isMountAttrWord,
  isPropagation,
  type MountAttrWord,
  type Propagation,
} from './mount-flags.js';

/** Mount a filesystem on `target` (a path inside the rootfs; missing directories are created). */
export interface MountFsOp {
  op: 'mount';
  fstype: string;
  source: string;
  target: string;
  /** Flag words from MOUNT_FLAGS (`nosuid`, `ro` …). */
  flags?: FlagWord[];
  /** Filesystem options passed to the kernel as data (`mode=755`, `size=64m` …). */
  data?: string[];
}

/**
 * Bind-mount a host path on `target`. The source is first pinned (bound into the run's private
 * scratch space) unless `pin` is false (`nobind`). Flags are per-mount flags, applied
 * after the bind with mount_setattr(2), to every submount too when the bind is recursive.
 */
export interface BindOp {
  op: 'bind';
  /** Absolute host path. */
  source: string;
  target: string;
  /** Default true (rbind). */
  recursive?: boolean;
  /** Default true. */
  pin?: boolean;
  flags?: MountAttrWord[];
  propagation?: Propagation;
  /** Give the source, recursively and without following symlinks, to this owner first (`-v …:U`). */
  chown?: { uid: number; gid: number };
}

/**
 * An overlay on `target`. Without an upper layer it is read-only; with `scratchUpper` the upper
 * layer is a fresh directory in the run's private tmpfs, thrown away after the run.
 */
export interface OverlayOp {
  op: 'overlay';
  target: string;
  /** Absolute host paths, top first. */
  lowerdirs: string[];
  upperdir?: string;
  workdir?: string;
  scratchUpper?: boolean;
  flags?: FlagWord[];
}

/**
 * A private file on the run's tmpfs, with `mode`, bound read-only on `target`: a copy of the host
 * file `source`, or `content` itself (exactly one of the two; a generated file is never a host file).
 */
export interface FileOp {
  op: 'file';
  /** Absolute host path of a regular file. */
  source?: string;
  /** The file's text, written by the stage (the network part's /etc/hosts, /etc/hostname, /etc/resolv.conf). */
  content?: string;
  target: string;
  mode: number;
}

/** Create a device node; when the kernel refuses (EPERM), bind `fallback` (the host's node) instead. */
export interface MknodOp {
  op: 'mknod';
  target: string;
  kind: 'char' | 'block';
  major: number;
  minor: number;
  mode: number;
  fallback?: string;
}

export interface SymlinkOp {
  op: 'symlink';
  /** Text of the link. */
  link: string;
  target: string;
}

export interface MkdirOp {
  op: 'mkdir';
  target: string;
  mode: number;
}

/**
 * Hide `target` (the OCI runtime spec's masked paths, as runc does): a directory gets an empty
 * read-only tmpfs, anything else the container's /dev/null bound on it. A target that does not exist
 * is skipped: nothing is ever created. Resolved inside the rootfs, never through a symlink out of it.
 */
export interface MaskOp {
  op: 'mask';
  target: string;
}

/**
 * Make `target` read-only (the OCI runtime spec's read-only paths, as runc does): it is bound on
 * itself, recursively, and that bind made read-only with every mount under it. A target that does
 * not exist is skipped: nothing is ever created.
 */
export interface ReadonlyOp {
  op: 'readonly';
  target: string;
}

export type MountOp = MountFsOp | BindOp | OverlayOp | FileOp | MknodOp | SymlinkOp | MkdirOp | MaskOp | ReadonlyOp;
export type MountOpKind = MountOp['op'];

/** An op of one kind, as it arrives from JSON: its fields are still to be checked. */
type Unchecked = Readonly<Record<string, unknown>>;

/** What the engine knows about one kind of op, besides how the interpreter does it. */
export interface MountOpDescriptor<O extends MountOp> {
  /** One line describing the op, for logs and error messages. */
  describe(op: O): string;
  /** The problems of its fields (all but `op` and `target`, checked for every kind). */
  validate(op: Unchecked): string[];
  /** The host paths it reads, named for an error: the engine checks they exist when it plans the run. */
  hostPaths(op: O): { what: string; path: string }[];
}

const str = (op: Unchecked, k: string) => typeof op[k] === 'string' && (op[k] as string).length > 0;
const abs = (op: Unchecked, k: string) => str(op, k) && (op[k] as string).startsWith('/');
const int = (op: Unchecked, k: string) => Number.isInteger(op[k]);
/** An absent list, or a list of strings that pass `ok`. */
const words = (op: Unchecked, k: string, ok: (w: string) => boolean) =>
  op[k] === undefined || (Array.isArray(op[k]) && (op[k] as unknown[]).every((w) => typeof w === 'string' && ok(w)));
/** The problems whose test fails. */
const problems = (...checks: [ok: boolean, problem: string][]) => checks.flatMap(([ok, p]) => (ok ? [] : [p]));
const noHostPaths = () => [];

/** Every kind of op and its descriptor. */
export const MOUNT_OPS: { readonly [K in MountOpKind]: MountOpDescriptor<Extract<MountOp, { op: K }>> } = {
  mount: {
    describe: (op) => `mount ${op.fstype} on ${op.target}`,
    validate: (op) =>
      problems(
        [str(op, 'fstype') && str(op, 'source'), 'mount needs fstype and source'],
        [words(op, 'flags', isFlagWord), 'unknown mount flag'],
        [words(op, 'data', (w) => !w.includes(',')), "data words must not contain ','"],
      ),
    hostPaths: noHostPaths,
  },
  bind: {
    describe: (op) => `bind ${op.source} on ${op.target}`,
    validate: (op) => {
      const owner = op.chown as { uid?: unknown; gid?: unknown } | undefined;
      return problems(
        [abs(op, 'source'), 'bind source must be an absolute path'],
        [op.pin === undefined || typeof op.pin === 'boolean', 'pin must be true or false'],
        [words(op, 'flags', isMountAttrWord), 'unknown per-mount flag'],
        [op.propagation === undefined || isPropagation(String(op.propagation)), 'unknown propagation'],
        [owner === undefined || (int(owner, 'uid') && int(owner, 'gid')), 'chown needs integer uid and gid'],
      );
    },
    hostPaths: (op) => [{ what: 'bind source', path: op.source }],
  },
  overlay: {
    describe: (op) => `mount overlay on ${op.target}`,
    validate: (op) => {
      const dirs = op.lowerdirs;
      const upper = op.upperdir !== undefined;
      return problems(
        [
          Array.isArray(dirs) && dirs.length > 0 && dirs.every((d) => typeof d === 'string' && d.startsWith('/')),
          'overlay needs absolute lowerdirs',
        ],
        [upper === (op.workdir !== undefined), 'overlay needs both upperdir and workdir, or neither'],
        [!upper || (abs(op, 'upperdir') && abs(op, 'workdir')), 'upperdir and workdir must be absolute paths'],
        [!upper || !op.scratchUpper, 'upperdir and scratchUpper conflict'],
        [words(op, 'flags', isFlagWord), 'unknown mount flag'],
      );
    },
    hostPaths: (op) => op.lowerdirs.map((path) => ({ what: 'overlay lowerdir', path })),
  },
  file: {
    describe: (op) => (op.source === undefined ? `write ${op.target}` : `copy ${op.source} to ${op.target}`),
    validate: (op) =>
      problems(
        [(op.source === undefined) !== (op.content === undefined), 'file needs a source or a content, not both'],
        [op.source === undefined || abs(op, 'source'), 'file source must be an absolute path'],
        [op.content === undefined || typeof op.content === 'string', 'file content must be a string'],
        [int(op, 'mode'), 'mode must be an integer'],
      ),
    hostPaths: (op) => (op.source === undefined ? [] : [{ what: 'file source', path: op.source }]),
  },
  mknod: {
    describe: (op) => `mknod ${op.target}`,
    validate: (op) =>
      problems(
        [op.kind === 'char' || op.kind === 'block', 'kind must be char or block'],
        [int(op, 'major') && int(op, 'minor') && int(op, 'mode'), 'major, minor and mode must be integers'],
        [op.fallback === undefined || abs(op, 'fallback'), 'fallback must be absolute'],
      ),
    // The fallback is the host's node, bound only when the kernel refuses the mknod.
    hostPaths: noHostPaths,
  },
  symlink: {
    describe: (op) => `symlink ${op.target} -> ${op.link}`,
    validate: (op) => problems([str(op, 'link'), 'symlink needs link text']),
    hostPaths: noHostPaths,
  },
  mkdir: {
    describe: (op) => `mkdir ${op.target}`,
    validate: (op) => problems([int(op, 'mode'), 'mode must be an integer']),
    hostPaths: noHostPaths,
  },
  mask: {
    describe: (op) => `mask ${op.target}`,
    validate: () => [],
    hostPaths: noHostPaths,
  },
  readonly: {
    describe: (op) => `make ${op.target} read-only`,
    validate: () => [],
    hostPaths: noHostPaths,
  },
};

/** The descriptor of an op's kind (one function for every kind: TypeScript cannot pair them itself). */
const descriptor = <O extends MountOp>(op: O) => MOUNT_OPS[op.op] as unknown as MountOpDescriptor<O>;

/** One line describing an op, for logs and error messages. */
export const describeOp = (op: MountOp): string => descriptor(op).describe(op);

/** The host paths an op reads (bind and file sources, overlay lowerdirs), each named for an error. */
export const opHostPaths = (op: MountOp): { what: string; path: string }[] => descriptor(op).hostPaths(op);

/** Check the shape of a list of ops (they cross a process boundary as JSON). Returns the problems found. */
export function validateOps(ops: unknown): string[] {
  if (!Array.isArray(ops)) return ['ops: not a list'];
  return ops.flatMap((raw, i): string[] => {
    const where = `op ${i}`;
    if (typeof raw !== 'object' || raw === null) return [`${where}: not an object`];
    const op = raw as Unchecked;
    const kind =
      typeof op.op === 'string' && Object.hasOwn(MOUNT_OPS, op.op) ? MOUNT_OPS[op.op as MountOpKind] : undefined;
    return [
      ...(abs(op, 'target') ? [] : ['target must be an absolute path']),
      ...(kind ? kind.validate(op) : [`unknown op ${JSON.stringify(op.op)}`]),
    ].map((problem) => `${where}: ${problem}`);
  });
}
