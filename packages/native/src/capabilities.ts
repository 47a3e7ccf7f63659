// Linux capabilities by name (capabilities(7)): the one table, and the parsing of the names that
// --cap-add/--cap-drop take. Pure data: used by the host to plan and by the stage to confine.

/** Every capability the kernel defines as of Linux 6.x, by number (the index). */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof CAPABILITIES)[number];

/**
 * What a root command gets by default: podman's (containers.conf) default set, 0x800405fb. A non-root
 * command gets none of them in its effective and permitted sets; they stay in its bounding set.
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

/** The number of a capability (its bit in /proc/PID/status's Cap* masks). */
export function capabilityNumber(name: CapabilityName): number {
  return CAPABILITIES.indexOf(name);
}

/** The mask of a set of capabilities, as /proc/PID/status shows it (16 hex digits). */
export function capabilityMask(names: readonly CapabilityName[]): string {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(capabilityNumber(name));
  return mask.toString(16).padStart(16, '0');
}

/**
 * A name as --cap-add/--cap-drop take it, as podman does: with or without `CAP_`, in any case, or
 * `all`. Returns the canonical `CAP_…` name or 'ALL'; throws an Error naming an unknown one.
 */
export function parseCapabilityName(text: string): CapabilityName | 'ALL' {
  const upper = text.trim().toUpperCase();
  if (upper === 'ALL' || upper === 'CAP_ALL') return 'ALL';
  const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if ((CAPABILITIES as readonly string[]).includes(name)) return name as CapabilityName;
  throw new Error(`unknown capability "${text}" (known: ${CAPABILITIES.map((c) => c.slice(4)).join(', ')}, or all)`);
}

/**
 * The capability set of a run, as podman merges it (containers/common's MergeCapabilities): `all`
 * among the drops keeps only the adds; `all` among the adds is every capability minus the drops;
 * else `base` minus the drops plus the adds. A capability both added and dropped is an error, and so
 * is `all` in both. Sorted by number.
 */
export function mergeCapabilities(
  base: readonly CapabilityName[],
  add: readonly string[] = [],
  drop: readonly string[] = [],
): CapabilityName[] {
  const adds = add.map(parseCapabilityName);
  const drops = drop.map(parseCapabilityName);
  let result: Set<CapabilityName>;
  if (drops.includes('ALL')) {
    if (adds.includes('ALL')) throw new Error('cannot both add and drop all capabilities');
    result = new Set(adds as CapabilityName[]);
  } else {
    if (!adds.includes('ALL'))
      for (const a of adds) if (drops.includes(a)) throw new Error(`capability ${a} cannot be both added and dropped`);
    const start = adds.includes('ALL') ? CAPABILITIES : base;
    result = new Set(start.filter((c) => !drops.includes(c)));
    for (const a of adds) if (a !== 'ALL') result.add(a);
  }
  return [...result].sort((a, b) => capabilityNumber(a) - capabilityNumber(b));
}
