// The devices controller of cgroup v2: not a file but an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the run's cgroup (BPF_CGROUP_DEVICE), which the kernel runs
// on every open and mknod of a device node by a process of the cgroup. The program is the same as
// runc's (libcontainer/cgroups/devices/devicefilter.go) for a deny-all list with allow rules: it
// returns 1 (allow) when a rule matches the device's type, major, minor and the access asked, else 0
// (EPERM). The stage loads and attaches it when it opens the run's cgroup (before pivot_root, before
// it joins the cgroup; koffi is loaded there already); rmdir of the cgroup detaches and frees it.
// Needs CAP_SYS_ADMIN (the stage has it until confine()) and a kernel with CONFIG_CGROUP_BPF.

import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { O_CLOEXEC, O_DIRECTORY } from './constants.js';
import { c, errno } from './libc.js';
import { SyscallError } from './syscall-error.js';

/** bpf(2)'s number: the generic one (arm64, riscv64), x86-64's and ppc64's own. */
const SYS_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280, riscv64: 280, ppc64: 361 };
const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
/** struct bpf_cgroup_dev_ctx's access_type: the type in the low 16 bits, the access in the high. */
const DEV_TYPE = { b: 1, c: 2 } as const;
const ACCESS = { m: 1, r: 2, w: 4 } as const;

/** One rule of the allow-list, as a cgroup v1 `devices.allow` line: `c 1:3 rwm`, `b *:* m`. */
interface DeviceRule {
  type: 'a' | 'b' | 'c';
  major: number | '*';
  minor: number | '*';
  access: number;
}

/** Parse `TYPE MAJOR:MINOR ACCESS` (`a` for any type, `*` for any number). Throws on anything else. */
function parseDeviceRule(line: string): DeviceRule {
  const m = /^([abc]) (\d+|\*):(\d+|\*) ([rwm]+)$/.exec(line);
  if (!m) throw new Error(`device rule "${line}": not TYPE MAJOR:MINOR ACCESS`);
  const num = (s: string): number | '*' => (s === '*' ? '*' : Number(s));
  let access = 0;
  for (const ch of m[4]) access |= ACCESS[ch as keyof typeof ACCESS];
  return { type: m[1] as DeviceRule['type'], major: num(m[2]), minor: num(m[3]), access };
}

/** One eBPF instruction: opcode, dst and src registers, offset, immediate. */
function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}
const LDX_W = 0x61; // dst = *(u32 *)(src + off)
const AND32_K = 0x54;
const RSH32_K = 0x74;
const MOV32_K = 0xb4;
const MOV32_X = 0xbc;
const JNE_K = 0x55; // if dst != imm: skip off instructions
const JNE_X = 0x5d;
const EXIT = 0x95;

/**
 * The program: everything denied but what `rules` (devices.allow lines) allow. R1 is the context
 * (struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }); R0 the verdict.
 */
export function deviceFilterProgram(rules: readonly string[]): Buffer {
  const out: Buffer[] = [
    insn(LDX_W, 2, 1, 0, 0), // R2 = access_type
    insn(AND32_K, 2, 0, 0, 0xffff), // R2 = type
    insn(LDX_W, 3, 1, 0, 0),
    insn(RSH32_K, 3, 0, 0, 16), // R3 = access asked
    insn(LDX_W, 4, 1, 4, 0), // R4 = major
    insn(LDX_W, 5, 1, 8, 0), // R5 = minor
  ];
  for (const line of rules) {
    const rule = parseDeviceRule(line);
    const checks: Buffer[][] = [];
    if (rule.type !== 'a') checks.push([insn(JNE_K, 2, 0, 0, DEV_TYPE[rule.type])]);
    if (rule.access !== 7)
      // The access asked must be within the rule's: (asked & allowed) == asked.
      checks.push([insn(MOV32_X, 1, 3, 0, 0), insn(AND32_K, 1, 0, 0, rule.access), insn(JNE_X, 1, 3, 0, 0)]);
    if (rule.major !== '*') checks.push([insn(JNE_K, 4, 0, 0, rule.major)]);
    if (rule.minor !== '*') checks.push([insn(JNE_K, 5, 0, 0, rule.minor)]);
    const block = [...checks.flat(), insn(MOV32_K, 0, 0, 0, 1), insn(EXIT, 0, 0, 0, 0)];
    // Each jump goes past the end of the block: to the next rule.
    block.forEach((b, i) => {
      if (b[0] === JNE_K || b[0] === JNE_X) b.writeInt16LE(block.length - 1 - i, 2);
    });
    out.push(...block);
  }
  out.push(insn(MOV32_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0));
  return Buffer.concat(out);
}

