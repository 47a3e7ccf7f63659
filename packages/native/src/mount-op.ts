// The MountOp vocabulary: the closed set of low-level steps a plan is made of. Pure data.
// Plugins describe what to do with these; only the interpreter in the stage process does it.
import { isMountAttrWord, MOUNT_FLAGS, PROPAGATION_FLAGS } from './mount-flags.js';

/** Mount a filesystem on `target` (a path inside the rootfs; missing directories are created). */
export interface MountFsOp {
  op: 'mount';
  fstype: string;
  source: string;
  target: string;
  /** Flag words from MOUNT_FLAGS (`nosuid`, `ro` …). */
  flags?: string[];
  /** Filesystem options passed to the kernel as data (`mode=755`, `size=64m` …). */
  data?: string[];
}

/**
 * Bind-mount a host path on `target`. The source is first staged (bound into the run's private
 * scratch space, pinning it) unless `stage` is false (`nobind`). Flags are per-mount flags, applied
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
  stage?: boolean;
  flags?: string[];
  propagation?: keyof typeof PROPAGATION_FLAGS;
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
  flags?: string[];
}

/** A private copy of a host file, on the run's tmpfs, with `mode`, bound read-only on `target`. */
export interface FileOp {
  op: 'file';
  /** Absolute host path of a regular file. */
  source: string;
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

export type MountOp = MountFsOp | BindOp | OverlayOp | FileOp | MknodOp | SymlinkOp | MkdirOp;
export type MountOpKind = MountOp['op'];

/** One line describing an op, for logs and error messages. */
export function describeOp(op: MountOp): string {
  switch (op.op) {
    case 'mount':
      return `mount ${op.fstype} on ${op.target}`;
    case 'bind':
      return `bind ${op.source} on ${op.target}`;
    case 'overlay':
      return `mount overlay on ${op.target}`;
    case 'file':
      return `copy ${op.source} to ${op.target}`;
    case 'mknod':
      return `mknod ${op.target}`;
    case 'symlink':
      return `symlink ${op.target} -> ${op.link}`;
    case 'mkdir':
      return `mkdir ${op.target}`;
  }
}

/** Check the shape of a list of ops (they cross a process boundary as JSON). Returns the problems found. */
export function validateOps(ops: unknown): string[] {
  if (!Array.isArray(ops)) return ['ops: not a list'];
  const problems: string[] = [];
  ops.forEach((raw, i) => {
    const where = `op ${i}`;
    if (typeof raw !== 'object' || raw === null) {
      problems.push(`${where}: not an object`);
      return;
    }
    const op = raw as Record<string, unknown>;
    const str = (k: string) => typeof op[k] === 'string' && (op[k] as string).length > 0;
    const abs = (k: string) => str(k) && (op[k] as string).startsWith('/');
    const words = (k: string, ok: (w: string) => boolean) =>
      op[k] === undefined ||
      (Array.isArray(op[k]) && (op[k] as unknown[]).every((w) => typeof w === 'string' && ok(w)));
    if (!abs('target')) problems.push(`${where}: target must be an absolute path`);
    switch (op.op) {
      case 'mount':
        if (!str('fstype') || !str('source')) problems.push(`${where}: mount needs fstype and source`);
        if (!words('flags', (w) => Object.hasOwn(MOUNT_FLAGS, w))) problems.push(`${where}: unknown mount flag`);
        if (!words('data', (w) => !w.includes(','))) problems.push(`${where}: data words must not contain ','`);
        break;
      case 'bind':
        if (!abs('source')) problems.push(`${where}: bind source must be an absolute path`);
        if (!words('flags', isMountAttrWord)) problems.push(`${where}: unknown per-mount flag`);
        if (op.propagation !== undefined && !Object.hasOwn(PROPAGATION_FLAGS, String(op.propagation)))
          problems.push(`${where}: unknown propagation`);
        if (op.chown !== undefined) {
          const owner = op.chown as { uid?: unknown; gid?: unknown };
          if (!Number.isInteger(owner.uid) || !Number.isInteger(owner.gid))
            problems.push(`${where}: chown needs integer uid and gid`);
        }
        break;
      case 'overlay': {
        const dirs = op.lowerdirs;
        if (!Array.isArray(dirs) || dirs.length === 0 || !dirs.every((d) => typeof d === 'string' && d.startsWith('/')))
          problems.push(`${where}: overlay needs absolute lowerdirs`);
        if ((op.upperdir === undefined) !== (op.workdir === undefined))
          problems.push(`${where}: overlay needs both upperdir and workdir, or neither`);
        if (op.upperdir !== undefined && (!abs('upperdir') || !abs('workdir')))
          problems.push(`${where}: upperdir and workdir must be absolute paths`);
        if (op.upperdir !== undefined && op.scratchUpper) problems.push(`${where}: upperdir and scratchUpper conflict`);
        if (!words('flags', (w) => Object.hasOwn(MOUNT_FLAGS, w))) problems.push(`${where}: unknown mount flag`);
        break;
      }
      case 'file':
        if (!abs('source')) problems.push(`${where}: file source must be an absolute path`);
        if (!Number.isInteger(op.mode)) problems.push(`${where}: mode must be an integer`);
        break;
      case 'mknod':
        if (op.kind !== 'char' && op.kind !== 'block') problems.push(`${where}: kind must be char or block`);
        if (!Number.isInteger(op.major) || !Number.isInteger(op.minor) || !Number.isInteger(op.mode))
          problems.push(`${where}: major, minor and mode must be integers`);
        if (op.fallback !== undefined && !abs('fallback')) problems.push(`${where}: fallback must be absolute`);
        break;
      case 'symlink':
        if (!str('link')) problems.push(`${where}: symlink needs link text`);
        break;
      case 'mkdir':
        if (!Number.isInteger(op.mode)) problems.push(`${where}: mode must be an integer`);
        break;
      default:
        problems.push(`${where}: unknown op ${JSON.stringify(op.op)}`);
    }
  });
  return problems;
}
