// Archives of images (oci-archive, docker-archive): extracted with the system tar into a temp directory,
// and paths inside them resolved without leaving it.
import { spawn } from 'node:child_process';
import { mkdtemp, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ImageError } from '../../errors.js';

/**
 * Extracts an archive into a fresh temp directory with the system `tar` (GNU tar refuses members that
 * leave the directory and defers symlinks that point outside it), without owners or modes of the archive.
 * The directory is removed on failure; on success the caller removes it (see removeDir).
 */
export async function extractToTemp(file: string, what: string): Promise<string> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new ImageError(`${what}: missing ${file} (${e.code ?? e.message})`, { cause: e });
  });
  if (!st.isFile()) throw new ImageError(`${what}: ${file} is not a regular file`);
  const dir = await mkdtemp(join(tmpdir(), 'builder-image-'));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('tar', ['-xf', file, '-C', dir, '--no-same-owner', '--no-same-permissions'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        if (err.length < 4096) err += s;
      });
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new ImageError(
            e.code === 'ENOENT'
              ? `${what}: the tar program is needed to read archives (apt-get install tar)`
              : `${what}: cannot run tar: ${e.message}`,
            { cause: e },
          ),
        ),
      );
      child.on('close', (code) => {
        if (code === 0) resolve();
        else {
          const line = err.trim().split('\n')[0] ?? '';
          reject(new ImageError(`${what}: ${file} is not a readable tar archive (tar: ${line || `exit ${code}`})`));
        }
      });
    });
    return dir;
  } catch (e) {
    await removeDir(dir);
    throw e;
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The real path of `rel` inside `root`; an ImageError when it is missing or leaves `root` (through `..` or symlinks). */
export async function resolveInside(root: string, rel: string, what: string): Promise<string> {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel) || rel.includes('\0')) {
    throw new ImageError(`${what}: invalid path ${JSON.stringify(rel)}`);
  }
  const realRoot = await realpath(root);
  const real = await realpath(join(realRoot, rel)).catch((e: NodeJS.ErrnoException) => {
    throw new ImageError(`${what}: missing ${rel} (${e.code ?? e.message})`, { cause: e });
  });
  const r = relative(realRoot, real);
  if (r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r)) {
    throw new ImageError(`${what}: ${rel} points outside the archive`);
  }
  return real;
}
