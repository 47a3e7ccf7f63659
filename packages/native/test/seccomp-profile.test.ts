// seccomp profiles in the docker/podman JSON format: the parser's errors (one line naming the file
// and what is wrong), and what a profile means for a run's capabilities and architecture (runc's and
// moby's rules for includes/excludes). The shipped default profile is checked against the syscalls
// the issue says must be refused, and compiled with the real libseccomp.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from '../src/capabilities.js';
import { exportSeccompBpf } from '../src/seccomp.js';
import { parseSeccompProfile, resolveSeccompProfile, SeccompProfileError } from '../src/seccomp-profile.js';

const DEFAULT = readFileSync(new URL('../seccomp/default.json', import.meta.url), 'utf8');
/** SCMP_ACT_ALLOW and SCMP_ACT_ERRNO(EPERM), from seccomp.h. */
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;

const errorOf = (text: string): string => {
  try {
    parseSeccompProfile(text, 'p.json');
  } catch (err) {
    expect(err).toBeInstanceOf(SeccompProfileError);
    return (err as Error).message;
  }
  throw new Error('no error');
};

describe('parseSeccompProfile: a bad profile is one error naming the file', () => {
  it.each([
    ['{', /^seccomp profile p.json: not JSON \(/],
    ['[]', /^seccomp profile p.json: not a JSON object$/],
    ['{"syscalls":[]}', /^seccomp profile p.json: defaultAction: no action$/],
    ['{"defaultAction":"SCMP_ACT_NOTIFY"}', /: defaultAction: SCMP_ACT_NOTIFY is not supported$/],
    ['{"defaultAction":"SCMP_ACT_ALOW"}', /: defaultAction: unknown action "SCMP_ACT_ALOW"$/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_MAYBE"}]}',
      /: syscalls\[0\] \(mkdir\): unknown action "SCMP_ACT_MAYBE"$/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":-1}', /: defaultErrnoRet must be a non-negative integer$/],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}', /: syscalls must be an array$/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}',
      /: syscalls\[0\]: names must be a non-empty array of strings$/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"]}]}', /: syscalls\[0\] \(mkdir\): no action$/],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":"x"}]}',
      /: syscalls\[0\]: errnoRet must be a non-negative integer$/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_SIMILAR"}]}]}',
      /: syscalls\[0\]\.args\[0\]: unknown op "SCMP_CMP_SIMILAR"$/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}',
      /: syscalls\[0\]\.args\[0\]: value must be a non-negative integer$/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_FLY"]}}]}',
      /: syscalls\[0\]\.includes\.caps: unknown capability "CAP_FLY"$/,
    ],
    [
      '{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"archMap":[]}',
      /: give architectures or archMap, not both$/,
    ],
    ['{"defaultAction":"SCMP_ACT_ALLOW","archMap":[{"subArchitectures":[]}]}', /: archMap\[0\]: no architecture$/],
  ])('%s', (text, message) => {
    expect(errorOf(text)).toMatch(message);
  });

  it('takes the shipped default profile, podman\'s and docker\'s older single "name"', () => {
    expect(() => parseSeccompProfile(DEFAULT, 'default')).not.toThrow();
    expect(
      parseSeccompProfile(
        '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO"}]}',
        'p',
      ).syscalls?.[0].names,
    ).toEqual(['mkdir']);
  });
});

