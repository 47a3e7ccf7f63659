// A test file's scratch directory: made before its tests (which run as root: they set file owners),
// removed after them, with fresh empty directories to unpack into.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface Scratch {
  /** A path in the scratch directory ('' for the directory itself). */
  path(name: string): string;
  /** A new empty directory in it. */
  fresh(): string;
}

export function rootScratch(prefix: string): Scratch {
  let dir = '';
  let n = 0;
  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('these tests need root (file owners)');
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    path: (name) => join(dir, name),
    fresh: () => {
      const d = join(dir, `d${n++}`);
      mkdirSync(d);
      return d;
    },
  };
}
