// The start-up fast path parses `builder run` arguments without oclif. It must accept exactly what
// oclif accepts, with the same result, and leave everything else to oclif. Also: `builder run --help`
// shows README.md's usage block, and its examples are plain invocations the fast path takes.
import { readFileSync } from 'node:fs';
import { Parser } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import Run from '../src/commands/run.js';
import { LOG_LEVEL_FLAG, parseRunArgs, RUN_FLAGS } from '../src/run-flags.js';

const oclifParse = (args: string[]) =>
  Parser.parse(args, { flags: { ...Run.baseFlags, ...Run.flags }, args: {}, strict: false, context: undefined });

const accepted: string[][] = [
  ['--', 'true'],
  ['--rootfs', '/r', '--', 'sh', '-c', 'exit 7'],
  ['--rootfs=/r', '-e', 'A=1', '-eB=2', '--env', 'C=x=y', '--env=D=4', '-w', '/w', '--hostname', 'h', '--', 'true'],
  ['-w/w', '--log-level', 'debug', '--', 'env'],
  ['--log-level=info', '--workdir=/a/b', '--', 'pwd'],
  ['--rootfs', '/r', 'true'],
  ['-e', 'A=1', 'env'],
  ['--rootfs', '/r', '--', '--not-a-flag'],
  ['--mount', 'type=tmpfs,destination=/t,tmpfs-size=1m', '--', 'true'],
  ['--mount=type=tmpfs,dst=/a', '--mount', 'type=bind,src=/s,dst=/b,ro', '--rootfs', '/r', '--', 'true'],
  ['--mount', 'type=tmpfs,"target=/a,b"', 'true'],
  ['-v', '/src:/src:ro', '--', 'make'],
  ['-v/a:/b', '--volume', '/c:/d:O', '--volume=/e\\:f:/g', '-v', '/h:/i:rbind,nodev', '--', 'true'],
  ['--mounts-file', 'mounts.json', '--mount', 'type=tmpfs,dst=/t', '-v', '/a:/b', '--', 'true'],
  ['--mounts-file=/etc/m.json', 'true'],
  ['--plugin', './p', '--plugin=@acme/builder-plugin', '--plugin', 'x', '--', 'true'],
  ['-v', '/a:/b', '-e', 'A=1', '--mount', 'type=tmpfs,dst=/t', '-v', '/c:/d', '--', 'sh', '-c', 'true'],
  ['-t', '--', 'sh'],
  ['--image', 'oci:/srv/layout:base', '--', 'sh'],
  ['--image=docker-archive:/tmp/a.tar', '-e', 'A=1'],
  ['-i', '-t', '--rootfs', '/r', 'sh'],
  ['--terminal', '--interactive', '-e', 'A=1', '--', 'sh'],
  ['--hidden-dir', '/tmp', '--hidden-dir=/run', '--read-only-dir', '/etc', '--', 'true'],
  ['--overlay-dir', '/home', '--full-access-dir', '/srv/out', '-t', 'sh'],
  ['-u', 'alice', '--', 'id'],
  ['--user=1000:1000', '-t', 'sh'],
  ['-u1000:staff', '--image', 'oci:/l', 'id'],
  ['--network', 'none', '--add-host', 'a:1.2.3.4', '--add-host=b:::1', '--dns', '9.9.9.9', '--dns=::1', '--', 'true'],
  ['--network=host', 'true'],
];

const refused: string[][] = [
  ['--bogus', '--', 'x'],
  ['-x', '--', 'x'],
  ['--rootfs', '/a', '--rootfs', '/b', '--', 'x'],
  ['--log-level', 'loud', '--', 'x'],
  ['--hostname'],
  ['-e'],
  ['--mounts-file', 'a.json', '--mounts-file', 'b.json', '--', 'x'],
  ['--mount'],
  ['-v'],
  ['--plugin'],
  ['--mounts', 'type=tmpfs,dst=/t', '--', 'x'],
  ['--volumes', '/a:/b', '--', 'x'],
  ['-u', 'alice', '--user', 'bob', '--', 'id'],
  ['-u'],
  ['--network', 'bridge', '--', 'x'],
  ['--network', 'none', '--network', 'host', '--', 'x'],
  ['--dns'],
  ['--add-host'],
];

