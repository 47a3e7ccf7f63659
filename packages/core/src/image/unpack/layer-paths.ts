// Where a layer's entries go: every path of the layer resolved inside its directory by fds, with
// chroot rules (docs/layers.md, "What a layer tarball means").
// - A parent directory already in this layer is opened one component below its cached parent with
//   O_NOFOLLOW; anything else (a symlink on the way, a missing or non-directory component, a layer with
//   lowers) goes through native resolveInRoot (an absolute symlink in a parent means dest-relative, `..`
//   never climbs above dest). Missing parents are created 0755 (whatever the umask). The final
//   component is never followed: the writer makes entries relative to the parent's fd.
// - Overlay format with `lowers`: parents are resolved in the merged view of this layer over its lowers
//   (copy-up.ts), so `lib/x` over a lower `lib -> usr/lib` lands in `usr/lib` as in flat format, and a
//   parent missing in this layer is created as a copy of the lower directory (owner, mode, xattrs,
//   times; containerd's WithParents). Flat format: a lower directory that this layer changes without
//   an entry of its own keeps its times (umoci).
// - A non-directory in the middle of a path (`file/x`) is replaced by a directory, as umoci does
//   (containerd and moby refuse): the layer says it is a directory now. Not for whiteouts: a whiteout
//   below a non-directory hides nothing.
// - Speed: parent directory fds are cached by lexical directory name (dropped on every removal, bounded
//   between entries).
import { fstatSync, lstatSync, rmSync, type Stats } from 'node:fs';
import {
  AT_FDCWD,
  closeFd,
  fdPath,
  hasCode,
  lgetxattr,
  O_CLOEXEC,
  O_PATH,
  openat,
  resolveInRoot,
  SyscallError,
  unlinkat,
} from '@builder/native';
import { Lowers } from './copy-up.js';
import { DIR_PATH_FLAGS, SUBDIR_PATH_FLAGS } from './fd-flags.js';
import { join, parentOf } from './names.js';

/** How a layer is written: 'overlay', into its own directory (an overlay lowerdir later), whiteouts as
 * overlayfs keeps them; 'flat', onto the layers below it in one tree, whiteouts applied. */
export type LayerFormat = 'overlay' | 'flat';

/** Non-directories replaced by directories for one path at most (a path has at most this many levels). */
const LIMIT_REPLACED = 1024;
export const S_ISGID = 0o2000;

export interface Parent {
  /** O_PATH fd of the parent directory (owned by the cache). */
  fd: number;
  /** Resolved path of the parent inside the root. */
  path: string;
  name: string;
  dir: CachedDir;
}

export interface CachedDir {
  /** O_PATH fd of the directory (owned by the cache). */
  fd: number;
  /** Resolved path inside the root. */
  path: string;
  /** Its group and setgid bit when it was opened (what new inodes in it inherit). */
  gid: number;
  setgid: boolean;
  /** No default ACL: new inodes in it get the mode they are created with, less the umask. */
  plainModes: boolean;
  /** Its path and all its ancestors are in upperPaths. */
  marked?: boolean;
}

/** Parent directory fds kept open at most (the cache is emptied between entries when it reaches this). */
export const CACHE_MAX = 256;

export interface Times {
  atimeNs: bigint;
  mtimeNs: bigint;
}

/**
 * The layer's directory as the writer sees it: paths resolved inside it by fds, a cache of parent
 * directory fds, and the record of what this layer wrote there. The whiteout rules (whiteouts.ts) and
 * the writer (layer-writer.ts) build on it. Paths it keeps are resolved paths inside dest (`/a/b`,
 * symlinks in parents already followed).
 */
export abstract class LayerPaths {
  protected readonly rootFd: number;
  /** Every resolved path this layer wrote, with all its ancestors (flat-format whiteouts). */
  protected readonly upperPaths = new Set<string>(['/']);
  /** Whiteout devices this layer made (overlay format). */
  protected readonly whiteouts = new Set<string>();
  protected readonly opaqueDirs = new Set<string>();
  protected readonly dirTimes = new Map<string, Times>();
  protected readonly dirCache = new Map<string, CachedDir>();
  /** The cache's size bound between entries (LayerWriter.entry): it starts small, up to CACHE_MAX. */
  protected cacheLimit = 4;
  protected readonly lowers?: Lowers;
  /** What copy-ups put in this layer (resolved paths): a later opaque marker of this layer hides it. */
  protected readonly copies = new Set<string>();
  /** Owner group and setgid bit of the directories this layer set metadata on (newer than the cache's fstat). */
  protected readonly dirOwners = new Map<string, { gid: number; setgid: boolean }>();

