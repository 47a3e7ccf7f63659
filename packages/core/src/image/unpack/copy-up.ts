// Hard links to files of lower layers, in overlay format (docs/layers.md, "Hard links to lower layers").
//
// A layer unpacked into its own directory cannot link to a file that a lower layer holds: the target
// is in another directory (often another filesystem tree entirely). overlayfs solves the same problem
// at run time with copy-up: `link()` on a merged mount first copies the lower file into the upper
// directory. This file does that copy while the layer is unpacked:
// - The target path is looked up in the merged view of this layer (top) and its lowers, with
//   overlayfs' rules: the topmost layer that has an entry for a name wins; a 0:0 char device
//   (whiteout) hides that name in every layer below; a directory with `trusted.overlay.opaque=y` hides
//   the same directory of every layer below; a non-directory hides everything below it at that path;
//   symlinks in parents are followed with chroot rules (an absolute target restarts at the merged root,
//   `..` never climbs above it). Each step opens one component relative to a directory fd of one layer
//   with O_PATH|O_NOFOLLOW, so nothing is resolved outside any layer's root. The final component is
//   never followed (a hard link to a symlink links the symlink).
// - An opaque layer root hides all layers below it (OCI: `.wh..wh..opq` at the top of a layer). The
//   kernel ignores the xattr on a layer root, so the store cuts the lowerdir stack there to match
//   (store/visible-layers.ts).
// - The copy: parents missing in this layer are created with the owner, mode, xattrs and times of the
//   topmost lower directory at that path (their times are set again at the end of the layer, like the
//   layer's own directories); the target itself gets its contents (regular file), link target (symlink)
//   or device number, then owner, mode, xattrs (all but trusted.overlay.*) and atime/mtime: what
//   overlayfs' copy-up keeps. The copy is a new inode; when the lower file has other names (nlink > 1)
//   that the merged view still shows, they are linked to the copy in this layer too (found through an
//   inode index of that lower layer, built once), so the group stays one inode, as in a flat extraction
//   (overlayfs needs its `index` feature for that at run time).
import {
  type BigIntStats,
  copyFileSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  readdirSync,
  type Stats,
} from 'node:fs';
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  ELOOP,
  fchmodat,
  fchownat,
  fdPath,
  hasCode,
  lgetxattr,
  linkat,
  llistxattr,
  lsetxattr,
  MAXSYMLINKS,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_NOFOLLOW,
  O_PATH,
  openat,
  readlinkat,
  S_IFMT,
  SyscallError,
  symlinkat,
  unlinkat,
  utimensat,
} from '@builder/native';
import { DIR_PATH_FLAGS, SUBDIR_PATH_FLAGS } from './fd-flags.js';

const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** One layer's fd for a directory of the merged view. */
interface LayerDir {
  layer: number;
  fd: number;
}

/** A directory of the merged view: its name and the layers that contribute to it, top first. */
interface MergedDir {
  name: string;
  dirs: LayerDir[];
}

/** An entry of a merged directory: its topmost layer's fd and stat, and that layer's fd of the directory. */
type TopEntry = LayerDir & { st: Stats; dirFd: number };

/** Where a walk through the merged view ended: the merged directories from the root, and the final name. */
interface Walked {
  parents: MergedDir[];
  name: string;
  /** The final name's topmost entry (lookup). */
  top?: TopEntry;
}

export interface LowerHit {
  /** 0: the layer being unpacked; 1…: its lowers, top first. */
  layer: number;
  /** O_PATH fd of the entry itself (not followed). */
  fd: number;
  /** O_PATH fd of the entry's directory in its layer. */
  dirFd: number;
  st: Stats;
  /** The merged directories from the root to the entry's parent (the root first). */
  parents: MergedDir[];
  name: string;
  /** Close every fd of the hit. */
  release(): void;
}

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

function isOpaque(dirFd: number): boolean {
  try {
    return lgetxattr(`${fdPath(dirFd)}/.`, OPAQUE_XATTR).toString() === 'y';
  } catch (err) {
    if (hasCode(err, 'ENODATA') || hasCode(err, 'ENOTSUP')) return false;
    throw err;
  }
}

const split = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');

/**
 * The lower layer directories of a layer being unpacked in overlay format (top first), kept open as
 * O_PATH fds for its lifetime.
 */
export class Lowers {
  private readonly fds: number[] = [];
  private readonly indexes = new Map<number, Map<string, string[]>>();
  copiedUp = 0;

