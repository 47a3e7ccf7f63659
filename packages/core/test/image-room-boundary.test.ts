// The image room's walls (src/image/index.ts): what reads and writes images and layers uses nothing of
// the engine, and the engine reaches the room only through its entry. Checked on the import graph of
// the sources: every import specifier (static, re-export, dynamic) of every .ts file under src.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const ROOM = join(SRC, 'image');
const ENTRY = join(ROOM, 'index.ts');

/** Packages the room may import: Node's built-ins (`node:*`) and these. */
const PACKAGES = new Set(['@builder/native', '@builder/native/pure']);
/** Files of core outside the room that the room may import (the logger only for its type). */
const ERRORS = join(SRC, 'errors.ts');
const LOGGER = join(SRC, 'logging', 'logger.ts');

interface Import {
  /** The specifier as written. */
  spec: string;
  /** `import type` / `export type`: erased at compile time. */
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

/** The import specifiers of a source file (comment lines left out). */
function importsOf(file: string): Import[] {
  const code = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line))
    .join('\n');
  const found: Import[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'([^']+)'/gm)) {
    found.push({ spec: m[2], typeOnly: m[1] !== undefined });
  }
  for (const m of code.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push({ spec: m[1], typeOnly: false });
  return found;
}

/** The source file a relative specifier names (`./x.js` is `./x.ts`). */
function target(file: string, spec: string): string {
  return resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}${sep}`);
const rel = (path: string) => relative(SRC, path);

/** Why an import of a file in the room leaves it to a place it may not go, or undefined when it may. */
function roomViolation(file: string, imp: Import): string | undefined {
  const where = `${rel(file)} imports '${imp.spec}'`;
  if (!imp.spec.startsWith('.')) {
    if (imp.spec.startsWith('node:') || PACKAGES.has(imp.spec)) return undefined;
    return `${where}: the image room uses only node:*, @builder/native and @builder/native/pure`;
  }
  const to = target(file, imp.spec);
  if (inside(to, ROOM) || to === ERRORS) return undefined;
  if (to === LOGGER && imp.typeOnly) return undefined;
  if (to === LOGGER) return `${where}: the image room takes the Logger type only (import type)`;
  return `${where}: ${rel(to)} is outside the image room (allowed: files in image/, errors.ts, the Logger type)`;
}

/** Why an import of a file outside the room reaches into it past its entry, or undefined. */
function entryViolation(file: string, imp: Import): string | undefined {
  if (!imp.spec.startsWith('.')) return undefined;
  const to = target(file, imp.spec);
  if (!inside(to, ROOM) || to === ENTRY) return undefined;
  return `${rel(file)} imports '${imp.spec}': outside the image room, import it through image/index.js`;
}

describe('the image room (src/image)', () => {
  const roomFiles = tsFiles(ROOM);
  const otherFiles = tsFiles(SRC).filter((f) => !inside(f, ROOM));

  it('finds the files and their imports', () => {
    // A guard for the test itself: a parser that found nothing would pass everything.
    expect(roomFiles.length).toBeGreaterThan(20);
    expect(otherFiles.length).toBeGreaterThan(20);
    expect(importsOf(join(ROOM, 'store', 'layer-store.ts')).map((i) => i.spec)).toContain('../../errors.js');
    expect(importsOf(join(SRC, 'engine.ts')).map((i) => i.spec)).toContain('./image/index.js');
  });

  it('imports nothing of the engine: only node:*, @builder/native(/pure), errors.ts, the Logger type and itself', () => {
    const bad = roomFiles.flatMap((f) => importsOf(f).map((imp) => roomViolation(f, imp)));
    expect(bad.filter((v) => v !== undefined)).toEqual([]);
  });

  it('is reached from the rest of core only through image/index.ts', () => {
    const bad = otherFiles.flatMap((f) => importsOf(f).map((imp) => entryViolation(f, imp)));
    expect(bad.filter((v) => v !== undefined)).toEqual([]);
  });

  it('names the file and the import that break a rule', () => {
    const store = join(ROOM, 'store', 'layer-store.ts');
    expect(roomViolation(store, { spec: '../../plan/planner.js', typeOnly: false })).toBe(
      "image/store/layer-store.ts imports '../../plan/planner.js': plan/planner.ts is outside the image room (allowed: files in image/, errors.ts, the Logger type)",
    );
    expect(roomViolation(store, { spec: 'inversify', typeOnly: false })).toMatch(/uses only node:\*/);
    expect(roomViolation(store, { spec: '../../logging/logger.js', typeOnly: false })).toMatch(/Logger type only/);
    expect(roomViolation(store, { spec: '../../logging/logger.js', typeOnly: true })).toBeUndefined();
    expect(entryViolation(join(SRC, 'engine.ts'), { spec: './image/store/layer-store.js', typeOnly: false })).toBe(
      "engine.ts imports './image/store/layer-store.js': outside the image room, import it through image/index.js",
    );
  });
});
