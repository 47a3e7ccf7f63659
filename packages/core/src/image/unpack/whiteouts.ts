// Whiteouts (`.wh.NAME`, `.wh..wh..opq`), with their OCI meaning; `.wh.`, `.wh..`, `.wh...` are refused;
// other `.wh..wh.*` (AUFS metadata) are skipped. The two formats apply them differently:
// - 'flat': applied to dest directly, umoci style: `upperPaths` holds every path this layer wrote and
//   all their ancestors; a whiteout never removes one of those (OCI: whiteouts apply only to lower
//   layers), whatever the order of the entries.
// - 'overlay' (dest is this layer's own directory, later an overlay lowerdir): `.wh.X` becomes a 0:0
//   char device X, an opaque marker becomes `trusted.overlay.opaque=y` on its directory. umoci's two
//   fixes: plain whiteouts under a directory made opaque by this layer are removed, and a whiteout
//   that later becomes a parent (or a directory) turns into an opaque directory. With the lowers at
//   hand, a whiteout or opaque marker for something the merged view does not have is dropped.
import { fstatSync, readdirSync } from 'node:fs';
import {
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  fchownat,
  fdPath,
  hasCode,
  lsetxattr,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_DIRECTORY,
  O_RDONLY,
  openat,
  resolveInRoot,
  S_IFCHR,
  unlinkat,
} from '@builder/native';
import { LayerError } from '../../errors.js';
import { SUBDIR_PATH_FLAGS } from './fd-flags.js';
import { LayerPaths, type Parent } from './layer-paths.js';
import { depth, join, parentOf } from './names.js';
import type { TarEntry } from './tar-scan.js';

const OPAQUE = '.wh..wh..opq';
export const WH = '.wh.';

/** The whiteout rules of a layer being written, for both formats (see the top of this file). */
export abstract class WhiteoutRules extends LayerPaths {
  protected whiteout(clean: string, base: string, e: TarEntry): void {
    const dirName = clean.includes('/') ? clean.slice(0, clean.lastIndexOf('/')) : '';
    if (base === OPAQUE) {
      this.opaque(dirName);
      return;
    }
    if (base.startsWith(`${WH}${WH}`)) return; // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs)
    const target = base.slice(WH.length);
    if (target === '' || target === '.' || target === '..') {
      throw new LayerError(`invalid whiteout '${e.name}'`);
    }
    if (this.format === 'overlay') {
      this.openWhiteoutsAbove(clean);
      const wpath = dirName ? `${dirName}/${target}` : target;
      // With the lowers at hand: nothing to hide when the merged view has nothing there (flat format
      // does nothing either), and no directory is made for it.
      if (this.lowers) {
        const hit = this.lowers.lookup(this.rootFd, wpath);
        if (!hit) return;
        hit.release();
      }
      let parent: Parent;
      try {
        parent = this.parent(wpath, true, false);
      } catch (err) {
        // A parent this layer made a non-directory (umoci writes `dir` as a file, then `dir/.wh.f`):
        // nothing below it is visible any more, so the whiteout has nothing to hide.
        if (hasCode(err, 'ENOTDIR')) return;
        throw err;
      }
      const path = join(parent.path, parent.name);
      if (this.upperPaths.has(path) && !this.whiteouts.has(path)) return; // written by this layer
      if (this.isUnderOpaque(path)) return; // an opaque directory of this layer hides it already
      const old = this.lstatAt(parent.fd, parent.name);
      if (old) {
        this.remove(parent.fd, parent.name, path, old);
        parent = this.parent(wpath, true, false); // remove() closed the cached fds
      }
      mknodat(parent.fd, parent.name, S_IFCHR, 0n);
      fchownat(parent.fd, parent.name, 0, 0, AT_SYMLINK_NOFOLLOW);
      this.whiteouts.add(path);
      this.markUpper(parentOf(path));
      return;
    }
    // flat: remove what lower layers left, nothing of this layer.
    let parent: Parent;
    try {
      parent = this.parent(dirName ? `${dirName}/${target}` : target, false);
    } catch (err) {
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return;
      throw err;
    }
    const path = join(parent.path, parent.name);
    if (this.upperPaths.has(path)) return;
    const old = this.lstatAt(parent.fd, parent.name);
    if (old) this.remove(parent.fd, parent.name, path, old);
  }