  constructor(private readonly dirs: readonly string[]) {
    try {
      for (const dir of dirs) this.fds.push(openat(AT_FDCWD, dir, DIR_PATH_FLAGS));
    } catch (err) {
      this.close();
      throw err;
    }
  }

  close(): void {
    for (const fd of this.fds.splice(0)) closeFd(fd);
  }

  /**
   * Look `clean` (a cleaned relative path) up in the merged view of `topFd` (the layer being
   * unpacked) over the lowers. Undefined when nothing is there (a missing name, or a non-directory on
   * the way); the root itself is never a hit.
   */
  lookup(topFd: number, clean: string): LowerHit | undefined {
    const fds = new OpenFds();
    const release = () => fds.closeAll();
    try {
      const found = this.walk(topFd, clean, fds, false);
      if (found?.top) {
        const { layer, fd, st, dirFd } = found.top;
        return { layer, fd, dirFd, st, parents: found.parents, name: found.name, release };
      }
    } catch (err) {
      release();
      throw err;
    }
    release();
    return undefined;
  }

  /**
   * The directory `dir` (a cleaned relative path) of the layer `topFd`, resolved in the merged view of
   * that layer over the lowers (symlinks of any layer followed with chroot rules, the final component
   * too) and created in the layer where it is missing: parents that a lower layer has are copied from
   * it (containerd's WithParents), so a layer's `lib/x` over a lower `lib -> usr/lib` lands in
   * `usr/lib`, as in a flat extraction. A name that is missing, whited out or not a directory in the
   * merged view becomes a plain 0755 directory. Returns the O_PATH fd (the caller closes it) and the
   * resolved path.
   */
  makeDirs(topFd: number, dir: string, onCreate: OnCreate): { fd: number; path: string } {
    const fds = new OpenFds();
    try {
      const { parents } = this.walk(topFd, dir, fds, true) as Walked;
      const fd = makeParents(topFd, parents, onCreate);
      return {
        fd,
        path: `/${parents
          .slice(1)
          .map((d) => d.name)
          .join('/')}`,
      };
    } finally {
      fds.closeAll();
    }
  }

  /**
   * The one walk through the merged view, symlinks followed with chroot rules (an absolute target
   * restarts at the merged root, `..` never climbs above it), MAXSYMLINKS at most.
   * - `create` false (lookup): the final component is not followed; its topmost entry is the walk's
   *   `top`. Undefined when a name is missing or a non-directory is on the way, or the path is the root.
   * - `create` true (makeDirs): every component is followed, the final one too; a name that is missing
   *   or not a directory in the merged view is walked as a new directory of this layer (no lower
   *   contributes to it). `parents` then ends with the directory itself.
   */
  private walk(topFd: number, path: string, fds: OpenFds, create: boolean): Walked | undefined {
    const root = this.mergedRoot(topFd, fds);
    let stack: MergedDir[] = [root];
    const parts = split(path);
    let links = 0;
    while (parts.length) {
      const name = parts.shift() as string;
      if (name === '..') {
        if (stack.length > 1) stack = stack.slice(0, -1);
        continue;
      }
      const last = parts.length === 0;
      const { top, merged } = mergeName(stack[stack.length - 1], name, fds);
      if (top?.st.isSymbolicLink() && (create || !last)) {
        if (++links > MAXSYMLINKS) throw new SyscallError('resolve', ELOOP, path);
        const target = readlinkat(top.fd, '');
        if (target.startsWith('/')) stack = [root];
        parts.unshift(...split(target));
        continue;
      }
      if (create) {
        // A directory merges what the layers have; anything else becomes a new directory of this layer.
        stack = [...stack, { name, dirs: top?.st.isDirectory() ? merged : [] }];
        continue;
      }
      if (!top) return undefined;
      if (last) return { parents: stack, name, top };
      if (!top.st.isDirectory()) return undefined; // ENOTDIR: nothing there
      stack = [...stack, { name, dirs: merged }];
    }
    return create ? { parents: stack, name: '' } : undefined;
  }

  /** The root of the merged view: the layer `topFd`, then the lowers down to the first opaque root. */
  private mergedRoot(topFd: number, fds: OpenFds): MergedDir {
    const dirs: LayerDir[] = [];
    for (const [layer, rootFd] of [topFd, ...this.fds].entries()) {
      const fd = fds.open(rootFd, '.') as number;
      dirs.push({ layer, fd });
      if (isOpaque(fd)) break;
    }
    return { name: '', dirs };
  }

