// The stage process must use only synchronous fs calls (docs/architecture.md, "The process model"): libuv's thread pool stays in
// the host's namespaces after unshare. A static check of its import closure, and a runtime check of
// the guard that turns a thread-pool request into an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const MAIN = resolve(SRC, 'stage/main.ts');
const GUARD_JS = resolve(SRC, '../dist/stage/guard.js');

interface Import {
  /** What is imported: `{ a, b as c }`, `x`, `* as x`, `type { T }`, or '' for a bare import. */
  clause: string;
  specifier: string;
}

/** Every static import and re-export of a module, and its dynamic imports (clause `import()`). */
function importsOf(text: string): Import[] {
  const found: Import[] = [];
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  for (const m of code.matchAll(/\b(?:import|export)\s+([\w*{}\s,$]*?)\s*from\s*['"]([^'"]+)['"]/g))
    found.push({ clause: m[1].trim(), specifier: m[2] });
  for (const m of code.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) found.push({ clause: '', specifier: m[1] });
  for (const m of code.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ clause: 'import()', specifier: m[1] });
  for (const m of code.matchAll(/\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g))
    found.push({ clause: 'require()', specifier: m[1] });
  return found;
}

/** The source files reachable from `entry` through relative imports, with their imports. */
function closure(entry: string): Map<string, Import[]> {
  const files = new Map<string, Import[]>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop() as string;
    if (files.has(file)) continue;
    const imports = importsOf(readFileSync(file, 'utf8'));
    files.set(file, imports);
    for (const { specifier } of imports) {
      if (!specifier.startsWith('./') && !specifier.startsWith('../')) continue;
      const target = resolve(dirname(file), specifier.replace(/\.js$/, '.ts'));
      if (!existsSync(target)) throw new Error(`${relative(SRC, file)}: cannot find ${specifier}`);
      todo.push(target);
    }
  }
  return files;
}

/** Names imported by a named-import clause; undefined when it is a default or namespace import. */
function namedImports(clause: string): string[] | undefined {
  const m = /^(?:type\s+)?\{([^}]*)\}$/.exec(clause.trim());
  if (!m) return undefined;
  return m[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => s.replace(/^type\s+/, '').split(/\s+as\s+/)[0]);
}

describe('importsOf (the parser this check relies on)', () => {
  it('finds multi-line, default, namespace, re-export, bare and dynamic imports', () => {
    const text = [
      "import {\n  a,\n  b as c,\n} from '../x.js';",
      "import fs from 'node:fs';",
      "import * as p from 'fs/promises';",
      "export { y } from './y.js';",
      "import './side.js';",
      "const z = await import('./z.js');",
      "// import { no } from 'commented';",
    ].join('\n');
    expect(importsOf(text)).toEqual([
      { clause: '{\n  a,\n  b as c,\n}', specifier: '../x.js' },
      { clause: 'fs', specifier: 'node:fs' },
      { clause: '* as p', specifier: 'fs/promises' },
      { clause: '{ y }', specifier: './y.js' },
      { clause: '', specifier: './side.js' },
      { clause: 'import()', specifier: './z.js' },
    ]);
    expect(namedImports('{\n  a,\n  b as c,\n}')).toEqual(['a', 'b']);
    expect(namedImports('fs')).toBeUndefined();
    expect(namedImports('* as fs')).toBeUndefined();
  });
});

describe('the stage process', () => {
  const files = closure(MAIN);

  it('reaches the interpreter, in-root resolution, syscalls, the user lookup, the confinement and the guard', () => {
    expect([...files.keys()].map((f) => relative(SRC, f)).sort()).toEqual([
      'capabilities.ts',
      'cgroup.ts',
      'confine.ts',
      'constants.ts',
      'container-user.ts',
      'credentials.ts',
      'device-filter.ts',
      'in-root.ts',
      'interpreter.ts',
      'libc.ts',
      'loopback.ts',
      'masked-paths.ts',
      'mount-flags.ts',
      'mount-op.ts',
      'mountinfo.ts',
      'overlay.ts',
      'pinned-sources.ts',
      'pty.ts',
      'spawn.ts',
      'stage/guard.ts',
      'stage/main.ts',
      'stage/protocol.ts',
      'syscall-error.ts',
      'syscalls.ts',
      'user.ts',
    ]);
  });

  it('never imports fs/promises', () => {
    const offenders = [...files].flatMap(([file, imports]) =>
      imports
        .filter((i) => i.specifier === 'node:fs/promises' || i.specifier === 'fs/promises')
        .map((i) => `${relative(SRC, file)}: ${i.specifier}`),
    );
    expect(offenders).toEqual([]);
  });

  it('imports from node:fs only *Sync functions and constants, by name', () => {
    const offenders: string[] = [];
    for (const [file, imports] of files)
      for (const i of imports) {
        if (i.specifier !== 'node:fs' && i.specifier !== 'fs') continue;
        const names = namedImports(i.clause);
        if (!names) offenders.push(`${relative(SRC, file)}: default or namespace import "${i.clause}"`);
        else
          for (const n of names)
            if (!n.endsWith('Sync') && n !== 'constants') offenders.push(`${relative(SRC, file)}: ${n}`);
      }
    expect(offenders).toEqual([]);
  });

  it('forbids the thread pool right after unshare, before any mount', () => {
    const text = readFileSync(MAIN, 'utf8');
    const unshareAt = text.indexOf('unshare(');
    expect(unshareAt).toBeGreaterThan(0);
    const guardAt = text.indexOf('forbidThreadPool(', unshareAt);
    const mountAt = text.indexOf("mount(null, '/'", unshareAt);
    expect(guardAt).toBeGreaterThan(unshareAt);
    expect(mountAt).toBeGreaterThan(unshareAt);
    expect(guardAt).toBeLessThan(mountAt);
  });
});

describe('forbidThreadPool at run time', () => {
  const runGuarded = (body: string) =>
    spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        [
          "import fs from 'node:fs';",
          "import crypto from 'node:crypto';",
          `import { forbidThreadPool } from ${JSON.stringify(GUARD_JS)};`,
          "forbidThreadPool((t) => { console.log('VIOLATION ' + t); process.exit(3); });",
          body,
        ].join('\n'),
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );

  it('is built', () => {
    expect(existsSync(GUARD_JS)).toBe(true);
  });

  it('reports an async fs.readFile as FSREQCALLBACK', () => {
    const r = runGuarded("fs.readFile('/proc/self/status', () => console.log('READ'));");
    expect(r.stdout).toBe('VIOLATION FSREQCALLBACK\n');
    expect(r.status).toBe(3);
  });

  it('reports fs.promises as FSREQPROMISE', () => {
    const r = runGuarded("await fs.promises.readFile('/proc/self/status'); console.log('READ');");
    expect(r.stdout).toBe('VIOLATION FSREQPROMISE\n');
    expect(r.status).toBe(3);
  });

  it('reports crypto work on the pool', () => {
    const r = runGuarded("crypto.pbkdf2('a', 'b', 1, 8, 'sha1', () => console.log('DONE'));");
    expect(r.stdout).toBe('VIOLATION PBKDF2REQUEST\n');
    expect(r.status).toBe(3);
  });

  it('lets synchronous fs calls through', () => {
    const r = runGuarded(
      "const s = fs.readFileSync('/proc/self/status', 'utf8'); fs.statSync('/'); console.log(s.startsWith('Name:') ? 'OK' : 'BAD');",
    );
    expect(r.stdout).toBe('OK\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
