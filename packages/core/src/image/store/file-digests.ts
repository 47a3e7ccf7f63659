// files/<dev>-<ino>.json: the sha256 of a file a source named (tar:FILE), remembered with the identity
// the file had then (device, inode, size, mtime, ctime): unchanged, it is not hashed again.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DIGEST_RE, fileDigest as hashFile } from '../digest.js';
import { type StoreDirs, writeAtomic } from './store-dirs.js';

export class FileDigests {
  constructor(private readonly dirs: StoreDirs) {}

  /**
   * The sha256 of `file`, read once and remembered under files/ with the file's identity: device,
   * inode, size, mtime and ctime to the nanosecond. Any write to the file moves its ctime, which only
   * the kernel sets, so a remembered digest is used only for the same unchanged file. A digest is
   * remembered only when the file did not change while it was read; a store that cannot be written
   * to just does not remember.
   */
  async digest(file: string): Promise<string> {
    const before = fileIdentity(file);
    const memo = join(this.dirs.dir('files'), `${before.replace(/:.*$/, '')}.json`);
    try {
      const m = JSON.parse(readFileSync(memo, 'utf8')) as { identity?: unknown; digest?: unknown };
      if (m.identity === before && typeof m.digest === 'string' && DIGEST_RE.test(m.digest)) return m.digest;
    } catch {
      // none yet (or unreadable): hash
    }
    const digest = await hashFile(file);
    try {
      if (fileIdentity(file) === before) {
        mkdirSync(this.dirs.dir('files'), { recursive: true, mode: 0o700 });
        writeAtomic(memo, `${JSON.stringify({ path: file, identity: before, digest })}\n`);
      }
    } catch {
      // gone meanwhile, or a store not ours to write: the next run hashes again
    }
    return digest;
  }

  /** Forget the digests whose file is gone or has changed. */
  prune(): void {
    const dir = this.dirs.dir('files');
    for (const name of existsSync(dir) ? readdirSync(dir) : []) {
      let keep = false;
      try {
        const m = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { path?: unknown; identity?: unknown };
        keep = typeof m.path === 'string' && fileIdentity(m.path) === m.identity;
      } catch {
        // unreadable, or its file is gone
      }
      if (!keep) rmSync(join(dir, name), { force: true });
    }
  }
}

/** `dev-ino:size:mtime:ctime` of a file (nanoseconds): what changes whenever its contents may have. */
function fileIdentity(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}-${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}
