import { afterEach, describe, expect, it } from 'vitest';
import { SpecError } from '../src/errors.js';
import { buildEnv } from '../src/plan/planner.js';
import { DEFAULT_PATH } from '../src/request/run-spec.js';

const VAR = 'BUILDER_TEST_ENV_VAR';

afterEach(() => {
  delete process.env[VAR];
});

describe('buildEnv', () => {
  it('has PATH, HOSTNAME and HOME by default', () => {
    expect(buildEnv([], 'box')).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=box',
      'HOME=/root',
    ]);
    expect(DEFAULT_PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('overrides defaults in place and appends new variables, the last one winning', () => {
    expect(buildEnv(['HOME=/home/u', 'A=1', 'B=x=y', 'A=2', 'E='], 'h')).toEqual([
      `PATH=${DEFAULT_PATH}`,
      'HOSTNAME=h',
      'HOME=/home/u',
      'A=2',
      'B=x=y',
      'E=',
    ]);
  });

  it('copies a bare KEY from the environment when set there', () => {
    process.env[VAR] = 'from host';
    expect(buildEnv([VAR], 'h')).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'HOME=/root', `${VAR}=from host`]);
  });

  it('drops a bare KEY that is not set', () => {
    delete process.env[VAR];
    expect(buildEnv([VAR], 'h')).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'HOME=/root']);
  });

  it('rejects an empty key', () => {
    expect(() => buildEnv(['=value'], 'h')).toThrow(SpecError);
    expect(() => buildEnv(['=value'], 'h')).toThrow('invalid environment variable "=value"');
    expect(() => buildEnv([''], 'h')).toThrow('invalid environment variable ""');
    expect(() => buildEnv(['=x'], 'h')).toThrow(
      expect.objectContaining({ name: 'SpecError', exitCode: 125, message: 'invalid environment variable "=x"' }),
    );
  });
});