  /**
   * Copy a lower layer's entry up into the layer `topFd` at the same merged path; returns the O_PATH
   * fd of its parent directory in the top layer (the caller closes it). When the lower entry has
   * other names (nlink > 1) that are still visible in the merged view, they are linked to the copy
   * too, so that the group stays one inode, as in a flat extraction (overlayfs' `index` feature does
   * the same at run time). `onCreate` is told about every entry it creates, by its path inside the
   * layer: the directories with their times (to be set again once the layer is complete).
   */
  copyUp(topFd: number, hit: LowerHit, onCreate: OnCreate): number {
    const dirFd = makeParents(topFd, hit.parents, onCreate);
    try {
      copyEntry(hit, dirFd);
      this.copiedUp++;
      onCreate(pathOf(hit));
      if (hit.st.nlink > 1 && !hit.st.isDirectory()) this.linkGroup(topFd, hit, dirFd, onCreate);
      return dirFd;
    } catch (err) {
      closeFd(dirFd);
      throw err;
    }
  }

  /** Link the other visible names of the hit's lower inode to its copy (`copyDirFd`/`hit.name`). */
  private linkGroup(topFd: number, hit: LowerHit, copyDirFd: number, onCreate: OnCreate): void {
    const names = this.inodeIndex(hit.layer).get(`${hit.st.dev}:${hit.st.ino}`) ?? [];
    for (const name of names) {
      const other = this.lookup(topFd, name);
      if (!other) continue;
      try {
        // Still this very inode at that merged path (not hidden, not replaced by a higher layer)?
        if (other.layer !== hit.layer || other.st.ino !== hit.st.ino || other.st.dev !== hit.st.dev) continue;
        if (pathOf(other) === pathOf(hit)) continue;
        const dirFd = makeParents(topFd, other.parents, onCreate);
        try {
          linkat(copyDirFd, hit.name, dirFd, other.name, 0);
        } finally {
          closeFd(dirFd);
        }
        onCreate(pathOf(other));
      } finally {
        other.release();
      }
    }
  }

  /** Paths (relative) of the entries with nlink > 1 of a lower layer, by `dev:ino`; built once per layer. */
  private inodeIndex(layer: number): Map<string, string[]> {
    let index = this.indexes.get(layer);
    if (index) return index;
    index = new Map();
    const root = this.dirs[layer - 1];
    const walk = (rel: string): void => {
      for (const name of readdirSync(rel ? `${root}/${rel}` : root)) {
        const child = rel ? `${rel}/${name}` : name;
        const st = lstatSync(`${root}/${child}`);
        if (st.isDirectory()) walk(child);
        else if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          index.get(key)?.push(child) ?? index.set(key, [child]);
        }
      }
    };
    walk('');
    this.indexes.set(layer, index);
    return index;
  }
}

type OnCreate = (path: string, times?: { atimeNs: bigint; mtimeNs: bigint }) => void;

/** O_PATH fds opened (never following a final symlink) and closed together; a missing name is undefined. */
class OpenFds {
  private readonly fds: number[] = [];

