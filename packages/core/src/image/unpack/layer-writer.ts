// The synchronous half of unpacking: applies tar entries to a layer directory with synchronous calls
// only (it could run unchanged in a worker thread; it does, in the unpack worker). Entries are made
// relative to their parent's fd (layer-paths.ts) with O_EXCL and O_NOFOLLOW and, on EEXIST, lstat'ed
// and, unless old and new are both directories, removed first; whiteouts go to whiteouts.ts.
// - The root entry (`.`, `./`) must be a directory (CVE-2021-29136: a symlink named `.`); its owner,
//   mode, xattrs and times go on dest itself, as with GNU tar and umoci (containerd and moby skip it).
// - Metadata order: contents, then lchown, then chmod (a chown clears setuid/setgid), then xattrs (a
//   chown or a write clears security.capability), then times; a file's through its fd. The chown is
//   skipped only where a new inode has the archive's owner already (our uid; our gid, or that of a
//   setgid parent). A new inode is created with its final mode when nothing can change it (the umask
//   keeps all of it, it has no setuid/setgid/sticky bit, a directory's parent is not setgid, no
//   default ACL): no chmod then; else it is created private and chmod'ed, so the umask never bites.
//   Directory times are set at the end, deepest first, because creating children moves them. Hard
//   links get no metadata of their own (umoci).
// - Xattrs come from `SCHILY.xattr.*` byte for byte; `trusted.*` is refused (it could steer overlayfs),
//   `security.selinux` is skipped. EPERM on `user.*` for symlinks and devices (the kernel forbids them)
//   and ENOTSUP are ignored.
// - Hard links: the target is cleaned like a name and resolved inside dest; its final component is not
//   followed (a link to a symlink links the symlink). It must already exist: earlier in this layer, or
//   in dest, or (overlay format, `lowers` given) in a lower layer, from which it is copied up into this
//   one first (copy-up.ts). A link that comes before its target is an error.
// - Speed: entries are created first and lstat'ed only on EEXIST.
import { fchmodSync, fchownSync, writeSync } from 'node:fs';
import {
  AT_FDCWD,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  currentUmask,
  fchmodat,
  fchownat,
  fdPath,
  futimens,
  hasCode,
  linkat,
  llistxattr,
  lremovexattr,
  lsetxattr,
  makedev,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_CREAT,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_WRONLY,
  openat,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  symlinkat,
  utimensat,
} from '@builder/native';
import { LayerError } from '../../errors.js';
import type { Lowers } from './copy-up.js';
import { CACHE_MAX, type CachedDir, DEFAULT_ACL, type Parent, S_ISGID } from './layer-paths.js';
import { cleanName, depth, join } from './names.js';
import type { TarEntry } from './tar-scan.js';
import { WH, WhiteoutRules } from './whiteouts.js';

/** Applies entries to `dest` (TarHandlers: entry, data, entryEnd), then finish() or abort(). */
export class LayerWriter extends WhiteoutRules {
  private file?: {
    fd: number;
    entry: TarEntry;
    parentFd: number;
    name: string;
    path: string;
    chown: boolean;
    chmod: boolean;
  };
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  /** The bits new inodes lose (all of them when unknown: then every mode is set with chmod). */
  private readonly umask = currentUmask() ?? 0o777;
  /** False once the layer has set a default ACL somewhere (exactMode): cached directories may not know. */
  private exactModes = true;

  /** Hard-link targets copied up from the lowers so far. */
  get copiedUp(): number {
    return this.lowers?.copiedUp ?? 0;
  }

  entry(e: TarEntry): void {
    // Bound the cache between entries, never while an entry holds one of its fds. The bound starts
    // small and doubles up to CACHE_MAX, so that the cache is dropped a few times early on: at least
    // one drop comes once V8 records type feedback for this code and before it optimizes it (else the
    // first drop deoptimizes the scanner, which this is inlined into, and it is compiled again).
    if (this.dirCache.size >= this.cacheLimit) {
      this.dropCache();
      this.cacheLimit = Math.min(2 * this.cacheLimit, CACHE_MAX);
    }
    try {
      this.apply(e);
    } catch (err) {
      throw asLayerError(err, e);
    }
  }

