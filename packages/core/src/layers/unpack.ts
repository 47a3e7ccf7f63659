// Unpacking one OCI / Docker layer tarball into a directory.
//
// Design notes (docs/layers.md, "What a layer tarball means"):
// - Input: a stream or a file. The first bytes are sniffed: gzip (Node's zlib, in process), zstd (a
//   `zstd -dc` child process: Node 20 has no zstd; the Debian `zstd` package provides it), or plain
//   tar. bzip2 and anything else are refused. When a media type is given, the sniffed compression must
//   match it. The uncompressed stream is hashed to its very end (bytes after the end-of-archive blocks
//   included): that sha256 is the diffID, compared when one is given. A plain layer file is read and
//   hashed by a worker thread into a ring of shared slots that this thread unpacks from (hash-ring.ts
//   FileRing); a plain stream is hashed by a worker behind this thread (HashRing); a compressed one on
//   this thread (decompression in the thread pool is the slower half there).
// - Parsing: tar-scan.ts, our own strict reader (PAX values as bytes, limits, no sparse files).
// - File system work: synchronous calls only, all in LayerWriter, which takes entries and body chunks
//   and could run unchanged in a worker thread. Every path is resolved by fds inside `dest` with chroot
//   rules: a parent directory already in this layer is opened one component below its cached parent
//   with O_NOFOLLOW; anything else (a symlink on the way, a missing or non-directory component, a
//   layer with lowers) goes through native resolveInRoot (an absolute symlink in a parent means
//   dest-relative, `..` never climbs above dest). Missing parents are created 0755 (whatever the
//   umask). The final component is never followed: entries are made relative to the parent's fd
//   (O_EXCL, O_NOFOLLOW) and, on EEXIST, lstat'ed and, unless old and new are both directories,
//   removed first.
// - Overlay format with `lowers`: parents are resolved in the merged view of this layer over its lowers
//   (copy-up.ts), so `lib/x` over a lower `lib -> usr/lib` lands in `usr/lib` as in flat format, and a
//   parent missing in this layer is created as a copy of the lower directory (owner, mode, xattrs,
//   times; containerd's WithParents). A whiteout or opaque marker for something the merged view does
//   not have is dropped. Flat format: a lower directory that this layer changes without an entry of
//   its own keeps its times (umoci).
// - Names: the leading `/` is dropped and `a/../b` is cleaned to `b`; a name that climbs out of the
//   root (`../x`) is refused. A root entry (`.`, `./`) must be a directory
//   (CVE-2021-29136: a symlink named `.`); its owner, mode, xattrs and times go on dest itself, as
//   with GNU tar and umoci (containerd and moby skip it).
// - A non-directory in the middle of a path (`file/x`) is replaced by a directory, as umoci does
//   (containerd and moby refuse): the layer says it is a directory now. Not for whiteouts: a whiteout
//   below a non-directory hides nothing.
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
// - Whiteouts (`.wh.NAME`, `.wh..wh..opq`), OCI meaning; `.wh.`, `.wh..`, `.wh...` are refused; other
//   `.wh..wh.*` (AUFS metadata) are skipped.
//   - 'flat': applied to dest directly, umoci style: `upperPaths` holds every path this layer wrote and
//     all their ancestors; a whiteout never removes one of those (OCI: whiteouts apply only to lower
//     layers), whatever the order of the entries.
//   - 'overlay' (dest is this layer's own directory, later an overlay lowerdir): `.wh.X` becomes a 0:0
//     char device X, an opaque marker becomes `trusted.overlay.opaque=y` on its directory. umoci's two
//     fixes: plain whiteouts under a directory made opaque by this layer are removed, and a whiteout
//     that later becomes a parent (or a directory) turns into an opaque directory.
// - Speed (bench/unpack.mjs): parent directory fds are cached by lexical directory name (dropped on
//   every removal, bounded between entries); entries are created first and lstat'ed only on EEXIST; a
//   plain layer file is read and hashed on another thread, in 1 MiB slots. Not done yet:
//   userns variants (user.overlay.*, no mknod), a decompression-ratio limit.
// - Errors: a LayerError naming the entry. Dest is left as it was when the error struck; the caller
//   unpacks into a fresh directory and removes it on failure.
import type { ChildProcess } from 'node:child_process';
import type { Hash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  readdirSync,
  rmSync,
  type Stats,
  writeSync,
} from 'node:fs';
import { Readable } from 'node:stream';
import {
  AT_FDCWD,
  AT_REMOVEDIR,
  AT_SYMLINK_NOFOLLOW,
  closeFd,
  currentUmask,
  fchmodat,
  fchownat,
  fdPath,
  futimens,
  hasCode,
  lgetxattr,
  linkat,
  llistxattr,
  lremovexattr,
  lsetxattr,
  makedev,
  mkdirat,
  mknodat,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOCTTY,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  openat,
  resolveInRoot,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  SyscallError,
  symlinkat,
  unlinkat,
  utimensat,
} from '@builder/native';
import { LayerError } from '../errors.js';
import { type Compression, checkMediaType, openBlob, SNIFF_BYTES, sniff } from './compression.js';
import { Lowers } from './copy-up.js';
import { FileRing, fileRingSlots, HashRing, LocalHash, RING_SLOTS, SLOT_BYTES, sha256 } from './hash-ring.js';
import { type TarEntry, TarScanner } from './tar-scan.js';

