// The flags of `builder run`, declared once: one row of RUN_FLAGS per flag, and the RunFlags type
// is derived from the rows. The oclif command builds its flags from this table (help, validation,
// errors); the start-up fast path parses the common well-formed case with it without loading oclif
// at all (≈ 160 ms on the hot path). Keep this file free of heavy imports.

/** One flag: what oclif needs to declare it, and what the fast path needs to parse it. */
export interface RunFlagSpec {
  name: string;
  char?: string;
  /** A flag that takes no value. */
  boolean?: boolean;
  multiple?: boolean;
  default?: string;
  /** Allowed values, when the flag is a choice. */
  options?: readonly string[];
  description: string;
  helpValue?: string;
  helpGroup?: string;
}

/** A shared flag of every command (oclif's base flags). */
export const LOG_LEVEL_FLAG = {
  name: 'log-level',
  options: ['error', 'warn', 'info', 'debug'],
  default: 'warn',
  description: 'how much to log on stderr',
  helpGroup: 'GLOBAL',
} as const satisfies RunFlagSpec;

/** --root, which the other commands that use the layer store share. */
export const ROOT_FLAG = {
  name: 'root',
  description: 'where the layer store lives (default: the config file\'s "root", else /var/lib/builder)',
  helpValue: 'DIR',
} as const satisfies RunFlagSpec;

