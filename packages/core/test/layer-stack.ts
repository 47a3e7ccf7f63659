// Stacks of test layers unpacked two ways, and the kernel as the judge: each layer in overlay format
// into its own directory (with the ones below as lowers), and all of them in flat format onto one
// directory; `merged` lists an overlay mount of the layer directories (read-only, in a private mount
// namespace, so nothing shows on the host), `listing` lists a directory the same way.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools } from '../../../test/helpers/tools.js';
import { hasOpaqueRoot } from '../src/image/store/opaque-root.js';
import { visibleLayers } from '../src/image/store/visible-layers.js';
import { unpackLayer } from '../src/image/unpack/unpack-layer.js';
import { type TestEntry, tar } from './tar-writer.js';

let n = 0;

export interface Stack {
  /** Layer directories in overlay format, bottom first. */
  dirs: string[];
  /** The same layers applied in flat format, one after the other. */
  flat: string;
  copiedUp: number[];
}

/** Unpack `layers` (bottom first) in overlay format, each with the ones below as lowers, and flat. */
export async function stack(work: string, layers: TestEntry[][]): Promise<Stack> {
  const base = join(work, `s${n++}`);
  const flat = join(base, 'flat');
  mkdirSync(flat, { recursive: true });
  const dirs: string[] = [];
  const copiedUp: number[] = [];
  for (const [i, entries] of layers.entries()) {
    const file = join(base, `l${i}.tar`);
    writeFileSync(file, tar(entries));
    const dir = join(base, `layer${i}`);
    mkdirSync(dir);
    const r = await unpackLayer(file, dir, { format: 'overlay', lowers: [...dirs].reverse() });
    copiedUp.push(r.copiedUp);
    dirs.push(dir);
    await unpackLayer(file, flat, { format: 'flat' });
  }
  return { dirs, flat, copiedUp };
}

/**
 * One line per entry (path, type, mode, owner, size and link count of non-directories, mtime in ns,
 * link target, the start of the sha256 of a file), then getfattr's dump. Run on a directory or on an overlay mount.
 * getfattr prints nothing for a file without xattrs and fails (so does the listing) on any error; without it,
 * every listing would have no xattrs and every comparison of xattrs would pass, so it must be installed.
 */
const LIST = [
  'set -e',
  'cd "$1"',
  `find . -printf '%P|%y|%m|%U:%G|%s|%T@|%l|%n|' -exec sh -c '[ -f "$1" ] && [ ! -L "$1" ] && sha256sum < "$1" | cut -c1-16 || echo' _ {} \\;`,
  'echo "=== xattrs"',
  'getfattr -R -P -h -d -m - -e hex .',
].join('\n');

/** The root line goes (an overlay mount's root is not a layer's), and overlayfs' own xattrs. */
function normalize(raw: string, noDirTimes: boolean): string {
  const [files, xattrs] = raw.split('=== xattrs\n');
  const lines = files
    .trim()
    .split('\n')
    .filter((l) => l && !l.startsWith('|'))
    .map((l) => {
      const f = l.split('|');
      if (f[1] === 'd') {
        f[4] = '-';
        f[7] = '-';
        if (noDirTimes) f[5] = '-';
      }
      return f.join('|');
    });
  const blocks = (xattrs ?? '')
    .split('\n\n')
    .map((b) =>
      b
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('trusted.overlay.'))
        .join('\n'),
    )
    .filter((b) => b.includes('='))
    .sort();
  if (!raw.startsWith('|d|')) throw new Error(`not a listing: ${raw}`);
  return `${lines.sort().join('\n')}\n${blocks.join('\n\n')}`;
}

export function listing(dir: string, noDirTimes = false): string {
  requireTools('getfattr');
  return normalize(execFileSync('sh', ['-c', LIST, 'list', dir]).toString(), noDirTimes);
}

/** The kernel's view: a read-only overlay mount of the layer directories, in a private mount namespace. */
export function merged(s: Stack, noDirTimes = false): string {
  requireTools('getfattr');
  const lowers = visibleLayers([...s.dirs].reverse(), hasOpaqueRoot);
  if (lowers.length === 1) return listing(lowers[0], noDirTimes);
  const m = mkdtempSync(join(tmpdir(), 'merged-'));
  try {
    const script = `mount -t overlay overlay -o ro,lowerdir=${lowers.join(':')} "$1" && sh -c '${LIST.replaceAll("'", "'\\''")}' list "$1"`;
    const raw = execFileSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'merged', m]);
    return normalize(raw.toString(), noDirTimes);
  } finally {
    rmSync(m, { recursive: true, force: true });
  }
}