export type LayerFormat = 'overlay' | 'flat';

export interface UnpackOptions {
  format: LayerFormat;
  /** `sha256:<hex>` of the uncompressed tarball; checked when given. */
  diffId?: string;
  /** The layer's media type; the sniffed compression must match it when given. */
  mediaType?: string;
  /** Called with the number of (compressed) input bytes read so far. */
  onProgress?: (bytesIn: number) => void;
  /**
   * The input's own digest and size (of the blob as given, compressed or not), checked once it is read
   * to its end: for a file read here rather than through a verifying stream.
   */
  blob?: { digest: string; size: number };
  /**
   * Overlay format only: the directories of the layers below this one, top first (already unpacked
   * in overlay format). A hard link whose target is not in this layer is then looked up through them
   * and the target copied up into this layer (copy-up.ts); without them such a link is an error.
   */
  lowers?: readonly string[];
}

export interface UnpackResult {
  diffId: string;
  entries: number;
  /** Bytes of the uncompressed tarball. */
  size: number;
  /** Hard-link targets copied up from the lowers into this layer. */
  copiedUp: number;
}

const OPAQUE = '.wh..wh..opq';
/** Non-directories replaced by directories for one path at most (a path has at most this many levels). */
const LIMIT_REPLACED = 1024;
const S_ISGID = 0o2000;
const WH = '.wh.';

/** Read size of a compressed layer file. */
const CHUNK = 1 << 20;
/** zlib's output chunk size: fewer, larger chunks through the async iteration. */
const GUNZIP_CHUNK = 256 << 10;

/**
 * Unpack a layer tarball, a file or a stream, into `dest`. A plain tarball file is read and hashed by a
 * worker thread (FileRing) while this thread unpacks; its file system calls block this thread.
 */
export async function unpackLayer(
  input: NodeJS.ReadableStream | string,
  dest: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  if (typeof input !== 'string') return unpackStream(input, dest, opts);
  const { fd, compression } = openBlob(input);
  if (compression !== 'none') return unpackStream(createReadStream('', { fd, highWaterMark: CHUNK }), dest, opts);
  const ring = FileRing.start(fd, fileRingSlots(fstatSync(fd).size), SLOT_BYTES);
  try {
    return unpackFileRing(ring, dest, opts);
  } finally {
    await ring.abort(); // stopped (after an error) before its fd is closed
    closeSync(fd);
  }
}

/**
 * Unpack the plain tarball file a FileRing reads (started here or by another thread, which then owns
 * its fd and its worker). Synchronous: this thread only waits for slots the reader has not filled yet.
 */