describe('resolveSeccompProfile', () => {
  const profile = parseSeccompProfile(DEFAULT, 'default');
  const allowed = (caps: readonly string[], arch = 'x64'): Set<string> =>
    new Set(
      resolveSeccompProfile(profile, { capabilities: caps as never, arch, kernel: '6.18.0' })
        .rules.filter((r) => r.action === ALLOW && r.args.length === 0)
        .flatMap((r) => r.names),
    );

  it('the default profile refuses, with the default capabilities, what the issue lists', () => {
    const resolved = resolveSeccompProfile(profile, {
      capabilities: DEFAULT_CAPABILITIES,
      arch: 'x64',
      kernel: '6.18.0',
    });
    expect(resolved.defaultAction).toBe(EPERM);
    expect(resolved.arches).toEqual(['x86_64', 'x86', 'x32']);
    const ok = allowed(DEFAULT_CAPABILITIES);
    for (const name of [
      'mount',
      'umount2',
      'unshare',
      'setns',
      'keyctl',
      'add_key',
      'request_key',
      'bpf',
      'ptrace',
      'kexec_load',
      'kexec_file_load',
      'init_module',
      'finit_module',
      'open_by_handle_at',
      'swapon',
      'reboot',
      'clone',
      'clone3',
      'fsopen',
      'move_mount',
      'open_tree',
    ])
      expect(ok.has(name), name).toBe(false);
    for (const name of ['read', 'execve', 'mkdir', 'chroot', 'arch_prctl', 'setresuid', 'wait4'])
      expect(ok.has(name), name).toBe(true);
    // clone only without namespace flags: arg 0 masked with 0x7e020000 equal to 0.
    expect(resolved.rules.filter((r) => r.names.includes('clone'))).toEqual([
      { action: ALLOW, names: ['clone'], args: [{ index: 0, op: 7, value: 0x7e020000, valueTwo: 0 }] },
    ]);
    // clone3: ENOSYS (38), so that libc falls back to clone.
    expect(resolved.rules.find((r) => r.names.includes('clone3'))?.action).toBe(0x00050000 | 38);
  });

  it('a capability brings its syscalls (includes.caps) and lifts the conditions it excludes', () => {
    const admin = [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'];
    const ok = allowed(admin);
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3'])
      expect(ok.has(name), name).toBe(true);
    const resolved = resolveSeccompProfile(profile, { capabilities: admin as never, arch: 'x64', kernel: '6.18.0' });
    expect(resolved.rules.filter((r) => r.names.includes('clone3') && r.action !== ALLOW)).toEqual([]);
    expect(allowed([...DEFAULT_CAPABILITIES, 'CAP_SYS_MODULE']).has('finit_module')).toBe(true);
    expect(allowed([...DEFAULT_CAPABILITIES, 'CAP_SYS_PTRACE']).has('ptrace')).toBe(true);
    // chroot needs CAP_SYS_CHROOT, a default one.
    expect(allowed([]).has('chroot')).toBe(false);
  });

  it('arches: the native one and its sub-architectures; arch-only syscalls', () => {
    const arm = resolveSeccompProfile(profile, { capabilities: [], arch: 'arm64', kernel: '6.18.0' });
    expect(arm.arches).toEqual(['aarch64', 'arm']);
    expect(allowed([], 'arm64').has('arch_prctl')).toBe(false);
    expect(allowed([], 'arm64').has('cacheflush')).toBe(true);
    expect(() => resolveSeccompProfile(profile, { capabilities: [], arch: 'mips', kernel: '6.18.0' })).toThrow(
      'seccomp: architecture mips is not supported',
    );
  });

  it('minKernel, errnoRet, and rules with the default action left out', () => {
    const p = parseSeccompProfile(
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ERRNO',
        syscalls: [
          { names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.19' } },
          { names: ['b'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '6.18' } },
          { names: ['c'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
          { names: ['d'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
        ],
      }),
      'p',
    );
    const r = resolveSeccompProfile(p, { capabilities: [], arch: 'x64', kernel: '6.18.0-1-amd64' });
    expect(r.rules.map((x) => [x.names[0], x.action])).toEqual([
      ['b', ALLOW],
      ['d', 0x00050000 | 13],
    ]);
  });
});

describe('exportSeccompBpf (libseccomp)', () => {
  it('compiles the default profile to classic BPF, skipping names this libseccomp does not know', () => {
    const dir = mkdtempSync(join(tmpdir(), 'builder-seccomp-'));
    try {
      const profile = parseSeccompProfile(DEFAULT, 'default');
      const resolved = resolveSeccompProfile(profile, {
        capabilities: DEFAULT_CAPABILITIES,
        arch: 'x64',
        kernel: '6.18.0',
      });
      resolved.rules.push({ action: ALLOW, names: ['no_such_syscall'], args: [] });
      const fd = openSync(join(dir, 'f.bpf'), 'w');
      try {
        exportSeccompBpf(resolved, fd);
      } finally {
        closeSync(fd);
      }
      const size = statSync(join(dir, 'f.bpf')).size;
      expect(size).toBeGreaterThan(0);
      expect(size % 8).toBe(0); // struct sock_filter: 8 bytes each
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
