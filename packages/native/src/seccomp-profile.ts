// seccomp profiles in the docker/podman JSON format (the format of docker's default.json and
// containers/common's seccomp.json), and what one of them means for one run: its rules for the
// run's capabilities and the machine's architecture. Pure: the host resolves a profile, seccomp.ts
// compiles it with libseccomp.
import { CAPABILITIES, type CapabilityName } from './capabilities.js';

/** libseccomp's action values (seccomp.h). */
const ACTIONS: Record<string, number> = {
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
};
/** libseccomp's comparison operators (enum scmp_compare). */
const OPS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};
const EPERM = 1;

/**
 * Node's process.arch → the profile's SCMP_ARCH_ name and the Go name its `arches` conditions use.
 * Little-endian machines only (seccomp.ts writes libseccomp's structs little-endian).
 */
const ARCHES: Record<string, { scmp: string; go: string }> = {
  x64: { scmp: 'SCMP_ARCH_X86_64', go: 'amd64' },
  ia32: { scmp: 'SCMP_ARCH_X86', go: 'x86' },
  arm64: { scmp: 'SCMP_ARCH_AARCH64', go: 'arm64' },
  arm: { scmp: 'SCMP_ARCH_ARM', go: 'arm' },
  ppc64: { scmp: 'SCMP_ARCH_PPC64LE', go: 'ppc64le' },
  riscv64: { scmp: 'SCMP_ARCH_RISCV64', go: 'riscv64' },
};

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

interface Condition {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: Condition;
  excludes?: Condition;
}

export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  syscalls?: SeccompSyscall[];
}

/** One rule as libseccomp takes it: the action (with its errno), the syscall names, the comparisons. */
export interface ResolvedRule {
  action: number;
  names: string[];
  args: { index: number; op: number; value: number; valueTwo: number }[];
}

/** A profile for one run: libseccomp's arch names (`x86_64` …), the default action, the rules. */
export interface ResolvedProfile {
  defaultAction: number;
  arches: string[];
  rules: ResolvedRule[];
}

/** A profile that cannot be used; the message names the file and what is wrong. */
export class SeccompProfileError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Parse and check a profile's text. `source` names it in errors (a file name). Every error is one
 * SeccompProfileError: `seccomp profile FILE: <what is wrong>`.
 */
