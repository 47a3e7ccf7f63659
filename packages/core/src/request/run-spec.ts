import type { DirModeSpec } from './dir-modes.js';
import type { MountSpec } from './mount-spec.js';

/** Everything one run needs. The CLI's flags and library callers both build this. */
export interface RunSpec {
  /** The command and its arguments. */
  argv: string[];
  /** A root filesystem directory. Without one (and no image), the run gets a throw-away copy-on-write view of the host's root. */
  rootfs?: string;
  /**
   * An image to run on: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE`, `tar:FILE`
   * or `dir:DIR`. Its layers are unpacked once into the layer store and stacked under a throw-away
   * upper layer; its config (Env, Cmd, Entrypoint, WorkingDir, User) applies as with podman.
   */
  image?: string;
  /** `KEY=VALUE` sets a variable; a bare `KEY` copies it from the caller's environment when set there. */
  env?: string[];
  /** Working directory inside the container (created when missing, then owned by `user`). Default `/`. */
  cwd?: string;
  /**
   * Who the command runs as, as with `podman run --user`: `name`, `uid`, `name:group`, `uid:gid`,
   * `uid:group` or `name:gid`. Names are looked up in the container's own /etc/passwd and
   * /etc/group when the run starts (an unknown name fails the run); a uid without a passwd entry
   * runs with gid 0. Without a group, the user's supplementary groups from /etc/group apply too.
   * `HOME` is the passwd entry's home (else `/`) unless `env` sets it. A non-root user has no
   * capabilities. Default: the image's User, else root.
   */
  user?: string;
  /** Host name inside the container. Default: the run's id. */
  hostname?: string;
  /**
   * BenchExec's directory modes (hidden, read-only, overlay, full-access) for host directories;
   * they are mounted after the default mounts and before `mounts`.
   */
  dirModes?: DirModeSpec[];
  /** Mounts on top of the default ones; a mount on the same destination replaces the default. */
  mounts?: MountSpec[];
  /**
   * Run on a new pseudo-terminal, bound on /dev/console, as the command's controlling terminal and
   * stdio; the caller's terminal is put in raw mode meanwhile and its size follows along. `TERM` is
   * passed in (default `xterm`).
   */
  terminal?: boolean;
  /**
   * The escape hatch, as `podman run --privileged`: every capability (capAdd and capDrop then change
   * nothing), no seccomp filter, no masked or read-only paths, no device rules (every device may be
   * opened). Limits still apply, and /dev stays as without it.
   */
  privileged?: boolean;
  /**
   * Capabilities to add to the default set (podman's: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
   * NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT), as `--cap-add`: names with or
   * without `CAP_`, in any case, or `all`.
   */
  capAdd?: string[];
  /** Capabilities to take away, as `--cap-drop`: names as capAdd, or `all` (then only capAdd's are kept). */
  capDrop?: string[];
  /**
   * The seccomp profile: `unconfined` for none, or a profile file in the docker/podman JSON format.
   * Default: the built-in profile (docker's and podman's allow-list; mount, unshare, setns, keyctl,
   * bpf, ptrace, module loading, kexec, reboot … refused unless the capability they need is added).
   */
  seccomp?: string;
  /** Set no_new_privs for the command: set-user-ID programs and file capabilities give it nothing. */
  noNewPrivileges?: boolean;
  /**
   * Mount the root read-only once everything is mounted on it (podman's `--read-only`): the mounts on
   * it (/dev, /proc, the user's) stay as they are, and a read-write tmpfs goes on /tmp, /var/tmp and
   * /run unless `readOnlyTmpfs` is false.
   */
  readOnly?: boolean;
  /**
   * With `readOnly`: a read-write tmpfs (nosuid, nodev) on /tmp, /var/tmp and /run, each replaced by a
   * user mount on the same destination. Default true; false leaves them read-only with the root.
   */
  readOnlyTmpfs?: boolean;
  /**
   * `host` (the default): the host's network, as today, so that a build can fetch packages. `none`: a
   * new network namespace with only the loopback interface, up (127.0.0.1 and ::1), for hermetic steps.
   */
  network?: 'host' | 'none';
  /**
   * Extra lines of the run's /etc/hosts, `NAME:IP` (IPv4 or IPv6, split at the first colon), before
   * its localhost and hostname lines (the first line naming a host wins). Every run gets /etc/hosts,
   * /etc/hostname (`hostname`) and, with the host's network, /etc/resolv.conf generated and bound
   * read-only over the rootfs' own files, which are never written; a mount of `mounts` on one of
   * them replaces it.
   */
  addHosts?: string[];
  /** Nameservers of the run's /etc/resolv.conf instead of the host's (IP addresses); not with network `none`. */
  dns?: string[];
  /**
   * The most processes (and threads) the run may have at once: its cgroup's pids.max. Default 2048,
   * as podman; 0 or less: no limit. Forks beyond it fail (a fork bomb ends); the host stays usable.
   */
  pidsLimit?: number;
  /**
   * The most memory the run may use: bytes, or a size as docker writes it (`64m`, `1g`, `512k`, `1.5GiB`;
   * powers of 1024). At least 6 MiB; 0: no limit. Memory plus swap gets twice this, as podman.
   * A command the kernel's OOM killer ends exits with 137 (128 + SIGKILL), as with docker.
   */
  memory?: string | number;
  /** How many CPUs' worth of time the run may use, a fraction too (0.5: half of one): a CFS quota per 100 ms. 0: no limit. */
  cpus?: number;
}

export interface RunResult {
  /** The command's exit status, or 128+n when it was killed by signal n. */
  exitCode: number;
  /** The signal that killed the command, if one did. */
  signal: NodeJS.Signals | null;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
