// The order of user mounts, and the mount-kinds table. Uses the built @builder/core.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userMounts } from '../src/run-action.js';
import { table } from '../src/table.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'builder-cli-mounts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flags = { workdir: '/', 'log-level': 'warn' };

describe('userMounts', () => {
  it('is empty without mount flags', () => {
    expect(userMounts(core, flags)).toEqual([]);
  });

  it('orders the mounts-file entries, then --mount, then -v, each in command-line order', () => {
    const file = join(dir, 'mounts.json');
    writeFileSync(
      file,
      JSON.stringify([
        { destination: '/f1', type: 'tmpfs' },
        { destination: '/f2', source: '/src', options: ['rbind'] },
      ]),
    );
    const mounts = userMounts(core, {
      ...flags,
      'mounts-file': file,
      mount: ['type=tmpfs,dst=/m1', 'type=tmpfs,dst=/m2,ro'],
      volume: ['/a:/v1', '/b:/v2:O'],
    });
    expect(mounts).toEqual([
      { type: 'tmpfs', destination: '/f1' },
      { type: 'bind', source: '/src', destination: '/f2', options: ['rbind'] },
      { type: 'tmpfs', destination: '/m1' },
      { type: 'tmpfs', destination: '/m2', options: ['ro'] },
      { type: 'bind', source: '/a', destination: '/v1' },
      { type: 'overlay', source: '/b', destination: '/v2', options: ['tmpfs-upper'] },
    ]);
  });

  it('names a mounts file it cannot read', () => {
    const file = join(dir, 'missing.json');
    expect(() => userMounts(core, { ...flags, 'mounts-file': file })).toThrow(
      new core.SpecError(`mounts file "${file}": no such file`),
    );
    expect(() => userMounts(core, { ...flags, 'mounts-file': dir })).toThrow(
      `mounts file "${dir}": cannot read it (EISDIR)`,
    );
  });
});

describe('table', () => {
  it('pads every column but the last', () => {
    expect(
      table(
        ['TYPE', 'ORIGIN', 'DESCRIPTION'],
        [
          ['tmpfs', '@builder/plugins', 'memory'],
          ['x', 'p', 'y'],
        ],
      ),
    ).toBe(
      ['TYPE   ORIGIN            DESCRIPTION', 'tmpfs  @builder/plugins  memory', 'x      p                 y'].join(
        '\n',
      ),
    );
  });
});
