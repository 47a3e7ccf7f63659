// The planner's confinement of paths: the masked and read-only paths after every mount, none with
// `privileged`, and --read-only's root and tmpfs mounts. The lists are the OCI runtime spec's and
// podman's defaults (runc's libcontainer/specconv and podman's pkg/specgen), written down here, not
// taken from the code under test. test/e2e/masked-paths.test.ts runs them against the kernel and podman.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine, type MountOp, SpecError } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

const MASKED = [
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/fs/selinux',
  '/sys/dev/block',
];
const READONLY = ['/proc/asound', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/** runc makes the read-only paths first, then the masks, after every mount. */
const CONFINED: MountOp[] = [
  ...READONLY.map((target): MountOp => ({ op: 'readonly', target })),
  ...MASKED.map((target): MountOp => ({ op: 'mask', target })),
];
const isConfined = (op: MountOp) => op.op === 'mask' || op.op === 'readonly';

let engine: Engine;
let dir: string;
let rootfs: string;

beforeAll(async () => {
  engine = await createEngine();
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'builder-confined-')));
  rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('masked and read-only paths', () => {
  it('come after every mount, the user mounts included, read-only paths first', () => {
    const ops = engine.plan({
      argv: ['true'],
      rootfs,
      mounts: [
        { type: 'tmpfs', destination: '/scratch' },
        { type: 'bind', source: dir, destination: '/proc/driver' },
      ],
      dirModes: [{ mode: 'read-only', path: dir }],
    }).ops;
    const first = ops.findIndex(isConfined);
    expect(ops.slice(first)).toEqual(CONFINED);
    expect(ops.slice(0, first).some(isConfined)).toBe(false);
    expect(ops.slice(0, first).map((op) => op.target)).toContain('/proc/driver');
  });

  it('are the same on the host-root overlay and with --read-only', () => {
    expect(engine.plan({ argv: ['true'] }).ops.filter(isConfined)).toEqual(CONFINED);
    expect(engine.plan({ argv: ['true'], rootfs, readOnly: true }).ops.slice(-CONFINED.length)).toEqual(CONFINED);
  });

  it('are not planned with privileged', () => {
    // One hostname for both: the generated /etc/hostname and /etc/hosts name it.
    const ops = engine.plan({ argv: ['true'], rootfs, hostname: 'box', privileged: true }).ops;
    expect(ops.filter(isConfined)).toEqual([]);
    expect(ops).toEqual(engine.plan({ argv: ['true'], rootfs, hostname: 'box' }).ops.filter((op) => !isConfined(op)));
  });
});

describe('--read-only', () => {
  /** The mounts planned on a destination, as [fstype, data] pairs. */
  const mountsOn = (ops: MountOp[], target: string) =>
    ops
      .filter((op) => op.target === target && op.op === 'mount')
      .map((op) => op.op === 'mount' && [op.fstype, op.data]);

  it('marks the root read-only and plans a read-write tmpfs on /tmp, /var/tmp, /run after the defaults', () => {
    const plan = engine.plan({ argv: ['true'], rootfs, readOnly: true });
    expect(plan.rootfs).toEqual({ type: 'dir', path: rootfs, readOnly: true });
    const targets = plan.ops.filter((op) => op.op === 'mount').map((op) => op.target);
    // After the default mounts, before the user's.
    expect(targets.slice(-3)).toEqual(['/tmp', '/var/tmp', '/run']);
    expect(targets.indexOf('/sys')).toBe(targets.length - 4);
    for (const [target, mode] of [
      ['/tmp', 'mode=1777'],
      ['/var/tmp', 'mode=1777'],
      ['/run', 'mode=755'],
    ]) {
      const op = plan.ops.find((o) => o.target === target);
      // podman's: rw, nosuid, nodev, no size limit.
      expect(op).toEqual({
        op: 'mount',
        fstype: 'tmpfs',
        source: 'tmpfs',
        target,
        flags: ['rw', 'nosuid', 'nodev'],
        data: [mode],
      });
    }
  });

  it('on the host-root overlay too; without it the root is not marked', () => {
    expect(engine.plan({ argv: ['true'], readOnly: true }).rootfs).toEqual({
      type: 'overlay',
      lowers: ['/'],
      readOnly: true,
    });
    const plain = engine.plan({ argv: ['true'], rootfs });
    expect(plain.rootfs).toEqual({ type: 'dir', path: rootfs });
    expect(mountsOn(plain.ops, '/tmp')).toEqual([]);
  });

  it('plans no tmpfs with readOnlyTmpfs false, and none without readOnly', () => {
    const ops = engine.plan({ argv: ['true'], rootfs, readOnly: true, readOnlyTmpfs: false }).ops;
    for (const target of ['/tmp', '/var/tmp', '/run']) expect(mountsOn(ops, target)).toEqual([]);
    const notReadOnly = engine.plan({ argv: ['true'], rootfs, readOnlyTmpfs: true }).ops;
    for (const target of ['/tmp', '/var/tmp', '/run']) expect(mountsOn(notReadOnly, target)).toEqual([]);
  });

  it('lets a user mount on /tmp replace its tmpfs, in its place', () => {
    const ops = engine.plan({
      argv: ['true'],
      rootfs,
      readOnly: true,
      mounts: [{ type: 'tmpfs', destination: '/tmp/', options: ['size=1m'] }],
    }).ops;
    expect(mountsOn(ops, '/tmp')).toEqual([]);
    const targets = ops.filter((op) => op.op === 'mount').map((op) => op.target);
    expect(targets.slice(-3)).toEqual(['/tmp/', '/var/tmp', '/run']);
    expect(mountsOn(ops, '/tmp/')).toEqual([['tmpfs', ['size=1m']]]);
  });

  it('refuses a readOnly or readOnlyTmpfs that is not a boolean', () => {
    const e = thrown(() => engine.plan({ argv: ['true'], rootfs, readOnlyTmpfs: 'false' as unknown as boolean }));
    expect(e).toBeInstanceOf(SpecError);
    expect((e as Error).message).toBe('readOnlyTmpfs must be true or false');
    // privileged turns off several parts at once: a non-boolean must not turn off only some of them.
    for (const key of ['privileged', 'noNewPrivileges', 'terminal'] as const) {
      const bad = thrown(() => engine.plan({ argv: ['true'], rootfs, [key]: 'false' as unknown as boolean }));
      expect(bad).toBeInstanceOf(SpecError);
      expect((bad as Error).message).toBe(`${key} must be true or false`);
    }
    expect(() => engine.plan({ argv: ['true'], rootfs, readOnly: 1 as unknown as boolean })).toThrow(
      'readOnly must be true or false',
    );
  });
});