/** BPF_PROG_LOAD's part of union bpf_attr; declared on first use (~0.1 ms: not in every stage's start). */
let progLoadAttr: ReturnType<typeof koffi.struct> | undefined;
const ProgLoadAttr = () =>
  (progLoadAttr ??= koffi.struct('builder_bpf_prog_load_attr', {
    prog_type: 'uint32_t',
    insn_cnt: 'uint32_t',
    insns: 'void *',
    license: 'void *',
    log_level: 'uint32_t',
    log_size: 'uint32_t',
    log_buf: 'void *',
    kern_version: 'uint32_t',
    prog_flags: 'uint32_t',
    prog_name: koffi.array('uint8_t', 16),
    prog_ifindex: 'uint32_t',
    expected_attach_type: 'uint32_t',
  }));

function sysBpf(): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new Error(`device rules on cgroup v2: bpf(2) is not known on ${process.arch}`);
  return nr;
}

/** Load the program: its fd. On a refusal, the verifier's log is in the error. */
function loadProgram(program: Buffer): number {
  const license = Buffer.from('Apache-2.0\0');
  const load = (log?: Buffer): number =>
    Number(
      c.syscall(
        sysBpf(),
        'int',
        BPF_PROG_LOAD,
        koffi.pointer(ProgLoadAttr()),
        {
          prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
          insn_cnt: program.length / 8,
          insns: program,
          license,
          log_level: log ? 1 : 0,
          log_size: log ? log.length : 0,
          log_buf: log ?? null,
          kern_version: 0,
          prog_flags: 0,
          prog_name: [...Buffer.from('builder_devices'), 0],
          prog_ifindex: 0,
          expected_attach_type: BPF_CGROUP_DEVICE,
        },
        'unsigned int',
        koffi.sizeof(ProgLoadAttr()),
      ),
    );
  const fd = load();
  if (fd >= 0) return fd;
  const code = errno();
  const log = Buffer.alloc(1 << 16);
  if (load(log) >= 0) throw new SyscallError('bpf(BPF_PROG_LOAD)', code);
  const text = log.subarray(0, log.indexOf(0)).toString('utf8').trim().split('\n').slice(-3).join('; ');
  const err = new SyscallError('bpf(BPF_PROG_LOAD)', code);
  if (text) err.message += ` (${text})`;
  throw err;
}

/**
 * Attach the program allowing `rules` (devices.allow lines, everything else denied) to the cgroup v2
 * directory `dir`. Throws a SyscallError when the kernel refuses (no CONFIG_CGROUP_BPF, no privilege).
 */
export function attachDeviceFilter(dir: string, rules: readonly string[]): void {
  const prog = loadProgram(deviceFilterProgram(rules));
  try {
    const cg = openSync(dir, O_DIRECTORY | O_CLOEXEC);
    try {
      const attr = Buffer.alloc(20);
      attr.writeUInt32LE(cg, 0); // target_fd
      attr.writeUInt32LE(prog, 4); // attach_bpf_fd
      attr.writeUInt32LE(BPF_CGROUP_DEVICE, 8); // attach_type
      // As runc: BPF_F_ALLOW_MULTI, so that the programs of builder's ancestors (systemd's) run too.
      attr.writeUInt32LE(BPF_F_ALLOW_MULTI, 12); // attach_flags
      const rc = Number(c.syscall(sysBpf(), 'int', BPF_PROG_ATTACH, 'void *', attr, 'unsigned int', attr.length));
      if (rc < 0) throw new SyscallError('bpf(BPF_PROG_ATTACH)', errno(), dir);
    } finally {
      closeSync(cg);
    }
  } finally {
    // The cgroup holds the program now; rmdir of the cgroup frees it.
    c.close(prog);
  }
}