  data(chunk: Buffer, start: number, end: number): void {
    const f = this.file;
    if (!f) return;
    for (let off = start; off < end; ) off += writeSync(f.fd, chunk, off, end - off);
  }

  entryEnd(e: TarEntry): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    try {
      try {
        if (f.chown) fchownSync(f.fd, e.uid, e.gid);
        if (f.chmod) fchmodSync(f.fd, e.mode);
        if (e.xattrs.size) this.setXattrs(f.parentFd, f.name, e, false); // created with O_EXCL: it has none yet
        futimens(f.fd, atimeOf(e), e.mtimeNs);
      } finally {
        closeFd(f.fd);
      }
    } catch (err) {
      throw asLayerError(err, e);
    }
  }

  /** Directory times, deepest first. */
  finish(): void {
    // Deepest first, siblings together: their parent's fd comes from the cache.
    const dirs = [...this.dirTimes].map(([path, t]) => ({ path, t, depth: depth(path) }));
    dirs.sort((a, b) => b.depth - a.depth || (a.path < b.path ? -1 : 1));
    for (const { path, t } of dirs) {
      if (path === '/') {
        utimensat(AT_FDCWD, fdPath(this.rootFd), t.atimeNs, t.mtimeNs); // the root entry's times
        continue;
      }
      if (this.dirCache.size >= CACHE_MAX) this.dropCache();
      const p = this.parent(path.slice(1), false);
      utimensat(p.fd, p.name, t.atimeNs, t.mtimeNs, AT_SYMLINK_NOFOLLOW);
    }
    this.dirTimes.clear();
    this.dropCache();
    this.lowers?.close();
    closeFd(this.rootFd);
  }

  abort(): void {
    if (this.file) {
      closeFd(this.file.fd);
      this.file = undefined;
    }
    this.dropCache();
    this.lowers?.close();
    try {
      closeFd(this.rootFd);
    } catch {
      // already closed by finish()
    }
  }

  private apply(e: TarEntry): void {
    const clean = cleanName(e.name, 'entry');
    if (clean === null) {
      if (e.type !== 'dir') throw new LayerError(`entry '${e.name}' would replace the root directory with a ${e.type}`);
      this.rootEntry(e);
      return;
    }
    const base = clean.slice(clean.lastIndexOf('/') + 1);
    if (base.startsWith(WH)) {
      this.whiteout(clean, base, e);
      return;
    }
    if (this.format === 'overlay') this.openWhiteoutsAbove(clean);
    let parent = this.parent(clean, true);
    const path = join(parent.path, parent.name);
    const name = parent.name;
    const wasWhiteout = this.whiteouts.size > 0 && this.whiteouts.delete(path);
    // Create first; only when the name is taken, look at what is there. A fresh layer directory never
    // pays for an lstat.
    let fileFd = -1;
    let keptDir = false;
    const exact = this.exactMode(e, parent.dir);
    try {
      fileFd = this.make(e, parent.fd, name, exact);
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) throw err;
      const old = this.lstatAt(parent.fd, name);
      if (old?.isDirectory() && e.type === 'dir') {
        keptDir = true; // a directory over a directory: keep it, apply the new metadata
      } else {
        if (old) this.remove(parent.fd, name, path, old);
        parent = this.parent(clean, true); // remove() closed the cached fds
        fileFd = this.make(e, parent.fd, name, exact);
      }
    }
    const pfd = parent.fd;
    this.upperPaths.add(path);
    if (!parent.dir.marked) {
      this.markUpper(parent.path); // once per cached parent: its ancestors are in already
      parent.dir.marked = true;
    }
    // A new inode already has the right owner when the archive wants ours: skip the chown.
    const chown = keptDir || !this.ownsNew(parent.dir, e);
    const chmod = keptDir || !exact;
    switch (e.type) {
      case 'dir':
        if (chown) fchownat(pfd, name, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
        if (chmod) fchmodat(pfd, name, e.mode);
        this.dirOwners.set(path, { gid: e.gid, setgid: (e.mode & S_ISGID) !== 0 });
        this.setXattrs(pfd, name, e, keptDir);
        if (wasWhiteout) this.makeOpaque(pfd, name, path);
        this.dirTimes.set(path, { atimeNs: atimeOf(e), mtimeNs: e.mtimeNs });
        break;
      case 'file':
        this.file = { fd: fileFd, entry: e, parentFd: pfd, name, path, chown, chmod };
        break; // metadata in entryEnd, after the body
      case 'symlink':
        if (chown) fchownat(pfd, name, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
        if (e.xattrs.size) this.setXattrs(pfd, name, e, false);
        this.setTimes(pfd, name, e);
        break;
      case 'link':
        break; // a hard link has no metadata of its own
      default:
        if (chown) fchownat(pfd, name, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
        if (chmod) fchmodat(pfd, name, e.mode);
        if (e.xattrs.size) this.setXattrs(pfd, name, e, false);
        this.setTimes(pfd, name, e);
    }
  }

  /** The root's own entry (`./`): its metadata goes on dest, as GNU tar and umoci do. */
  private rootEntry(e: TarEntry): void {
    fchownat(this.rootFd, '.', e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
    fchmodat(this.rootFd, '.', e.mode);
    this.setXattrs(this.rootFd, '', e, true);
    this.dirTimes.set('/', { atimeNs: atimeOf(e), mtimeNs: e.mtimeNs });
  }

  /**
   * Whether creating `e` in `dir` with `e.mode` gives exactly that mode, so that no chmod is needed:
   * the umask takes none of its bits, it has no setuid/setgid/sticky bit (those go on after the
   * chown, which clears them), a directory does not inherit setgid from its parent, and no default
   * ACL decides the mode instead.
   */
  private exactMode(e: TarEntry, dir: CachedDir): boolean {
    if (!this.exactModes || !dir.plainModes || (e.mode & 0o7000) !== 0 || (e.mode & this.umask) !== 0) return false;
    return e.type !== 'dir' || !(this.dirOwners.get(dir.path) ?? dir).setgid;
  }

  /**
   * Create the entry's inode, with its own mode when `exact` (else private until chmod); for a file,
   * returns its fd (open for writing).
   */
  private make(e: TarEntry, pfd: number, name: string, exact: boolean): number {
    switch (e.type) {
      case 'dir':
        mkdirat(pfd, name, exact ? e.mode : 0o700);
        return -1;
      case 'file':
        // Relative to the pinned parent; O_EXCL never follows a final symlink.
        return openat(
          pfd,
          name,
          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC,
          exact ? e.mode : 0o600,
        );
      case 'symlink':
        symlinkat(e.linkname, pfd, name);
        return -1;
      case 'link':
        this.link(e, pfd, name);
        return -1;
      default: {
        const kind = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        mknodat(pfd, name, kind | (exact ? e.mode : 0o600), makedev(e.devmajor, e.devminor));
        return -1;
      }
    }
  }

  /**
   * Whether an inode this process just created in `dir` is owned by the entry's uid and gid already:
   * the owner is our euid; the group is the directory's when it is setgid, else our egid (or, on a
   * `grpid` mount, the directory's: so only a directory of our own group counts).
   */
  private ownsNew(dir: CachedDir, e: TarEntry): boolean {
    if (e.uid !== this.euid) return false;
    const owner = this.dirOwners.get(dir.path) ?? dir;
    return owner.setgid ? e.gid === owner.gid : e.gid === this.egid && owner.gid === this.egid;
  }

  private link(e: TarEntry, pfd: number, name: string): void {
    const target = cleanName(e.linkname, 'hard link target');
    if (target === null) throw new LayerError(`hard link '${e.name}' points at the root directory`);
    let t: Parent;
    try {
      t = this.parent(target, false);
    } catch (err) {
      if (!hasCode(err, 'ENOENT') && !hasCode(err, 'ENOTDIR')) throw err;
      this.linkFromLowers(e, target, pfd, name);
      return;
    }
    // A whiteout of this layer is no target: it hides the name (overlay format).
    if (this.whiteouts.size && this.whiteouts.has(join(t.path, t.name))) throw missingTarget(e);
    try {
      linkat(t.fd, t.name, pfd, name, 0);
    } catch (err) {
      if (hasCode(err, 'ENOENT')) {
        this.linkFromLowers(e, target, pfd, name);
        return;
      }
      if (hasCode(err, 'EPERM') && this.lstatAt(t.fd, t.name)?.isDirectory()) throw linkToDir(e);
      throw err;
    }
  }

  /** Overlay format with lowers: the target is in a lower layer; copy it up into this one, then link. */
  private linkFromLowers(e: TarEntry, target: string, pfd: number, name: string): void {
    const hit = this.lowers?.lookup(this.rootFd, target);
    if (!hit) throw missingTarget(e);
    try {
      if (hit.st.isDirectory()) throw linkToDir(e);
      if (hit.layer === 0) {
        // In this layer after all (reached through a symlink of a lower layer).
        linkat(hit.dirFd, hit.name, pfd, name, 0);
        return;
      }
      const dirFd = (this.lowers as Lowers).copyUp(this.rootFd, hit, (path, times) => {
        this.copies.add(path);
        if (times) this.dirTimes.set(path, times);
      });
      try {
        linkat(dirFd, hit.name, pfd, name, 0);
      } finally {
        closeFd(dirFd);
      }
    } finally {
      hit.release();
    }
  }

  private setXattrs(pfd: number, name: string, e: TarEntry, replace: boolean): void {
    const path = this.procPath(pfd, name);
    if (replace) {
      // Existing directory (or a file we wrote): the result must carry exactly the archive's xattrs.
      for (const key of llistxattr(path)) {
        if (key === 'security.selinux' || key.startsWith('trusted.overlay.') || e.xattrs.has(key)) continue;
        lremovexattr(path, key);
      }
    }
    for (const [key, value] of e.xattrs) {
      if (key === 'security.selinux') continue;
      if (key === DEFAULT_ACL) this.exactModes = false; // the modes of new inodes below follow it
      if (key.startsWith('trusted.')) throw new LayerError(`entry '${e.name}' carries the xattr '${key}' (refused)`);
      try {
        lsetxattr(path, key, value);
      } catch (err) {
        if (hasCode(err, 'ENOTSUP')) continue;
        if (hasCode(err, 'EPERM') && key.startsWith('user.') && e.type !== 'file' && e.type !== 'dir') continue;
        throw err;
      }
    }
  }

  private setTimes(pfd: number, name: string, e: TarEntry): void {
    utimensat(pfd, name, atimeOf(e), e.mtimeNs, AT_SYMLINK_NOFOLLOW);
  }
}

/** atime = max(atime, mtime) when the archive has one (moby, containerd), else mtime. */
function atimeOf(e: TarEntry): bigint {
  return e.atimeNs !== undefined && e.atimeNs > e.mtimeNs ? e.atimeNs : e.mtimeNs;
}

function linkToDir(e: TarEntry): LayerError {
  return new LayerError(`hard link '${e.name}' points at a directory ('${e.linkname}')`);
}

function missingTarget(e: TarEntry): LayerError {
  return new LayerError(`hard link '${e.name}' points at '${e.linkname}', which does not exist (yet)`);
}

function asLayerError(err: unknown, e: TarEntry): LayerError {
  if (err instanceof LayerError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new LayerError(`cannot unpack entry '${e.name}' (offset ${e.offset}): ${msg}`, { cause: err });
}