export function parseSeccompProfile(text: string, source: string): SeccompProfile {
  const fail = (what: string): never => {
    throw new SeccompProfileError(`seccomp profile ${source}: ${what}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) return fail('not a JSON object');
  const checkAction = (action: unknown, where: string): string => {
    if (typeof action !== 'string') return fail(`${where}: no action`);
    if (action === 'SCMP_ACT_NOTIFY') return fail(`${where}: SCMP_ACT_NOTIFY is not supported`);
    if (!(action in ACTIONS)) return fail(`${where}: unknown action "${action}"`);
    return action;
  };
  checkAction(json.defaultAction, 'defaultAction');
  if (json.defaultErrnoRet !== undefined && !isUint(json.defaultErrnoRet))
    fail('defaultErrnoRet must be a non-negative integer');
  if (json.architectures !== undefined && json.architectures !== null) {
    if (!isStringArray(json.architectures)) fail('architectures must be an array of SCMP_ARCH_ names');
    if (json.archMap !== undefined && json.archMap !== null) fail('give architectures or archMap, not both');
  }
  if (json.archMap !== undefined && json.archMap !== null) {
    if (!Array.isArray(json.archMap)) fail('archMap must be an array');
    for (const [i, entry] of (json.archMap as unknown[]).entries()) {
      if (!isObject(entry) || typeof entry.architecture !== 'string') fail(`archMap[${i}]: no architecture`);
      const sub = (entry as Record<string, unknown>).subArchitectures;
      if (sub !== undefined && sub !== null && !isStringArray(sub))
        fail(`archMap[${i}].subArchitectures must be an array of SCMP_ARCH_ names`);
    }
  }
  if (json.syscalls !== undefined && json.syscalls !== null && !Array.isArray(json.syscalls))
    fail('syscalls must be an array');
  const syscalls = ((json.syscalls as unknown[] | null | undefined) ?? []).map((entry, i): SeccompSyscall => {
    const where = `syscalls[${i}]`;
    if (!isObject(entry)) return fail(`${where} is not an object`);
    // docker's older profiles name one syscall in `name`.
    const names = entry.names ?? (typeof entry.name === 'string' ? [entry.name] : undefined);
    if (!isStringArray(names) || names.length === 0)
      return fail(`${where}: names must be a non-empty array of strings`);
    const action = checkAction(entry.action, `${where} (${names[0]})`);
    if (entry.errnoRet !== undefined && entry.errnoRet !== null && !isUint(entry.errnoRet))
      fail(`${where}: errnoRet must be a non-negative integer`);
    const args = entry.args === undefined || entry.args === null ? [] : entry.args;
    if (!Array.isArray(args)) return fail(`${where}: args must be an array`);
    for (const [j, arg] of args.entries()) {
      const at = `${where}.args[${j}]`;
      if (!isObject(arg)) return fail(`${at} is not an object`);
      if (!isUint(arg.index) || arg.index > 5) fail(`${at}: index must be 0 to 5`);
      if (!isUint(arg.value)) fail(`${at}: value must be a non-negative integer`);
      if (arg.valueTwo !== undefined && !isUint(arg.valueTwo)) fail(`${at}: valueTwo must be a non-negative integer`);
      if (typeof arg.op !== 'string' || !(arg.op in OPS)) fail(`${at}: unknown op "${String(arg.op)}"`);
    }
    for (const key of ['includes', 'excludes'] as const) {
      const cond = entry[key];
      if (cond === undefined || cond === null) continue;
      if (!isObject(cond)) return fail(`${where}.${key} is not an object`);
      if (cond.caps !== undefined && cond.caps !== null) {
        if (!isStringArray(cond.caps)) fail(`${where}.${key}.caps must be an array of capability names`);
        for (const cap of cond.caps as string[])
          if (!(CAPABILITIES as readonly string[]).includes(cap))
            fail(`${where}.${key}.caps: unknown capability "${cap}"`);
      }
      if (cond.arches !== undefined && cond.arches !== null && !isStringArray(cond.arches))
        fail(`${where}.${key}.arches must be an array of strings`);
      if (cond.minKernel !== undefined && cond.minKernel !== null && !/^\d+\.\d+$/.test(String(cond.minKernel)))
        fail(`${where}.${key}.minKernel must be MAJOR.MINOR`);
    }
    return {
      names,
      action,
      ...(entry.errnoRet === undefined || entry.errnoRet === null ? {} : { errnoRet: entry.errnoRet as number }),
      args: args as SeccompArg[],
      ...(isObject(entry.includes) ? { includes: entry.includes as Condition } : {}),
      ...(isObject(entry.excludes) ? { excludes: entry.excludes as Condition } : {}),
    };
  });
  return {
    defaultAction: json.defaultAction as string,
    ...(json.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: json.defaultErrnoRet as number }),
    ...(isStringArray(json.architectures) ? { architectures: json.architectures } : {}),
    ...(Array.isArray(json.archMap) ? { archMap: json.archMap as SeccompProfile['archMap'] } : {}),
    syscalls,
  };
}

const actionValue = (action: string, errnoRet: number | undefined): number => {
  const base = ACTIONS[action];
  if (action === 'SCMP_ACT_ERRNO') return (base | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
  if (action === 'SCMP_ACT_TRACE') return (base | ((errnoRet ?? 0) & 0xffff)) >>> 0;
  return base;
};

const kernelAtLeast = (release: string, min: string): boolean => {
  const [a = 0, b = 0] = release.split(/[.-]/).map(Number);
  const [x = 0, y = 0] = min.split('.').map(Number);
  return a > x || (a === x && b >= y);
};

export interface ResolveOptions {
  /** The capabilities the command keeps (for the rules' includes/excludes `caps`). */
  capabilities: readonly CapabilityName[];
  /** Node's process.arch. */
  arch: string;
  /** The kernel's release (os.release()), for `minKernel`. */
  kernel: string;
}

/**
 * What `profile` means for one run, as runc and moby read it: the architectures to filter (the
 * native one and its sub-architectures from archMap, or `architectures`), and each rule whose
 * includes hold and whose excludes do not (all listed caps kept / the arch listed / the kernel new
 * enough). A rule whose action is the default action is left out (libseccomp refuses it).
 */
export function resolveSeccompProfile(profile: SeccompProfile, options: ResolveOptions): ResolvedProfile {
  const native = ARCHES[options.arch];
  if (native === undefined) throw new SeccompProfileError(`seccomp: architecture ${options.arch} is not supported`);
  const scmpArches = profile.architectures?.length
    ? profile.architectures
    : (profile.archMap ?? [])
        .filter((m) => m.architecture === native.scmp)
        .flatMap((m) => [m.architecture, ...(m.subArchitectures ?? [])]);
  const arches = [...new Set([native.scmp, ...scmpArches])].map((a) => a.replace(/^SCMP_ARCH_/, '').toLowerCase());
  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const caps = new Set<string>(options.capabilities);
  const holds = (cond: Condition | undefined, all: boolean): boolean => {
    if (!cond) return all;
    const tests: boolean[] = [];
    if (cond.caps?.length) tests.push(all ? cond.caps.every((c) => caps.has(c)) : cond.caps.some((c) => caps.has(c)));
    if (cond.arches?.length) tests.push(cond.arches.includes(native.go));
    if (cond.minKernel) tests.push(kernelAtLeast(options.kernel, cond.minKernel));
    return all ? tests.every(Boolean) : tests.some(Boolean);
  };
  const rules: ResolvedRule[] = [];
  for (const s of profile.syscalls ?? []) {
    if (!holds(s.includes, true) || holds(s.excludes, false)) continue;
    const action = actionValue(s.action, s.errnoRet);
    if (action === defaultAction) continue;
    const args = (s.args ?? []).map((a) => ({
      index: a.index,
      op: OPS[a.op],
      value: a.value,
      valueTwo: a.valueTwo ?? 0,
    }));
    rules.push({ action, names: s.names, args });
  }
  return { defaultAction, arches, rules };
}
