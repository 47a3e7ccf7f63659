// The mount kind registry, the one place that checks a mount's options, rewrites their aliases and
// prefixes a kind's problems with the mount they are about. Through the built package.
import { type MountKind, MountKindRegistry, type MountOp, type MountSpec, SpecError } from '@builder/core';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

const ctx = { runId: '0123456789ab', user: { uid: 0, gid: 0 } };

/** A kind whose plan() records the mount it was given and throws what `fail` says. */
class ProbeMountKind implements MountKind {
  readonly type = 'probe';
  readonly description = 'a kind for tests';
  readonly options = [
    { name: 'size', value: 'size' as const, description: 'a size', aliases: ['probe-size'] },
    { name: 'ro', value: 'none' as const, description: 'read-only' },
  ];
  seen: MountSpec[] = [];
  constructor(private readonly fail?: () => never) {}
  plan(mount: MountSpec): MountOp[] {
    this.seen.push(mount);
    this.fail?.();
    return [{ op: 'mkdir', target: mount.destination, mode: 0o755 }];
  }
}

describe('MountKindRegistry.plan', () => {
  it('hands the kind its options checked, with aliases rewritten to names', () => {
    const kind = new ProbeMountKind();
    const registry = new MountKindRegistry([kind]);
    expect(registry.plan({ type: 'probe', destination: '/p', options: ['probe-size=1m', 'ro'] }, ctx)).toEqual([
      { op: 'mkdir', target: '/p', mode: 0o755 },
    ]);
    expect(kind.seen).toEqual([{ type: 'probe', destination: '/p', options: ['size=1m', 'ro'] }]);
  });

  it('names the mount of a bad option, and never calls the kind', () => {
    const kind = new ProbeMountKind();
    const registry = new MountKindRegistry([kind]);
    const err = thrown(() => registry.plan({ type: 'probe', destination: '/p', options: ['sise=1m'] }, ctx));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('mount on /p (type probe): unknown option "sise" (did you mean "size"?)');
    expect(kind.seen).toEqual([]);
  });

  it("prefixes a kind's problem with the mount it is about", () => {
    const registry = new MountKindRegistry([
      new ProbeMountKind(() => {
        throw new SpecError('a source is required');
      }),
    ]);
    const err = thrown(() => registry.plan({ type: 'probe', destination: '/p' }, ctx));
    expect(err).toBeInstanceOf(SpecError);
    expect(err.message).toBe('mount on /p (type probe): a source is required');
    expect((err as SpecError).exitCode).toBe(125);
  });

  it('does not double the prefix of a kind that writes it itself', () => {
    const original = new SpecError('mount on /p (type probe): a source is required');
    const registry = new MountKindRegistry([
      new ProbeMountKind(() => {
        throw original;
      }),
    ]);
    expect(thrown(() => registry.plan({ type: 'probe', destination: '/p' }, ctx))).toBe(original);
  });

  it('passes other errors as they are', () => {
    const bug = new TypeError('x is undefined');
    const registry = new MountKindRegistry([
      new ProbeMountKind(() => {
        throw bug;
      }),
    ]);
    expect(thrown(() => registry.plan({ type: 'probe', destination: '/p' }, ctx))).toBe(bug);
  });
});
