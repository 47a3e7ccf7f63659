// The flags of `builder run`, declared once. The oclif command builds its flags from this table
// (help, validation, errors); the start-up fast path parses the common well-formed case with it
// without loading oclif at all (≈ 160 ms on the hot path). Keep this file free of heavy imports.

export interface RunFlagSpec {
  name:
    | 'rootfs'
    | 'image'
    | 'env'
    | 'workdir'
    | 'user'
    | 'hostname'
    | 'terminal'
    | 'interactive'
    | 'mount'
    | 'volume'
    | 'mounts-file'
    | 'hidden-dir'
    | 'read-only-dir'
    | 'overlay-dir'
    | 'full-access-dir'
    | 'plugin'
    | 'root'
    | 'log-level';
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

export const LOG_LEVEL_FLAG: RunFlagSpec = {
  name: 'log-level',
  options: ['error', 'warn', 'info', 'debug'],
  default: 'warn',
  description: 'how much to log on stderr',
  helpGroup: 'GLOBAL',
};

export const ROOT_FLAG: RunFlagSpec = {
  name: 'root',
  description: 'where the layer store lives (default: the config file\'s "root", else /var/lib/builder)',
  helpValue: 'DIR',
};

export const RUN_FLAGS: readonly RunFlagSpec[] = [
  {
    name: 'rootfs',
    description: 'root filesystem directory (default: a throw-away copy-on-write view of the host root)',
    helpValue: 'DIR',
  },
  {
    name: 'image',
    description:
      "run on an image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG|:@N], tar:FILE (a rootfs tarball), dir:DIR, or a transport of a plugin (`builder sources`); its layers are unpacked once into the layer store (see --root) and its config (Env, Cmd, Entrypoint, WorkingDir, User) applies; without a command, the image's",
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
  ...(['hidden', 'read-only', 'overlay', 'full-access'] as const).map(
    (mode): RunFlagSpec => ({
      name: `${mode}-dir`,
      multiple: true,
      description: {
        hidden: 'show an empty directory at DIR (writes are thrown away), as BenchExec --hidden-dir',
        'read-only': 'show the host directory DIR read-only, submounts included, as BenchExec --read-only-dir',
        overlay: 'show the host directory DIR writable, writes going to a throw-away layer, as BenchExec --overlay-dir',
        'full-access': 'show the host directory DIR writable, writes reaching the host, as BenchExec --full-access-dir',
      }[mode],
      helpValue: 'DIR',
      helpGroup: 'DIRECTORY MODES',
    }),
  ),
  {
    name: 'plugin',
    multiple: true,
    description:
      'load a plugin: an npm package name (looked up from the current directory first) or a path; after the built-in plugins and those of the config file ($BUILDER_CONFIG or /etc/builder/config.json)',
    helpValue: 'PKG_OR_PATH',
  },
  ROOT_FLAG,
];

export interface RunFlags {
  rootfs?: string;
  image?: string;
  env?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  mount?: string[];
  volume?: string[];
  'mounts-file'?: string;
  terminal: boolean;
  interactive: boolean;
  'hidden-dir'?: string[];
  'read-only-dir'?: string[];
  'overlay-dir'?: string[];
  'full-access-dir'?: string[];
  plugin?: string[];
  root?: string;
  'log-level': string;
}

/**
 * Parse `[FLAG…] [--] COMMAND [ARG…]` (the arguments after `run`) when it is the plain, well-formed
 * case. Flags end at `--` or at the first argument that is not a flag, as with docker and buildah.
 * Known flags only, each at most once unless multiple, values that do not start with `-`, choices
 * within their options. Returns undefined for anything else, so that oclif parses it and reports
 * what is wrong.
 */
export function parseRunArgs(args: readonly string[]): { flags: RunFlags; argv: string[] } | undefined {
  const specs = [...RUN_FLAGS, LOG_LEVEL_FLAG];
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
      spec = specs.find((s) => s.name === name);
      if (eq >= 0) value = token.slice(eq + 1);
    } else if (/^-[A-Za-z]/.test(token)) {
      spec = specs.find((s) => s.char === token[1]);
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
  const one = (name: string) => values.get(name)?.[0];
  return {
    flags: {
      rootfs: one('rootfs'),
      image: one('image'),
      env: values.get('env'),
      workdir: one('workdir'),
      user: one('user'),
      hostname: one('hostname'),
      mount: values.get('mount'),
      volume: values.get('volume'),
      'mounts-file': one('mounts-file'),
      terminal: values.has('terminal'),
      interactive: values.has('interactive'),
      'hidden-dir': values.get('hidden-dir'),
      'read-only-dir': values.get('read-only-dir'),
      'overlay-dir': values.get('overlay-dir'),
      'full-access-dir': values.get('full-access-dir'),
      plugin: values.get('plugin'),
      root: one('root'),
      'log-level': one('log-level') ?? 'warn',
    },
    argv: args.slice(i),
  };
}
