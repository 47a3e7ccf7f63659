// A run's limits as the library takes them: sizes as docker and podman read them, podman's defaults
// and its rules for "no limit", and engine.plan() showing them. The expected numbers are what podman
// 4.3 (runc, cgroup v1) wrote into the cgroup files for the same flags on the test machine.
import {
  createEngine,
  DEFAULT_PIDS_LIMIT,
  parseCpus,
  parsePidsLimit,
  parseSize,
  planLimits,
  SpecError,
} from '@builder/core';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

/**
 * The devices cgroup's allow-list after `devices.deny a`: the devices.list of a podman 4.3 (runc
 * 1.1) container on the test machine, in runc's order (libcontainer/specconv's AllowedDevices).
 */
const DEVICES = [
  'c *:* m',
  'b *:* m',
  'c 1:3 rwm',
  'c 1:8 rwm',
  'c 1:7 rwm',
  'c 5:0 rwm',
  'c 1:5 rwm',
  'c 1:9 rwm',
  'c 136:* rwm',
  'c 5:2 rwm',
  'c 10:200 rwm',
];

describe('parseSize (podman -m)', () => {
  it.each([
    ['64m', 67108864],
    ['4m', 4194304],
    ['5.5m', 5767168],
    ['1g', 1073741824],
    ['1G', 1073741824],
    ['1gb', 1073741824],
    ['1gib', 1073741824],
    ['1GiB', 1073741824],
    ['1.5g', 1610612736],
    ['1t', 1099511627776],
    ['1024', 1024],
    ['100b', 100],
    ['1k', 1024],
    ['1kb', 1024],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['10x', '-1', '', 'm', '1.g', '1 m b', '0x10'])('refuses %j with a SpecError naming it', (text) => {
    const err = thrown(() => parseSize(text, 'memory'));
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).exitCode).toBe(125);
    expect((err as Error).message).toContain(`memory "${text}"`);
  });
});

describe('planLimits', () => {
  it('has pids.max 2048 by default, as podman, marked as the default', () => {
    expect(DEFAULT_PIDS_LIMIT).toBe(2048);
    expect(planLimits({})).toEqual({ pids: 2048, pidsDefault: true, devices: DEVICES });
  });

  it("restricts the devices by default (runc's allow-list), and not at all with privileged, as podman", () => {
    expect(planLimits({ pidsLimit: 0 })).toEqual({ devices: DEVICES });
    expect(planLimits({ privileged: true })).toEqual({ pids: 2048, pidsDefault: true });
    expect(planLimits({ privileged: true, pidsLimit: 0 })).toBeUndefined();
    expect(planLimits({ privileged: false, pidsLimit: 0 })).toEqual({ devices: DEVICES });
  });

  it('takes 0 and any negative pids limit as no limit (podman: 0, -1, -2 all give "max")', () => {
    for (const pidsLimit of [0, -1, -2]) expect(planLimits({ pidsLimit })).toEqual({ devices: DEVICES });
    expect(planLimits({ pidsLimit: 64 })).toEqual({ pids: 64, devices: DEVICES });
  });

  it('gives memory plus swap twice the memory, as podman (-m 64m: 67108864 and 134217728)', () => {
    expect(planLimits({ memory: '64m', pidsLimit: 0 })).toEqual({
      memory: 67108864,
      memorySwap: 134217728,
      devices: DEVICES,
    });
    expect(planLimits({ memory: 2 ** 30, pidsLimit: 0 })).toEqual({
      memory: 2 ** 30,
      memorySwap: 2 ** 31,
      devices: DEVICES,
    });
    expect(planLimits({ memory: 0, pidsLimit: 0 })).toEqual({ devices: DEVICES });
  });

  it.each([
    [0.5, 50000],
    [1.5, 150000],
    [0.01, 1000],
    [3, 300000],
    [10, 1000000],
  ])('--cpus %d is a quota of %d µs per 100000', (cpus, quota) => {
    expect(planLimits({ cpus, pidsLimit: 0 })).toEqual({ cpuQuota: quota, cpuPeriod: 100000, devices: DEVICES });
  });

  it('takes --cpus 0 as no limit', () => {
    expect(planLimits({ cpus: 0, pidsLimit: 0 })).toEqual({ devices: DEVICES });
  });

  it.each([
    [{ pidsLimit: 1.5 }, 'pids limit 1.5: not an integer'],
    [{ pidsLimit: 1 }, 'pids limit 1: too low to start the command'],
    [{ pidsLimit: 4194305 }, "pids limit 4194305: above the kernel's most, 4194304"],
    [{ memory: -1 }, 'memory -1: not a size'],
    [{ memory: 1.5 }, 'memory 1.5: not a size'],
    [{ memory: '5m' }, 'memory "5m": below the minimum of 6 MiB'],
    [{ memory: 'lots' }, 'memory "lots": not a size'],
    [{ cpus: 0.001 }, 'cpus 0.001: below the minimum of 0.01'],
    [{ cpus: -1 }, 'cpus -1: not a number of CPUs'],
    [{ cpus: Number.NaN }, 'cpus NaN: not a number of CPUs'],
  ])('refuses %j: %s', (spec, message) => {
    const err = thrown(() => planLimits(spec));
    expect(err).toBeInstanceOf(SpecError);
    expect((err as Error).message).toContain(message);
  });

  it('reads the CLI flags strictly', () => {
    expect(parsePidsLimit('64')).toBe(64);
    expect(parsePidsLimit('-1')).toBe(-1);
    expect(parseCpus('0.5')).toBe(0.5);
    expect(parseCpus('1e1')).toBe(10);
    for (const bad of ['', '1.5', '0x10', 'abc']) expect(thrown(() => parsePidsLimit(bad))).toBeInstanceOf(SpecError);
    for (const bad of ['', 'abc', 'Infinity']) expect(thrown(() => parseCpus(bad))).toBeInstanceOf(SpecError);
  });
});

describe('engine.plan()', () => {
  it('shows the limits (and no cgroup: the runner makes that)', async () => {
    const engine = await createEngine();
    const plan = engine.plan({ argv: ['true'], rootfs: '/', pidsLimit: 100, memory: '1g', cpus: 1.5 });
    expect(plan.limits).toEqual({
      pids: 100,
      memory: 1073741824,
      memorySwap: 2147483648,
      cpuQuota: 150000,
      cpuPeriod: 100000,
      devices: DEVICES,
    });
    expect(plan.cgroup).toBeUndefined();
    expect(engine.plan({ argv: ['true'], rootfs: '/', pidsLimit: -1, privileged: true }).limits).toBeUndefined();
    expect(thrown(() => engine.plan({ argv: ['true'], rootfs: '/', memory: '1q' }))).toBeInstanceOf(SpecError);
  });
});
