// `builder run` as an oclif command: its help, and the parsing of whatever the start-up fast path
// (run-flags.ts) leaves to oclif. Its flags come from the table in run-flags.ts.
import type { Interfaces } from '@oclif/core';
import { BuilderCommand, oclifFlag } from '../base-command.js';
import { runAction } from '../run-action.js';
import { RUN_FLAGS, type RunFlags } from '../run-flags.js';

export default class Run extends BuilderCommand {
  static override summary = 'Run a command in a fresh container.';
  static override description =
    `The command runs as PID 1 of new mount, PID, UTS and IPC namespaces, on a root filesystem with the default mounts (/proc, /sys read-only, /dev with the standard nodes, /dev/pts, /dev/shm, /dev/mqueue). Nothing it mounts is visible on the host.

Without --rootfs, the root filesystem is a copy-on-write view of the host's own root: the command sees the host's files, and whatever it writes is thrown away when it exits.

Mounts of your own come after the default ones: first the entries of --mounts-file, then each --mount, then each -v, in command-line order. Each is handed to the plugin of its type (\`builder mount-kinds\` lists them and their options); a mistake in one is an error before anything runs.

Plugins: the built-in ones, then those of the config file ($BUILDER_CONFIG, else /etc/builder/config.json: {"plugins": […], "runroot": DIR}), then each --plugin.

The exit status is the command's own; 125 when builder itself failed, 126 when the command could not be executed, 127 when it was not found, 128+N when it was killed by signal N. SIGINT, SIGTERM and SIGHUP are passed on to the command; the third SIGINT or SIGTERM kills it.`;

  static override examples = [
    {
      description: 'Run a shell command on a copy-on-write view of the host (writes are discarded):',
      command: `<%= config.bin %> <%= command.id %> -- sh -c 'echo hi > /etc/motd; cat /etc/motd'`,
    },
    {
      description: 'Run on a root filesystem directory, with an environment variable and a working directory:',
      command:
        "<%= config.bin %> <%= command.id %> --rootfs ./rootfs -e GREETING=hello --workdir /work -- sh -c 'echo $GREETING from $(pwd)'",
    },
    {
      description:
        "Run as a user of the rootfs's /etc/passwd, with its groups and HOME (bare ids such as -u 1000:1000 need no entry):",
      command: "<%= config.bin %> <%= command.id %> --rootfs ./rootfs --user alice -- sh -c 'id; echo $HOME'",
    },
    {
      description: 'Give the command a 64 MiB scratch tmpfs on /scratch:',
      command:
        '<%= config.bin %> <%= command.id %> --rootfs ./rootfs --mount type=tmpfs,destination=/scratch,tmpfs-size=64m -- df -h /scratch',
    },
    {
      description: 'Bind-mount a host directory read-only (--mount and -v say the same thing):',
      command:
        '<%= config.bin %> <%= command.id %> --rootfs ./rootfs --mount type=bind,source=/srv/data,destination=/data,readonly -- ls /data',
    },
    {
      description: 'Build the sources in /src, read-only, with buildah/podman -v syntax:',
      command: '<%= config.bin %> <%= command.id %> --rootfs ./rootfs -v /src:/src:ro --workdir /src -- make -n',
    },
    {
      description: 'Let the command write over /src, discarding the writes (an overlay with a throw-away upper layer):',
      command: '<%= config.bin %> <%= command.id %> --rootfs ./rootfs -v /src:/src:O --workdir /src -- make',
    },
    {
      description: 'Add the mounts of a JSON file (the mounts array of an OCI config.json) and a third-party plugin:',
      command:
        '<%= config.bin %> <%= command.id %> --rootfs ./rootfs --mounts-file mounts.json --plugin ./my-plugin -- true',
    },
    {
      description:
        "Run an image's own command (its Entrypoint and Cmd) with its Env, WorkingDir and User, as docker run IMAGE does; its layers are unpacked once into the layer store:",
      command: '<%= config.bin %> <%= command.id %> --image oci:./layout:base',
    },
    {
      description: 'An interactive shell on an image saved by docker save, as docker run -it does:',
      command: '<%= config.bin %> <%= command.id %> -i -t --image docker-archive:./app.tar -- sh',
    },
    {
      description: 'Keep the layer store somewhere else than /var/lib/builder:',
      command: '<%= config.bin %> <%= command.id %> --root /srv/builder --image oci-archive:./image.tar -- make test',
    },
    {
      description:
        "On the host's own tree, BenchExec style: an empty /tmp, /etc read-only, writes to /srv/out reaching the host:",
      command:
        '<%= config.bin %> <%= command.id %> --hidden-dir /tmp --read-only-dir /etc --full-access-dir /srv/out -- make -C /src',
    },
    {
      description: 'Pass the exit status through:',
      command: `<%= config.bin %> <%= command.id %> --rootfs ./rootfs -- sh -c 'exit 7'; echo $?`,
    },
  ];

  static override strict = false;
  /** The whole surface in one line, as README.md's usage block has it (oclif wraps it). */
  static override usage =
    '<%= command.id %> [--rootfs DIR | --image REF [--root DIR]] [-e KEY=VALUE]... [--workdir DIR] [-u USER[:GROUP]] [--hostname NAME] [-t] [--mount TEXT]... [-v SRC:DST[:OPTS]]... [--mounts-file FILE] [--plugin PKG_OR_PATH]... [--hidden-dir DIR]... [--read-only-dir DIR]... [--overlay-dir DIR]... [--full-access-dir DIR]... [--privileged] [--cap-add CAP]... [--cap-drop CAP]... [--security-opt OPT]... [--read-only [--read-only-tmpfs true|false]] [--network host|none] [--add-host NAME:IP]... [--dns IP]... [--pids-limit N] [-m SIZE] [--cpus N] [--] COMMAND [ARG...]';

  static override flags: Interfaces.FlagInput = Object.fromEntries(
    RUN_FLAGS.map((spec) => [spec.name, oclifFlag(spec)]),
  ) as Interfaces.FlagInput;

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Run);
    this.exit(await runAction(flags as unknown as RunFlags, argv as string[]));
  }
}
