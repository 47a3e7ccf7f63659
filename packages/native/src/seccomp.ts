// Compiling a seccomp profile to classic BPF with libseccomp (libseccomp.so.2, loaded on first use:
// only the host loads it, and only when the filter cache misses). The stage loads the BPF itself
// (confine.ts): it needs no libseccomp.
import koffi from 'koffi';
import type { ResolvedProfile } from './seccomp-profile.js';

/** libseccomp's enum scmp_filter_attr: whether seccomp_load sets no_new_privs. */
const SCMP_FLTATR_CTL_NNP = 3;
/** libseccomp's enum scmp_filter_attr: how to lay the filter out; 2 is a binary tree of syscall numbers. */
const SCMP_FLTATR_CTL_OPTIMIZE = 8;
/** libseccomp's error value for an unknown syscall name. */
const NR_SCMP_ERROR = -1;

interface Libseccomp {
  init: (defaultAction: number) => unknown;
  release: (ctx: unknown) => void;
  archResolve: (name: string) => number;
  archNative: () => number;
  archAdd: (ctx: unknown, arch: number) => number;
  resolveName: (name: string) => number;
  ruleAdd: (ctx: unknown, action: number, syscall: number, count: number, args: unknown) => number;
  attrSet: (ctx: unknown, attr: number, value: number) => number;
  exportBpf: (ctx: unknown, fd: number) => number;
}

let lib: Libseccomp | undefined;

function load(): Libseccomp {
  if (lib) return lib;
  let so: ReturnType<typeof koffi.load>;
  try {
    so = koffi.load('libseccomp.so.2');
  } catch (err) {
    throw new Error(
      `seccomp: cannot load libseccomp.so.2 (install libseccomp2, or run with --security-opt seccomp=unconfined): ${(err as Error).message}`,
    );
  }
  lib = {
    init: so.func('void *seccomp_init(uint32_t def_action)'),
    release: so.func('void seccomp_release(void *ctx)'),
    archResolve: so.func('uint32_t seccomp_arch_resolve_name(const char *name)'),
    archNative: so.func('uint32_t seccomp_arch_native(void)'),
    archAdd: so.func('int seccomp_arch_add(void *ctx, uint32_t arch)'),
    resolveName: so.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAdd: so.func(
      'int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int count, const uint8_t *args)',
    ),
    attrSet: so.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    exportBpf: so.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
  return lib;
}

const check = (rc: number, what: string): void => {
  if (rc < 0) throw new Error(`seccomp: ${what}: ${-rc}`);
};

/** struct scmp_arg_cmp[] { unsigned int arg; enum scmp_compare op; uint64_t datum_a, datum_b; } */
function argArray(args: ResolvedProfile['rules'][number]['args']): Buffer | null {
  if (args.length === 0) return null;
  const buf = Buffer.alloc(24 * args.length);
  args.forEach((a, i) => {
    buf.writeUInt32LE(a.index, 24 * i);
    buf.writeInt32LE(a.op, 24 * i + 4);
    buf.writeBigUInt64LE(BigInt(a.value), 24 * i + 8);
    buf.writeBigUInt64LE(BigInt(a.valueTwo), 24 * i + 16);
  });
  return buf;
}

/**
 * Compile `profile` to classic BPF and write it to `fd` (seccomp_export_bpf). Unknown syscall names
 * are skipped, as runc does (a profile names syscalls of every architecture and kernel). Conditions
 * that compare one argument twice become one rule each (runc's rule: libseccomp wants each
 * argument once per rule).
 */
export function exportSeccompBpf(profile: ResolvedProfile, fd: number): void {
  const s = load();
  const ctx = s.init(profile.defaultAction);
  if (!ctx) throw new Error('seccomp: seccomp_init failed');
  try {
    // The stage loads the filter itself and sets no_new_privs only when asked (confine.ts).
    check(s.attrSet(ctx, SCMP_FLTATR_CTL_NNP, 0), 'seccomp_attr_set');
    // A binary tree: a syscall is found in about log2(n) comparisons instead of up to n, which makes
    // both each syscall and loading the filter (the kernel runs it for every syscall number to build
    // its cache) faster.
    check(s.attrSet(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), 'seccomp_attr_set');
    const native = s.archNative();
    const tokens = profile.arches.map((name) => {
      const token = s.archResolve(name);
      if (token === 0) throw new Error(`seccomp: libseccomp does not know the architecture ${name}`);
      return token;
    });
    // The context has the native architecture already; resolveSeccompProfile always lists it.
    for (const token of tokens) if (token !== native) check(s.archAdd(ctx, token), 'seccomp_arch_add');
    for (const rule of profile.rules) {
      const sameArgTwice = new Set(rule.args.map((a) => a.index)).size < rule.args.length;
      const groups = sameArgTwice ? rule.args.map((a) => [a]) : [rule.args];
      for (const name of rule.names) {
        const nr = s.resolveName(name);
        if (nr === NR_SCMP_ERROR) continue;
        for (const group of groups)
          check(s.ruleAdd(ctx, rule.action, nr, group.length, argArray(group)), `rule for ${name}`);
      }
    }
    check(s.exportBpf(ctx, fd), 'seccomp_export_bpf');
  } finally {
    s.release(ctx);
  }
}