describe('parseRunArgs', () => {
  for (const args of accepted) {
    it(`agrees with oclif on ${JSON.stringify(args)}`, async () => {
      const fast = parseRunArgs(args);
      expect(fast).toBeDefined();
      const slow = await oclifParse(args);
      expect(fast?.argv).toEqual(slow.argv);
      const flags = slow.flags as Record<string, unknown>;
      expect(fast?.flags).toEqual(
        Object.fromEntries([...RUN_FLAGS, LOG_LEVEL_FLAG].map((spec) => [spec.name, flags[spec.name]])),
      );
    });
  }

  for (const args of refused) {
    it(`leaves ${JSON.stringify(args)} to oclif, which refuses it`, async () => {
      expect(parseRunArgs(args)).toBeUndefined();
      await expect(oclifParse(args)).rejects.toThrow();
    });
  }

  it('keeps the values of each multiple flag in command-line order', () => {
    expect(
      parseRunArgs([
        '-v',
        '/a:/a',
        '--mount',
        'type=tmpfs,dst=/m',
        '--volume',
        '/b:/b',
        '--mount=type=tmpfs,dst=/n',
        'true',
      ])?.flags,
    ).toMatchObject({
      mount: ['type=tmpfs,dst=/m', 'type=tmpfs,dst=/n'],
      volume: ['/a:/a', '/b:/b'],
    });
  });

  it('leaves a value given to a boolean flag to oclif', () => {
    expect(parseRunArgs(['--terminal=yes', '--', 'sh'])).toBeUndefined();
    expect(parseRunArgs(['-tx', '--', 'sh'])).toBeUndefined();
  });

  it('leaves a value that looks like a flag to oclif', () => {
    expect(parseRunArgs(['-v', '--', 'x'])).toBeUndefined();
    expect(parseRunArgs(['--mount', '-v', '/a:/b', 'x'])).toBeUndefined();
    expect(parseRunArgs(['--rootfs', '--', 'x'])).toBeUndefined();
    expect(parseRunArgs(['-w', '-e', 'x'])).toBeUndefined();
  });

  it('stops at the first argument that is not a flag, as docker does', () => {
    const parsed = parseRunArgs(['--rootfs', '/r', 'sh', '-c', 'echo $A']);
    expect(parsed?.argv).toEqual(['sh', '-c', 'echo $A']);
    expect(parsed?.flags).toMatchObject({ rootfs: '/r', workdir: undefined, terminal: false, 'log-level': 'warn' });
  });
});

describe('builder run --help', () => {
  const usage = `builder ${(Run.usage as string).replace('<%= command.id %>', 'run')}`;

  it("shows README.md's usage block", () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const block = /## `builder run`\n\n```\n([^`]*)```/.exec(readme)?.[1];
    expect(block?.replace(/\s+/g, ' ').trim()).toBe(usage);
  });

  it('names every flag of the table in its usage line (but -i, accepted for docker habits only)', () => {
    const named = usage.match(/(?<=[\s[])--?\w[\w-]*/g) ?? [];
    const unnamed = RUN_FLAGS.filter(
      (spec) => !named.includes(`--${spec.name}`) && !('char' in spec && named.includes(`-${spec.char}`)),
    );
    expect(unnamed.map((spec) => spec.name)).toEqual(['interactive']);
  });

  for (const { command } of Run.examples as { command: string }[]) {
    it(`has an example the fast path takes, as oclif does: ${command}`, async () => {
      const prefix = '<%= config.bin %> <%= command.id %> ';
      expect(command.startsWith(prefix)).toBe(true);
      // Shell words (single quotes only), up to the first `;`.
      const words = [...command.slice(prefix.length).matchAll(/'([^']*)'|[^\s';]+|;/g)].map((m) => m[1] ?? m[0]);
      const args = words.includes(';') ? words.slice(0, words.indexOf(';')) : words;
      const fast = parseRunArgs(args);
      expect(fast).toBeDefined();
      const slow = await oclifParse(args);
      expect(fast?.argv).toEqual(slow.argv);
      const flags = slow.flags as Record<string, unknown>;
      expect(fast?.flags).toEqual(
        Object.fromEntries([...RUN_FLAGS, LOG_LEVEL_FLAG].map((spec) => [spec.name, flags[spec.name]])),
      );
    });
  }
});