export function unpackFileRing(ring: FileRing, dest: string, opts: UnpackOptions): UnpackResult {
  const writer = newWriter(dest, opts);
  const scanner = new TarScanner(writer);
  let total = 0;
  try {
    for (let slot = ring.take(); slot; slot = ring.take()) {
      if (total === 0 && opts.mediaType !== undefined) checkMediaType(opts.mediaType, sniff(slot));
      total += slot.length;
      opts.onProgress?.(total);
      scanner.push(slot);
      ring.release();
    }
    finishUnpack(scanner, writer, total);
  } catch (err) {
    writer.abort();
    void ring.abort();
    throw asUnpackError(err);
  }
  const diffId = ring.digest();
  // A plain blob's digest is its diffID.
  return verified({ diffId, blobDigest: diffId, bytesIn: ring.bytes, total }, scanner, writer, opts);
}

/** A stream: its first bytes are sniffed; gzip goes through zlib, zstd through `zstd -dc`. */
async function unpackStream(input: NodeJS.ReadableStream, dest: string, opts: UnpackOptions): Promise<UnpackResult> {
  const stream = (input as Readable).read ? (input as Readable) : Readable.from(input);
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytesIn = 0;
  // The blob's own digest, when it is compressed (a plain blob's digest is its diffID).
  let blobHash: Hash | undefined;
  const next = async (): Promise<Buffer | undefined> => {
    const r = await iterator.next();
    if (r.done) return undefined;
    bytesIn += r.value.length;
    opts.onProgress?.(bytesIn);
    blobHash?.update(r.value);
    return r.value;
  };
  let compression: Compression = 'none';
  let first: Buffer;
  let sourceDone = false;
  try {
    const head: Buffer[] = [];
    let headLen = 0;
    while (headLen < SNIFF_BYTES) {
      const chunk = await next();
      if (!chunk) {
        sourceDone = true;
        break;
      }
      head.push(chunk);
      headLen += chunk.length;
    }
    first = head.length === 1 ? head[0] : Buffer.concat(head);
    compression = sniff(first);
    if (opts.mediaType !== undefined) checkMediaType(opts.mediaType, compression);
  } catch (err) {
    stream.destroy();
    throw asReadError(err, compression);
  }
  if (compression !== 'none' && opts.blob) blobHash = sha256().update(first);

  const writer = newWriter(dest, opts);
  const scanner = new TarScanner(writer);
  // A plain stream is hashed by a worker behind this thread; a compressed one here (decompressing, in
  // the thread pool, is the slower half: no copies, no extra thread competing for the CPU, less memory).
  const hasher = compression === 'none' ? new HashRing(RING_SLOTS, SLOT_BYTES) : new LocalHash();
  let total = 0;
  const push = (chunk: Buffer) => {
    hasher.copy(chunk);
    total += chunk.length;
    scanner.push(chunk);
  };
  let child: ChildProcess | undefined;
  let childError = '';
  let plain: Readable | undefined;
  let raw: Readable | undefined;
  try {
    if (compression === 'none') {
      if (first.length) push(first);
      try {
        for (let chunk = sourceDone ? undefined : await next(); chunk; chunk = await next()) push(chunk);
      } catch (err) {
        throw asReadError(err, compression);
      }
    } else {
      raw = Readable.from(
        (async function* () {
          if (first.length) yield first;
          if (sourceDone) return;
          for (let chunk = await next(); chunk; chunk = await next()) yield chunk;
        })(),
        { objectMode: false },
      );
      // zlib and child_process load only for a compressed layer (a worker starts faster without them).
      if (compression === 'gzip') {
        const { createGunzip } = await import('node:zlib');
        plain = raw.pipe(createGunzip({ chunkSize: GUNZIP_CHUNK }));
        raw.on('error', (e) => plain?.destroy(e));
      } else {
        const { spawn } = await import('node:child_process');
        const zstd = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
        child = zstd;
        zstd.stdin.on('error', () => {}); // EPIPE when zstd fails early: its exit status says why
        zstd.stderr.on('data', (d: Buffer) => {
          childError += d.toString();
        });
        raw.pipe(zstd.stdin);
        plain = zstd.stdout;
      }
      const exited = child
        ? new Promise<number | null>((resolve, reject) => {
            child?.on('error', (e) => reject(new LayerError(`cannot run zstd: ${e.message}`, { cause: e })));
            child?.on('close', (code) => resolve(code));
          })
        : Promise.resolve(0);
      exited.catch(() => {});
      try {
        for await (const chunk of plain) push(chunk as Buffer);
      } catch (err) {
        throw asReadError(err, compression);
      }
      const code = await exited;
      if (code !== 0) throw new LayerError(`zstd -dc failed (exit ${code}): ${childError.trim()}`);
    }
    finishUnpack(scanner, writer, total);
  } catch (err) {
    writer.abort();
    void hasher.abort();
    child?.kill();
    raw?.destroy();
    plain?.destroy();
    stream.destroy();
    throw asUnpackError(err);
  }
  const diffId = hasher.digest();
  const blobDigest = blobHash ? `sha256:${blobHash.digest('hex')}` : diffId;
  return verified({ diffId, blobDigest, bytesIn, total }, scanner, writer, opts);
}

