// The start-up fast path parses `builder run` arguments without oclif. It must accept exactly what
// oclif accepts, with the same result, and leave everything else to oclif.
import { Parser } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import Run from '../src/commands/run.js';
import { parseRunArgs } from '../src/run-flags.js';

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
];

const refused: string[][] = [
  ['--bogus', '--', 'x'],
  ['-x', '--', 'x'],
  ['--rootfs', '/a', '--rootfs', '/b', '--', 'x'],
  ['--log-level', 'loud', '--', 'x'],
  ['--hostname'],
  ['-e'],
];

describe('parseRunArgs', () => {
  for (const args of accepted) {
    it(`agrees with oclif on ${JSON.stringify(args)}`, async () => {
      const fast = parseRunArgs(args);
      expect(fast).toBeDefined();
      const slow = await oclifParse(args);
      expect(fast?.argv).toEqual(slow.argv);
      const flags = slow.flags as Record<string, unknown>;
      expect(fast?.flags).toEqual({
        rootfs: flags.rootfs,
        env: flags.env,
        workdir: flags.workdir,
        hostname: flags.hostname,
        'log-level': flags['log-level'],
      });
    });
  }

  for (const args of refused) {
    it(`leaves ${JSON.stringify(args)} to oclif, which refuses it`, async () => {
      expect(parseRunArgs(args)).toBeUndefined();
      await expect(oclifParse(args)).rejects.toThrow();
    });
  }

  it('leaves a value that looks like a flag to oclif', () => {
    expect(parseRunArgs(['--rootfs', '--', 'x'])).toBeUndefined();
    expect(parseRunArgs(['-w', '-e', 'x'])).toBeUndefined();
  });

  it('stops at the first argument that is not a flag, as docker does', () => {
    expect(parseRunArgs(['--rootfs', '/r', 'sh', '-c', 'echo $A'])).toEqual({
      flags: { rootfs: '/r', env: undefined, workdir: '/', hostname: undefined, 'log-level': 'warn' },
      argv: ['sh', '-c', 'echo $A'],
    });
  });
});