  constructor(
    dest: string,
    protected readonly format: LayerFormat,
    lowers?: readonly string[],
  ) {
    this.rootFd = openat(AT_FDCWD, dest, DIR_PATH_FLAGS);
    if (lowers?.length) {
      try {
        this.lowers = new Lowers(lowers);
      } catch (err) {
        closeFd(this.rootFd);
        throw err;
      }
    }
  }

  /**
   * The parent directory of `clean` inside the root (created 0755 when missing and `create`), and the
   * final name. The fd belongs to a cache keyed by the lexical directory name; callers never close it.
   * The cache is dropped whenever anything is removed, since only a removal can change what a lexical
   * path resolves to (a new symlink can only appear where nothing was, so nothing cached went through it).
   */
  protected parent(clean: string, create: boolean, replace = create): Parent {
    const i = clean.lastIndexOf('/');
    const hit = this.dir(i < 0 ? '' : clean.slice(0, i), create, replace);
    return { fd: hit.fd, path: hit.path, name: clean.slice(i + 1), dir: hit };
  }

  /**
   * The directory at the lexical path `dir` ('' is the root), from the cache; else, when it is a plain
   * directory of this layer, opened one component below its (cached) parent with O_NOFOLLOW; else
   * (a symlink on the way, something missing or not a directory, a layer with lowers) resolved from
   * the root with chroot rules, created (`create`), non-directories replaced (`replace`), by makeDirs.
   */
  private dir(dir: string, create: boolean, replace = create): CachedDir {
    const cached = this.dirCache.get(dir);
    if (cached) return cached;
    let r: { fd: number; path: string } | undefined;
    if (dir === '') {
      r = { fd: openat(this.rootFd, '.', O_PATH | O_CLOEXEC), path: '/' };
    } else if (!this.lowers) {
      const i = dir.lastIndexOf('/');
      const up = this.dir(i < 0 ? '' : dir.slice(0, i), create, replace);
      const name = dir.slice(i + 1);
      try {
        // A non-directory fails with ENOTDIR (a symlink too: O_NOFOLLOW).
        const fd = openat(up.fd, name, SUBDIR_PATH_FLAGS);
        const path = join(up.path, name);
        // A directory whose metadata this layer set: its owner is known, no fstat (overlay format:
        // flat format wants the times of lower directories).
        const owner = this.format === 'overlay' ? this.dirOwners.get(path) : undefined;
        if (owner) {
          // Its xattrs are the archive's: no default ACL unless the layer set one (exactModes).
          const hit: CachedDir = { fd, path, gid: owner.gid, setgid: owner.setgid, plainModes: true };
          this.dirCache.set(dir, hit);
          return hit;
        }
        r = { fd, path };
      } catch (err) {
        if (!hasCode(err, 'ENOENT') && !hasCode(err, 'ENOTDIR')) throw err;
      }
    }
    r ??= create ? this.makeDirs(dir, replace) : resolveInRoot(this.rootFd, dir);
    const st = fstatSync(r.fd, { bigint: true });
    if (!st.isDirectory()) {
      closeFd(r.fd);
      throw new SyscallError('resolve', 20 /* ENOTDIR */, r.path);
    }
    // Flat format: a directory of a lower layer that this layer changes without an entry of its own
    // keeps its times (umoci; the overlay format copies them from the lower, copy-up.ts).
    if (this.format === 'flat' && !this.dirTimes.has(r.path)) {
      this.dirTimes.set(r.path, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
    }
    const hit: CachedDir = {
      fd: r.fd,
      path: r.path,
      gid: Number(st.gid),
      setgid: (Number(st.mode) & S_ISGID) !== 0,
      plainModes: this.dirOwners.has(r.path) || !mayHaveDefaultAcl(`${fdPath(r.fd)}/.`),
    };
    this.dirCache.set(dir, hit);
    return hit;
  }

  /**
   * The directory `dir`, created (parents too) where missing, 0755 whatever the umask. Overlay format
   * with lowers: resolved in the merged view, and created in this layer as copies of the lower
   * directories (copy-up.ts), so that the layer's `lib/x` over a lower `lib -> usr/lib` lands in
   * `usr/lib` as in flat format. `replace`: a non-directory in the way is replaced by a directory
   * (umoci; a layer's `a/b` says `a` is a directory now).
   */
  protected makeDirs(dir: string, replace: boolean): { fd: number; path: string } {
    if (this.lowers) {
      try {
        return resolveInRoot(this.rootFd, dir); // this layer has it all: it is the topmost
      } catch (err) {
        if (!hasCode(err, 'ENOENT') && !hasCode(err, 'ENOTDIR')) throw err;
        if (!replace && hasCode(err, 'ENOTDIR')) throw err;
      }
      return this.lowers.makeDirs(this.rootFd, dir, (path, t) => {
        if (t) this.dirTimes.set(path, t);
      });
    }
    for (let tries = 0; ; tries++) {
      let r: { fd: number; path: string };
      try {
        r = resolveInRoot(this.rootFd, dir, { kind: 'dir', mode: 0o755 }); // exactly 0755
      } catch (err) {
        if (!replace || !hasCode(err, 'ENOTDIR') || tries > LIMIT_REPLACED) throw err;
        this.replaceNonDir((err as SyscallError).path, err);
        continue;
      }
      if (!replace || fstatSync(r.fd).isDirectory()) return r;
      closeFd(r.fd);
      this.replaceNonDir(r.path, new SyscallError('resolve', 20 /* ENOTDIR */, r.path));
    }
  }

  /** Remove the non-directory at `path` (resolved) so that a directory can take its place. */
  private replaceNonDir(path: string | undefined, err: unknown): void {
    if (!path || path === '/') throw err;
    const p = this.parent(path.slice(1), false);
    const st = this.lstatAt(p.fd, p.name);
    if (!st || st.isDirectory() || st.isSymbolicLink() || this.whiteouts.has(path)) throw err;
    this.remove(p.fd, p.name, path, st);
  }

  protected dropCache(): void {
    for (const { fd } of this.dirCache.values()) closeFd(fd);
    this.dirCache.clear();
  }

  protected markUpper(path: string): void {
    for (let p = path; !this.upperPaths.has(p); p = parentOf(p)) this.upperPaths.add(p);
  }

  protected remove(pfd: number, name: string, path: string, st: Stats): void {
    if (st.isDirectory()) {
      rmSync(this.procPath(pfd, name), { recursive: true, force: true });
      for (const key of [...this.dirTimes.keys()]) {
        if (key === path || key.startsWith(`${path}/`)) this.dirTimes.delete(key);
      }
      for (const key of [...this.dirOwners.keys()]) {
        if (key === path || key.startsWith(`${path}/`)) this.dirOwners.delete(key);
      }
      for (const w of [...this.whiteouts]) if (w.startsWith(`${path}/`)) this.whiteouts.delete(w);
      this.opaqueDirs.delete(path);
    } else {
      unlinkat(pfd, name, 0);
    }
    // What was removed may be a directory (or a symlink) that cached parents were resolved through:
    // their fds (`pfd` included) are closed now.
    this.dropCache();
  }

  protected lstatAt(pfd: number, name: string): Stats | undefined {
    return lstatSync(this.procPath(pfd, name), { throwIfNoEntry: false });
  }

  /** `/proc/self/fd/N/name`: the kernel resolves the fd, then `name` (not followed by l* calls). */
  protected procPath(pfd: number, name: string): string {
    return `${fdPath(pfd)}/${name || '.'}`;
  }
}

/** The xattr of a directory's default ACL: new inodes in it take their mode from it, not the umask. */
export const DEFAULT_ACL = 'system.posix_acl_default';

/** Whether the directory `path` has a default ACL, or it cannot be told. */
function mayHaveDefaultAcl(path: string): boolean {
  try {
    lgetxattr(path, DEFAULT_ACL);
    return true;
  } catch (err) {
    return !hasCode(err, 'ENODATA') && !hasCode(err, 'ENOTSUP');
  }
}