function newWriter(dest: string, opts: UnpackOptions): LayerWriter {
  if (opts.lowers?.length && opts.format !== 'overlay') {
    throw new LayerError('lower layer directories only apply to the overlay format');
  }
  return new LayerWriter(dest, opts.format, opts.lowers);
}

/** The end of the tarball: it must have had bytes and ended where an entry ends; directory times last. */
function finishUnpack(scanner: TarScanner, writer: LayerWriter, total: number): void {
  if (total === 0) throw new LayerError('layer tarball is empty (0 bytes after decompression)');
  scanner.finish();
  writer.finish();
}

/** The result, once the blob (digest and size) and the diffID are what the options say. */
function verified(
  got: { diffId: string; blobDigest: string; bytesIn: number; total: number },
  scanner: TarScanner,
  writer: LayerWriter,
  opts: UnpackOptions,
): UnpackResult {
  if (opts.blob) {
    if (got.bytesIn !== opts.blob.size)
      throw new LayerError(`layer blob size mismatch: expected ${opts.blob.size} bytes, read ${got.bytesIn}`);
    if (got.blobDigest !== opts.blob.digest)
      throw new LayerError(`layer blob digest mismatch: expected ${opts.blob.digest}, got ${got.blobDigest}`);
  }
  if (opts.diffId !== undefined && opts.diffId !== got.diffId) {
    throw new LayerError(`layer diffID mismatch: expected ${opts.diffId}, got ${got.diffId}`);
  }
  return { diffId: got.diffId, entries: scanner.entries, size: got.total, copiedUp: writer.copiedUp };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function asReadError(err: unknown, compression: Compression): LayerError {
  if (err instanceof LayerError) return err;
  return new LayerError(`layer tarball cannot be read (${compression}): ${errorText(err)}`, { cause: err });
}

function asUnpackError(err: unknown): LayerError {
  if (err instanceof LayerError) return err;
  return new LayerError(`cannot unpack layer: ${errorText(err)}`, { cause: err });
}

/** A name with an empty, `.` or `..` component (after leading `./` and slashes at both ends are cut). */
const UNCLEAN = /(^|\/)\.\.?(\/|$)|\/\//;

/** Clean a name lexically inside the root: `null` for the root itself; throws when it climbs out. */
export function cleanName(name: string, what: string): string | null {
  let start = 0;
  let end = name.length;
  for (;;) {
    if (name.charCodeAt(start) === 0x2f) start++;
    else if (name.startsWith('./', start)) start += 2;
    else break;
  }
  while (end > start && name.charCodeAt(end - 1) === 0x2f) end--;
  if (start === end) return null;
  const cut = name.slice(start, end);
  return UNCLEAN.test(cut) ? cleanSlow(name, what) : cut;
}

function cleanSlow(name: string, what: string): string | null {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!out.length) throw new LayerError(`${what} '${name}' leaves the root`);
      out.pop();
    } else out.push(part);
  }
  return out.length ? out.join('/') : null;
}

const parentOf = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
function depth(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}

interface Parent {
  /** O_PATH fd of the parent directory (owned by the cache). */
  fd: number;
  /** Resolved path of the parent inside the root. */
  path: string;
  name: string;
  dir: CachedDir;
}