  open(dirFd: number, name: string): number | undefined {
    try {
      const fd = openat(dirFd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      this.fds.push(fd);
      return fd;
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  closeAll(): void {
    for (const fd of this.fds.splice(0)) closeFd(fd);
  }
}

/**
 * `name` in the merged directory `dir`, with overlayfs' rules: its topmost entry, and the layers whose
 * directories of that name merge (a whiteout hides the name here and below, a non-directory hides
 * everything below it, an opaque directory ends the merge).
 */
function mergeName(dir: MergedDir, name: string, fds: OpenFds): { top?: TopEntry; merged: LayerDir[] } {
  let top: TopEntry | undefined;
  const merged: LayerDir[] = [];
  for (const d of dir.dirs) {
    const fd = fds.open(d.fd, name);
    if (fd === undefined) continue;
    const st = fstatSync(fd);
    if (isWhiteout(st)) break;
    if (!top) {
      top = { layer: d.layer, fd, st, dirFd: d.fd };
      if (!st.isDirectory()) break;
    } else if (!st.isDirectory()) {
      break; // a lower non-directory under a directory: the merge stops there
    }
    merged.push({ layer: d.layer, fd });
    if (isOpaque(fd)) break;
  }
  return { top, merged };
}

const pathOf = (hit: LowerHit) => `${hit.parents.map((p) => p.name).join('/')}/${hit.name}`;

/**
 * The directories `parents` (a merged path, the root first) in the layer `topFd`; those missing there
 * are created as copies of the topmost lower directory at that path (owner, mode, xattrs, times: a
 * directory of this layer with that name would have been the topmost one), or, where no layer has a
 * directory (`dirs` empty), as plain 0755 directories whatever the umask. A non-directory of this
 * layer in the way (not a whiteout) is replaced by the directory, as umoci does. Returns the O_PATH fd
 * of the last one (the caller closes it).
 */
function makeParents(topFd: number, parents: readonly MergedDir[], onCreate: OnCreate): number {
  let dirFd = openat(topFd, '.', DIR_PATH_FLAGS);
  let path = '';
  try {
    for (const parent of parents.slice(1)) {
      path = `${path}/${parent.name}`;
      let next: number;
      try {
        next = openat(dirFd, parent.name, SUBDIR_PATH_FLAGS);
      } catch (err) {
        if (hasCode(err, 'ENOTDIR') || hasCode(err, 'ELOOP')) {
          const st = lstatSync(`${fdPath(dirFd)}/${parent.name}`);
          if (st.isCharacterDevice() && st.rdev === 0) throw err; // a whiteout: never silently dropped
          unlinkat(dirFd, parent.name, 0);
        } else if (!hasCode(err, 'ENOENT')) throw err;
        mkdirat(dirFd, parent.name, 0o700);
        next = openat(dirFd, parent.name, SUBDIR_PATH_FLAGS);
        const from = parent.dirs.find((d) => d.layer > 0)?.fd;
        if (from === undefined || parent.dirs[0].layer === 0) {
          fchmodat(dirFd, parent.name, 0o755);
          onCreate(path);
        } else {
          const st = fstatSync(from, { bigint: true });
          copyMetadata(`${fdPath(from)}/.`, dirFd, parent.name, st);
          onCreate(path, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
        }
      }
      closeFd(dirFd);
      dirFd = next;
    }
    return dirFd;
  } catch (err) {
    closeFd(dirFd);
    throw err;
  }
}

function copyEntry(hit: LowerHit, dirFd: number): void {
  const { st, name } = hit;
  const dst = `${fdPath(dirFd)}/${name}`;
  if (st.isFile()) {
    // The O_PATH fd reopened through /proc/self/fd (a regular file: safe to open); the new name is
    // created with O_EXCL, which never follows a symlink.
    copyFileSync(fdPath(hit.fd), dst, fsConstants.COPYFILE_EXCL);
  } else if (st.isSymbolicLink()) {
    symlinkat(readlinkat(hit.fd, ''), dirFd, name);
  } else if (st.isDirectory()) {
    throw new SyscallError('link', 1 /* EPERM: a hard link to a directory */, name);
  } else {
    mknodat(dirFd, name, (st.mode & S_IFMT) | 0o600, BigInt(st.rdev));
  }
  const big = fstatSync(hit.fd, { bigint: true });
  // l* calls on /proc/self/fd/DIR/NAME act on NAME itself, never on what a symlink points at.
  copyMetadata(`${fdPath(hit.dirFd)}/${name}`, dirFd, name, big);
  utimensat(dirFd, name, big.atimeNs, big.mtimeNs, AT_SYMLINK_NOFOLLOW);
}

/**
 * Owner, then mode (a chown clears set-id bits), then xattrs (a chown clears security.capability) from
 * `src` onto the new entry `name` in `dirFd`. trusted.overlay.* stays behind: it belongs to the lower.
 */
function copyMetadata(src: string, dirFd: number, name: string, st: BigIntStats): void {
  fchownat(dirFd, name, Number(st.uid), Number(st.gid), AT_SYMLINK_NOFOLLOW);
  if (!st.isSymbolicLink()) fchmodat(dirFd, name, Number(st.mode) & 0o7777);
  const dst = `${fdPath(dirFd)}/${name}`;
  for (const key of llistxattr(src)) {
    if (key.startsWith('trusted.overlay.')) continue;
    try {
      lsetxattr(dst, key, lgetxattr(src, key));
    } catch (err) {
      if (hasCode(err, 'ENOTSUP')) continue;
      throw err;
    }
  }
}