  private opaque(dirName: string): void {
    if (this.format === 'overlay') {
      if (dirName) this.openWhiteoutsAbove(`${dirName}/x`);
      if (dirName && this.lowers) {
        const hit = this.lowers.lookup(this.rootFd, dirName);
        if (!hit) return; // no such directory anywhere: nothing to hide
        hit.release();
      }
      const r = this.makeDirs(dirName, false);
      try {
        // Below a non-directory of this layer: nothing shows through it anyway (as in flat format).
        if (!fstatSync(r.fd).isDirectory()) return;
        this.markUpper(r.path);
        this.makeOpaque(r.fd, '', r.path);
      } finally {
        closeFd(r.fd);
      }
      return;
    }
    let r: ReturnType<typeof resolveInRoot>;
    try {
      r = resolveInRoot(this.rootFd, dirName);
    } catch (err) {
      if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) return;
      throw err;
    }
    try {
      const st = fstatSync(r.fd, { bigint: true });
      if (!st.isDirectory()) return;
      if (!this.dirTimes.has(r.path)) this.dirTimes.set(r.path, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
      this.removeLowerChildren(r.fd, r.path);
    } finally {
      closeFd(r.fd);
    }
  }

  /** Flat format: remove every child of the directory that this layer did not write, recursively. */
  private removeLowerChildren(dirFd: number, dirPath: string): void {
    const fd = openat(dirFd, '.', O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    let names: string[];
    try {
      names = readdirFd(fd);
    } finally {
      closeFd(fd);
    }
    for (const name of names) {
      const path = join(dirPath, name);
      const st = this.lstatAt(dirFd, name);
      if (!st) continue;
      if (!this.upperPaths.has(path)) {
        this.remove(dirFd, name, path, st);
      } else if (st.isDirectory()) {
        const sub = openat(dirFd, name, SUBDIR_PATH_FLAGS);
        try {
          this.removeLowerChildren(sub, path);
        } finally {
          closeFd(sub);
        }
      }
    }
  }

  /**
   * Overlay format: mark a directory opaque and drop this layer's whiteouts below it, and what copy-ups
   * brought from the lowers (the hard links to it stay: in flat format they would too).
   */
  protected makeOpaque(pfd: number, name: string, path: string): void {
    lsetxattr(this.procPath(pfd, name), 'trusted.overlay.opaque', Buffer.from('y'));
    this.opaqueDirs.add(path);
    if (this.copies.size) this.dropCopies(path);
    for (const w of [...this.whiteouts]) {
      if (!w.startsWith(`${path === '/' ? '' : path}/`)) continue;
      const r = this.parent(w.slice(1), false);
      unlinkat(r.fd, r.name, 0);
      this.whiteouts.delete(w);
    }
  }

  /** Remove the copied-up entries below `dir` that this layer did not write to since, deepest first. */
  private dropCopies(dir: string): void {
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const under = [...this.copies].filter((p) => p.startsWith(prefix)).sort((a, b) => depth(b) - depth(a));
    for (const path of under) {
      this.copies.delete(path);
      if (this.upperPaths.has(path)) continue;
      let r: Parent;
      try {
        r = this.parent(path.slice(1), false);
      } catch (err) {
        if (hasCode(err, 'ENOENT') || hasCode(err, 'ENOTDIR')) continue; // replaced meanwhile
        throw err;
      }
      const st = this.lstatAt(r.fd, r.name);
      if (!st) continue;
      if (st.isDirectory()) {
        try {
          unlinkat(r.fd, r.name, AT_REMOVEDIR);
        } catch (err) {
          if (!hasCode(err, 'ENOTEMPTY')) throw err; // holds entries of this layer: stays
          continue;
        }
        this.dirTimes.delete(path);
      } else unlinkat(r.fd, r.name, 0);
      this.dropCache();
    }
  }

  private isUnderOpaque(path: string): boolean {
    for (let p = parentOf(path); ; p = parentOf(p)) {
      if (this.opaqueDirs.has(p)) return true;
      if (p === '/') return false;
    }
  }

  /**
   * Overlay format: a whiteout of this layer that is now needed as a parent of `clean` becomes an
   * opaque directory (umoci). Lexical paths: this layer's whiteouts are never behind a symlink that
   * this check would miss, since a whiteout device is not a directory to resolve through.
   */
  protected openWhiteoutsAbove(clean: string): void {
    if (!this.whiteouts.size) return;
    const parts = clean.split('/');
    for (let i = 1; i < parts.length; i++) {
      const partial = parts.slice(0, i).join('/');
      let r: Parent;
      try {
        r = this.parent(partial, false);
      } catch {
        return;
      }
      const path = join(r.path, r.name);
      if (!this.whiteouts.has(path)) continue;
      unlinkat(r.fd, r.name, 0);
      this.whiteouts.delete(path);
      mkdirat(r.fd, r.name, 0o755);
      this.makeOpaque(r.fd, r.name, path);
    }
  }
}

function readdirFd(fd: number): string[] {
  return readdirSync(fdPath(fd));
}
