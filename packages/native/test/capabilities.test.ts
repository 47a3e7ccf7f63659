// Capability names as --cap-add/--cap-drop take them, and the set podman's rules make of them. The
// numbers are linux/capability.h's, written down here (not taken from the table under test).
import { describe, expect, it } from 'vitest';
import {
  CAPABILITIES,
  capabilityMask,
  DEFAULT_CAPABILITIES,
  mergeCapabilities,
  parseCapabilityName,
} from '../src/capabilities.js';

describe('the capability table', () => {
  it("has linux/capability.h's numbers", () => {
    const header: Record<string, number> = {
      CAP_CHOWN: 0,
      CAP_DAC_READ_SEARCH: 2,
      CAP_SETPCAP: 8,
      CAP_NET_RAW: 13,
      CAP_SYS_MODULE: 16,
      CAP_SYS_CHROOT: 18,
      CAP_SYS_ADMIN: 21,
      CAP_MKNOD: 27,
      CAP_SETFCAP: 31,
      CAP_BPF: 39,
      CAP_CHECKPOINT_RESTORE: 40,
    };
    for (const [name, n] of Object.entries(header)) expect(CAPABILITIES.indexOf(name as never), name).toBe(n);
    expect(CAPABILITIES).toHaveLength(41);
  });

  it("the default set is podman's, 0x800405fb as /proc/PID/status shows it", () => {
    expect(capabilityMask(DEFAULT_CAPABILITIES)).toBe('00000000800405fb');
    expect(capabilityMask(CAPABILITIES)).toBe('000001ffffffffff');
  });
});

describe('parseCapabilityName', () => {
  it('takes names with or without CAP_, in any case, and all', () => {
    expect(parseCapabilityName('sys_admin')).toBe('CAP_SYS_ADMIN');
    expect(parseCapabilityName('CAP_SYS_ADMIN')).toBe('CAP_SYS_ADMIN');
    expect(parseCapabilityName('Cap_Net_Raw')).toBe('CAP_NET_RAW');
    expect(parseCapabilityName('all')).toBe('ALL');
    expect(parseCapabilityName('ALL')).toBe('ALL');
  });

  it('an unknown name is an error naming it', () => {
    expect(() => parseCapabilityName('sys_admn')).toThrow(/^unknown capability "sys_admn" \(known: CHOWN, /);
    expect(() => parseCapabilityName('')).toThrow(/unknown capability ""/);
    expect(() => parseCapabilityName('CAP_')).toThrow(/unknown capability "CAP_"/);
  });
});

describe('mergeCapabilities (podman: MergeCapabilities)', () => {
  const base = DEFAULT_CAPABILITIES;
  it('adds and drops, sorted by number', () => {
    expect(capabilityMask(mergeCapabilities(base, ['sys_admin'], ['chown']))).toBe('00000000802405fa');
    expect(mergeCapabilities(base, [], [])).toEqual(
      [...base].sort((a, b) => CAPABILITIES.indexOf(a) - CAPABILITIES.indexOf(b)),
    );
  });
  it('drop all keeps only the adds; add all is every capability minus the drops', () => {
    expect(mergeCapabilities(base, ['net_raw', 'CAP_KILL'], ['all'])).toEqual(['CAP_KILL', 'CAP_NET_RAW']);
    expect(mergeCapabilities(base, [], ['ALL'])).toEqual([]);
    expect(capabilityMask(mergeCapabilities(base, ['all'], ['sys_admin']))).toBe('000001ffffdfffff');
  });
  it('refuses a capability both added and dropped, and all in both', () => {
    expect(() => mergeCapabilities(base, ['kill'], ['CAP_KILL'])).toThrow(
      'capability CAP_KILL cannot be both added and dropped',
    );
    expect(() => mergeCapabilities(base, ['all'], ['all'])).toThrow('cannot both add and drop all capabilities');
    expect(() => mergeCapabilities(base, ['nope'], [])).toThrow('unknown capability "nope"');
  });
});