export const RUN_FLAGS = [
  {
    name: 'rootfs',
    description: 'root filesystem directory (default: a throw-away copy-on-write view of the host root)',
    helpValue: 'DIR',
  },
  {
    name: 'image',
    description:
      "run on an image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG|:@N], tar:FILE (a rootfs tarball), dir:DIR, or a transport of a plugin (`builder sources`); its layers are unpacked once into the layer store (see --root) and its config (Env, Cmd, Entrypoint, WorkingDir, User) applies; without a command, the image's Entrypoint and Cmd run",
    helpValue: 'REF',
  },
  {
    name: 'env',
    char: 'e',
    multiple: true,
    description: 'set an environment variable (KEY=VALUE), or copy KEY from this environment',
    helpValue: 'KEY=VALUE',
  },
  {
    name: 'workdir',
    char: 'w',
    description: "working directory inside the container, created if missing (default: the image's WorkingDir, else /)",
    helpValue: 'DIR',
  },
  {
    name: 'user',
    char: 'u',
    description:
      "run as this user, as podman does: name, uid, name:group, uid:gid, uid:group or name:gid; names are looked up in the container's /etc/passwd and /etc/group (a uid need not be there: its gid is then 0); without a group, the user's supplementary groups apply too; HOME comes from passwd unless -e sets it; a non-root user has no capabilities (default: the image's User, else root)",
    helpValue: 'USER[:GROUP]',
  },
  { name: 'hostname', description: 'host name inside the container (default: the run id)', helpValue: 'NAME' },
  {
    name: 'terminal',
    char: 't',
    boolean: true,
    description:
      "run on a new pseudo-terminal (on /dev/console) as the command's controlling terminal, with this terminal in raw mode meanwhile; for interactive shells (job control, Ctrl-C, window size)",
  },
  {
    name: 'interactive',
    char: 'i',
    boolean: true,
    description: 'keep stdin attached (it always is; accepted for docker and podman habits: -i -t)',
  },
  {
    name: 'mount',
    multiple: true,
    description:
      'add a mount, docker/buildah style: type=KIND,destination=DIR[,source=SRC][,readonly][,OPTION…]; kinds and their options: `builder mount-kinds --options`. User mounts come after the default ones, in this order: the --mounts-file entries, then each --mount, then each -v, in command-line order; a mount on a default destination (/dev/shm …) replaces that default',
    helpValue: 'TEXT',
    helpGroup: 'MOUNT',
  },
  {
    name: 'volume',
    char: 'v',
    multiple: true,
    description:
      'bind-mount a host directory, buildah/podman style: SRC:DST[:OPTS], both absolute (\\: for a colon in a path); OPTS: ro, rw, rbind, nobind, propagation, [no]exec, [no]dev, [no]suid, U, z, Z, or O for an overlay (writes go to a throw-away tmpfs, or to upperdir=DIR,workdir=DIR)',
    helpValue: 'SRC:DST[:OPTS]',
    helpGroup: 'MOUNT',
  },
  {
    name: 'mounts-file',
    description:
      'add the mounts listed in a JSON file: an array of OCI runtime spec mounts entries ({"destination", "type", "source", "options"})',
    helpValue: 'FILE',
    helpGroup: 'MOUNT',
  },
  {
    name: 'hidden-dir',
    multiple: true,
    description: 'show an empty directory at DIR (writes are thrown away), as BenchExec --hidden-dir',
    helpValue: 'DIR',
    helpGroup: 'DIRECTORY MODES',
  },
  {
    name: 'read-only-dir',
    multiple: true,
    description: 'show the host directory DIR read-only, submounts included, as BenchExec --read-only-dir',
    helpValue: 'DIR',
    helpGroup: 'DIRECTORY MODES',
  },
  {
    name: 'overlay-dir',
    multiple: true,
    description: 'show the host directory DIR writable, writes going to a throw-away layer, as BenchExec --overlay-dir',
    helpValue: 'DIR',
    helpGroup: 'DIRECTORY MODES',
  },
  {
    name: 'full-access-dir',
    multiple: true,
    description: 'show the host directory DIR writable, writes reaching the host, as BenchExec --full-access-dir',
    helpValue: 'DIR',
    helpGroup: 'DIRECTORY MODES',
  },
  {
    name: 'privileged',
    boolean: true,
    description:
      'the escape hatch, as podman: every capability (--cap-add and --cap-drop then change nothing), no seccomp filter, no masked or read-only paths, every device (limits still apply; /dev stays as without it)',
    helpGroup: 'SECURITY',
  },
  {
    name: 'cap-add',
    multiple: true,
    description:
      "add a capability to the default set (podman's: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID SETPCAP SETUID SYS_CHROOT); with or without CAP_, any case, or all; the seccomp profile then allows the syscalls that need it (SYS_ADMIN: mount, unshare …)",
    helpValue: 'CAP',
    helpGroup: 'SECURITY',
  },
  {
    name: 'cap-drop',
    multiple: true,
    description: 'drop a capability from the default set, or all (then only the --cap-add ones are kept)',
    helpValue: 'CAP',
    helpGroup: 'SECURITY',
  },
  {
    name: 'security-opt',
    multiple: true,
    description:
      'seccomp=unconfined (no filter), seccomp=FILE (a docker/podman JSON seccomp profile instead of the built-in one), no-new-privileges[=true|false]; label=disable and apparmor=unconfined are accepted and change nothing (no SELinux label or AppArmor profile is applied)',
    helpValue: 'OPT',
    helpGroup: 'SECURITY',
  },
  {
    name: 'read-only',
    boolean: true,
    description:
      'mount the root read-only once everything is mounted on it, as podman --read-only: /dev, /proc and your mounts stay as they are, and /tmp, /var/tmp and /run get a read-write tmpfs (nosuid, nodev) unless --read-only-tmpfs=false; a mount of yours on one of them replaces its tmpfs',
    helpGroup: 'SECURITY',
  },
  {
    name: 'read-only-tmpfs',
    options: ['true', 'false'],
    default: 'true',
    description: 'with --read-only: false leaves /tmp, /var/tmp and /run read-only with the root',
    helpGroup: 'SECURITY',
  },
  {
    name: 'network',
    options: ['host', 'none'],
    description:
      "host: the host's network (the default; builds fetch packages); none: a new network namespace with only the loopback interface, up, for hermetic steps",
    helpValue: 'host|none',
    helpGroup: 'NETWORK',
  },
  {
    name: 'add-host',
    multiple: true,
    description:
      "add a line to the run's /etc/hosts: NAME:IP, IPv4 or IPv6 (every run gets /etc/hosts with localhost and --hostname, /etc/hostname and, with the host's network, /etc/resolv.conf, generated and bound read-only over the rootfs' own)",
    helpValue: 'NAME:IP',
    helpGroup: 'NETWORK',
  },
  {
    name: 'dns',
    multiple: true,
    description: "a nameserver of the run's /etc/resolv.conf, instead of the host's (not with --network none)",
    helpValue: 'IP',
    helpGroup: 'NETWORK',
  },
  {
    name: 'pids-limit',
    description:
      "the most processes and threads the run may have at once (its cgroup's pids.max); forks beyond it fail; 0 or -1: no limit (default: 2048, as podman)",
    helpValue: 'N',
    helpGroup: 'LIMITS',
  },
  {
    name: 'memory',
    char: 'm',
    description:
      'the most memory the run may use, as docker writes sizes: 64m, 1g, 512k, bytes (at least 6m; memory plus swap gets twice this, as podman); a command the OOM killer ends exits with 137',
    helpValue: 'SIZE',
    helpGroup: 'LIMITS',
  },
  {
    name: 'cpus',
    description:
      "how many CPUs' worth of time the run may use, a fraction too: 0.5 is half of one (a CFS quota per 100 ms)",
    helpValue: 'N',
    helpGroup: 'LIMITS',
  },
  {
    name: 'plugin',
    multiple: true,
    description:
      'load a plugin: an npm package name (looked up from the current directory first) or a path; after the built-in plugins and those of the config file ($BUILDER_CONFIG or /etc/builder/config.json)',
    helpValue: 'PKG_OR_PATH',
  },
  ROOT_FLAG,
] as const satisfies readonly RunFlagSpec[];

