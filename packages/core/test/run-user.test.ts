// RunSpec.user on the host side: validated, carried to the stage (which looks it up in the
// container), HOME left to the stage, the image's User applied, and the ids a mount plugin sees.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyImageConfig,
  buildEnv,
  createEngine,
  DEFAULT_PATH,
  type Engine,
  ImageError,
  SpecError,
} from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let engine: Engine;
let rootfs: string;

beforeAll(async () => {
  engine = await createEngine();
  rootfs = realpathSync(mkdtempSync(join(tmpdir(), 'builder-run-user-')));
});

afterAll(() => rmSync(rootfs, { recursive: true, force: true }));

function error(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('engine.plan with a user', () => {
  it('passes the user on, and leaves HOME to the stage (from passwd) unless env sets it', () => {
    const plan = engine.plan({ argv: ['id'], rootfs, hostname: 'h', user: 'alice' });
    expect(plan.process).toEqual({
      argv: ['id'],
      env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h'],
      cwd: '/',
      user: 'alice',
    });
    const withHome = engine.plan({ argv: ['id'], rootfs, hostname: 'h', user: '1000:1000', env: ['HOME=/x'] });
    expect(withHome.process.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'HOME=/x']);
    expect(withHome.process.user).toBe('1000:1000');
  });

  it('without a user: no user in the plan, HOME=/root as before', () => {
    const plan = engine.plan({ argv: ['id'], rootfs, hostname: 'h' });
    expect(plan.process.user).toBeUndefined();
    expect(plan.process.env).toContain('HOME=/root');
  });

  it('refuses a malformed user with one SpecError line (exit 125)', () => {
    for (const [user, message] of [
      ['', 'invalid user "": the user is empty (expected USER[:GROUP])'],
      ['a:b:c', 'invalid user "a:b:c": expected USER[:GROUP]'],
      ['1:4294967296', 'invalid user "1:4294967296": group id 4294967296 is out of range (0-2147483647)'],
    ]) {
      const err = error(() => engine.plan({ argv: ['id'], rootfs, user }));
      expect(err).toBeInstanceOf(SpecError);
      expect(err.message).toBe(message);
      expect((err as SpecError).exitCode).toBe(125);
    }
  });

  it("gives a mount plugin the user's ids when they are numbers (bind's U chowns to them)", () => {
    const plan = engine.plan({
      argv: ['id'],
      rootfs,
      user: '1000:100',
      mounts: [{ type: 'bind', source: rootfs, destination: '/data', options: ['U'] }],
    });
    expect(plan.ops.find((op) => op.op === 'bind' && op.target === '/data')).toMatchObject({
      chown: { uid: 1000, gid: 100 },
    });
  });

  it('refuses U for a user whose ids are known only once the run looks them up', () => {
    for (const user of ['alice', '1000', 'alice:100', '1000:staff']) {
      const err = error(() =>
        engine.plan({
          argv: ['id'],
          rootfs,
          user,
          mounts: [{ type: 'bind', source: rootfs, destination: '/data', options: ['U'] }],
        }),
      );
      expect(err).toBeInstanceOf(SpecError);
      expect(err.message).toBe(
        `user "${user}" is looked up in the container's /etc/passwd when the run starts, too late for a mount that needs its ids (bind's U option): give the user as UID:GID`,
      );
    }
    // Without U, a named user plans fine.
    expect(
      engine.plan({
        argv: ['id'],
        rootfs,
        user: 'alice',
        mounts: [{ type: 'bind', source: rootfs, destination: '/d' }],
      }).process.user,
    ).toBe('alice');
  });
});

describe('buildEnv without a default HOME', () => {
  it('has no HOME unless an entry sets one', () => {
    expect(buildEnv([], 'h', null)).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h']);
    expect(buildEnv(['HOME=/h', 'A=1'], 'h', null)).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h', 'HOME=/h', 'A=1']);
  });
});

describe("applyImageConfig: the image's User", () => {
  it('applies User when the spec has none; the spec user wins', () => {
    expect(applyImageConfig({ argv: ['id'] }, { User: 'alice' }).user).toBe('alice');
    expect(applyImageConfig({ argv: ['id'] }, { User: '1000:1000' }).user).toBe('1000:1000');
    expect(applyImageConfig({ argv: ['id'], user: 'bob' }, { User: 'alice' }).user).toBe('bob');
    expect(applyImageConfig({ argv: ['id'], user: '0' }, {}).user).toBe('0');
  });

  it('runs an image whose User means root exactly as one without a User', () => {
    for (const User of ['', 'root', '0', '0:0', 'root:root', 'root:0', '0:root']) {
      expect(applyImageConfig({ argv: ['id'] }, { User })).toEqual({ argv: ['id'], cwd: '/' });
    }
  });

  it('refuses a malformed User with an ImageError naming the field', () => {
    const err = error(() => applyImageConfig({ argv: ['id'] }, { User: 'a:b:c' }));
    expect(err).toBeInstanceOf(ImageError);
    expect(err.message).toBe('image config User: invalid user "a:b:c": expected USER[:GROUP]');
    // A user given in the spec replaces it: nothing to refuse.
    expect(applyImageConfig({ argv: ['id'], user: 'bob' }, { User: 'a:b:c' }).user).toBe('bob');
  });
});