interface CachedDir {
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
const CACHE_MAX = 256;

interface Times {
  atimeNs: bigint;
  mtimeNs: bigint;
}

/**
 * The synchronous half: applies entries to `dest`. Paths it keeps are resolved paths inside dest
 * (`/a/b`, symlinks in parents already followed).
 */
export class LayerWriter {
  private readonly rootFd: number;
  /** Every resolved path this layer wrote, with all its ancestors (flat-format whiteouts). */
  private readonly upperPaths = new Set<string>(['/']);
  /** Whiteout devices this layer made (overlay format). */
  private readonly whiteouts = new Set<string>();
  private readonly opaqueDirs = new Set<string>();
  private readonly dirTimes = new Map<string, Times>();
  private readonly dirCache = new Map<string, CachedDir>();
  private cacheLimit = 4;
  private file?: {
    fd: number;
    entry: TarEntry;
    parentFd: number;
    name: string;
    path: string;
    chown: boolean;
    chmod: boolean;
  };
  private readonly lowers?: Lowers;
  /** What copy-ups put in this layer (resolved paths): a later opaque marker of this layer hides it. */
  private readonly copies = new Set<string>();
  /** Owner group and setgid bit of the directories this layer set metadata on (newer than the cache's fstat). */
  private readonly dirOwners = new Map<string, { gid: number; setgid: boolean }>();
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  /** The bits new inodes lose (all of them when unknown: then every mode is set with chmod). */
  private readonly umask = currentUmask() ?? 0o777;
  /** False once the layer has set a default ACL somewhere (exactMode): cached directories may not know. */
  private exactModes = true;

  constructor(
    dest: string,
    private readonly format: LayerFormat,
    lowers?: readonly string[],
  ) {
    this.rootFd = openat(AT_FDCWD, dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (lowers?.length) {
      try {
        this.lowers = new Lowers(lowers);
      } catch (err) {
        closeFd(this.rootFd);
        throw err;
      }
    }
  }

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

  private whiteout(clean: string, base: string, e: TarEntry): void {
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
        const sub = openat(dirFd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
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
  private makeOpaque(pfd: number, name: string, path: string): void {
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
  private openWhiteoutsAbove(clean: string): void {
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

  /**
   * The parent directory of `clean` inside the root (created 0755 when missing and `create`), and the
   * final name. The fd belongs to a cache keyed by the lexical directory name; callers never close it.
   * The cache is dropped whenever anything is removed, since only a removal can change what a lexical
   * path resolves to (a new symlink can only appear where nothing was, so nothing cached went through it).
   */
  private parent(clean: string, create: boolean, replace = create): Parent {
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
        const fd = openat(up.fd, name, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
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
  private makeDirs(dir: string, replace: boolean): { fd: number; path: string } {
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

  private dropCache(): void {
    for (const { fd } of this.dirCache.values()) closeFd(fd);
    this.dirCache.clear();
  }

  private markUpper(path: string): void {
    for (let p = path; !this.upperPaths.has(p); p = parentOf(p)) this.upperPaths.add(p);
  }

  private remove(pfd: number, name: string, path: string, st: Stats): void {
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

  private lstatAt(pfd: number, name: string): Stats | undefined {
    return lstatSync(this.procPath(pfd, name), { throwIfNoEntry: false });
  }

  /** `/proc/self/fd/N/name`: the kernel resolves the fd, then `name` (not followed by l* calls). */
  private procPath(pfd: number, name: string): string {
    return `${fdPath(pfd)}/${name || '.'}`;
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

/** The xattr of a directory's default ACL: new inodes in it take their mode from it, not the umask. */
const DEFAULT_ACL = 'system.posix_acl_default';

/** Whether the directory `path` has a default ACL, or it cannot be told. */
function mayHaveDefaultAcl(path: string): boolean {
  try {
    lgetxattr(path, DEFAULT_ACL);
    return true;
  } catch (err) {
    return !hasCode(err, 'ENODATA') && !hasCode(err, 'ENOTSUP');
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

function readdirFd(fd: number): string[] {
  return readdirSync(fdPath(fd));
}