type Flag = (typeof RUN_FLAGS)[number] | typeof LOG_LEVEL_FLAG;

/** The name of a flag of RUN_FLAGS. */
export type RunFlagName = (typeof RUN_FLAGS)[number]['name'];

/** What a flag parses to: a boolean, the values in command-line order, one of a choice's options, or the value. */
type FlagValue<F> = F extends { boolean: true }
  ? boolean
  : F extends { multiple: true }
    ? string[]
    : F extends { options: readonly (infer O)[] }
      ? O
      : string;

/** The flags that always have a value: a boolean is false when absent, others have a default. */
type Always = { boolean: true } | { default: string };

/** The parsed flags of `builder run`, keyed by flag name (derived from RUN_FLAGS and LOG_LEVEL_FLAG). */
export type RunFlags = { [F in Flag as F extends Always ? F['name'] : never]: FlagValue<F> } & {
  [F in Flag as F extends Always ? never : F['name']]?: FlagValue<F>;
};

/** Every flag `builder run` takes, as the fast path looks them up. */
const ALL_FLAGS: readonly RunFlagSpec[] = [...RUN_FLAGS, LOG_LEVEL_FLAG];

/**
 * Parse `[FLAG…] [--] COMMAND [ARG…]` (the arguments after `run`) when it is the plain, well-formed
 * case. Flags end at `--` or at the first argument that is not a flag, as with docker and buildah.
 * Known flags only, each at most once unless multiple, values that do not start with `-`, choices
 * within their options. Returns undefined for anything else, so that oclif parses it and reports
 * what is wrong.
 */
export function parseRunArgs(args: readonly string[]): { flags: RunFlags; argv: string[] } | undefined {
  const values = new Map<string, string[]>();
  let i = 0;
  for (; i < args.length; i++) {
    const token = args[i];
    if (token === '--') {
      i++;
      break;
    }
    if (!token.startsWith('-') || token === '-') break;
    let spec: RunFlagSpec | undefined;
    let value: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      const name = eq < 0 ? token.slice(2) : token.slice(2, eq);
      spec = ALL_FLAGS.find((s) => s.name === name);
      if (eq >= 0) value = token.slice(eq + 1);
    } else if (/^-[A-Za-z]/.test(token)) {
      spec = ALL_FLAGS.find((s) => s.char === token[1]);
      if (token.length > 2) value = token.slice(2);
      if (value?.startsWith('=')) return undefined;
    }
    if (!spec) return undefined;
    if (spec.boolean) {
      if (value !== undefined || values.has(spec.name)) return undefined;
      values.set(spec.name, ['true']);
      continue;
    }
    if (value === undefined) {
      value = args[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
    }
    if (value === '' || (spec.options && !spec.options.includes(value))) return undefined;
    const seen = values.get(spec.name) ?? [];
    if (seen.length && !spec.multiple) return undefined;
    values.set(spec.name, [...seen, value]);
  }
  const flags: Record<string, unknown> = {};
  for (const spec of ALL_FLAGS) {
    const given = values.get(spec.name);
    flags[spec.name] = spec.boolean ? given !== undefined : spec.multiple ? given : (given?.[0] ?? spec.default);
  }
  return {
    flags: flags as RunFlags,
    argv: args.slice(i),
  };
}
