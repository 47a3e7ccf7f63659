// A tree walker for comparing root filesystems entry by entry: what GNU tar extracted, what builder
// unpacked, what a peer tool mounted. Every entry (the root too, as '.') with its type, mode (set-id
// and sticky bits included), owner, size, sha256 of its contents, mtime in ns, symlink target, link
// count, hard-link group, device number and xattrs (hex, byte for byte). A name that is not UTF-8 is an
// error (it could not be compared faithfully).
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { lgetxattr, llistxattr } from '@builder/native';

export interface TreeEntry {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: string;
  nlink: number;
  sha256?: string;
  link?: string;
  rdev?: string;
  /** The first path (in sort order) of a hard-link group, for non-directories with nlink > 1. */
  group?: string;
  xattrs: Record<string, string>;
}

export type Tree = Map<string, TreeEntry>;

export interface WalkOptions {
  /** Leave out these xattr names (e.g. overlayfs' own trusted.overlay.* on a mounted tree). */
  skipXattr?: (name: string) => boolean;
  /** Leave out these paths (relative, './'-less) and everything below them. */
  skip?: (rel: string) => boolean;
  /** Leave out mtimes of directories (a peer that does not restore them). */
  noDirTimes?: boolean;
}

function typeOf(mode: bigint): TreeEntry['type'] {
  switch (Number(mode & 0o170000n)) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'dir';
    case 0o120000:
      return 'symlink';
    case 0o020000:
      return 'char';
    case 0o060000:
      return 'block';
    case 0o010000:
      return 'fifo';
    default:
      return 'socket';
  }
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Walk `root` (not following symlinks) into a map keyed by relative path ('.' for the root). */
export function walkTree(root: string, opts: WalkOptions = {}): Tree {
  const tree: Tree = new Map();
  const inodes = new Map<string, string[]>();
  const visit = (rel: string): void => {
    const path = rel === '.' ? root : `${root}/${rel}`;
    const st = lstatSync(path, { bigint: true });
    const type = typeOf(st.mode);
    const xattrs: Record<string, string> = {};
    for (const name of llistxattr(path).sort()) {
      if (opts.skipXattr?.(name)) continue;
      xattrs[name] = lgetxattr(path, name).toString('hex');
    }
    const e: TreeEntry = {
      type,
      mode: (st.mode & 0o7777n).toString(8).padStart(4, '0'),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' || type === 'symlink' ? Number(st.size) : 0,
      mtimeNs: type === 'dir' && opts.noDirTimes ? '-' : String(st.mtimeNs),
      nlink: Number(st.nlink),
      xattrs,
    };
    if (type === 'file') e.sha256 = sha256File(path);
    if (type === 'symlink') {
      const raw = readlinkSync(path, { encoding: 'buffer' });
      e.link = Buffer.from(raw.toString('utf8')).equals(raw) ? raw.toString('utf8') : `hex:${raw.toString('hex')}`;
    }
    if (type === 'char' || type === 'block') e.rdev = String(st.rdev);
    if (type !== 'dir' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const names = inodes.get(key);
      if (names) names.push(rel);
      else inodes.set(key, [rel]);
    }
    tree.set(rel, e);
    if (type === 'dir') {
      const names = readdirSync(path, { encoding: 'buffer' }).map((b) => {
        const name = b.toString('utf8');
        if (!Buffer.from(name).equals(b)) throw new Error(`${path}: a name that is not UTF-8 (${b.toString('hex')})`);
        return name;
      });
      for (const name of names.sort()) {
        const child = rel === '.' ? name : `${rel}/${name}`;
        if (opts.skip?.(child)) continue;
        visit(child);
      }
    }
  };
  visit('.');
  for (const names of inodes.values()) {
    names.sort();
    for (const n of names) {
      const e = tree.get(n);
      if (e) e.group = names[0];
    }
  }
  return tree;
}

/** The differences between two trees, one line each (at most `limit`), for an assertion message. */
export function diffTrees(expected: Tree, actual: Tree, limit = 40): string[] {
  const out: string[] = [];
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  for (const k of keys) {
    if (out.length >= limit) {
      out.push('…');
      break;
    }
    const a = expected.get(k);
    const b = actual.get(k);
    if (!a) out.push(`+ ${k} (only in the actual tree: ${b?.type})`);
    else if (!b) out.push(`- ${k} (missing: ${a.type})`);
    else {
      for (const f of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof TreeEntry>) {
        const va = JSON.stringify(a[f]);
        const vb = JSON.stringify(b[f]);
        if (va !== vb) out.push(`~ ${k} ${f}: expected ${va}, got ${vb}`);
      }
    }
  }
  return out;
}
