import type { Interfaces } from '@oclif/core';
import { BuilderCommand, oclifFlag } from '../base-command.js';
import { runAction } from '../run-action.js';
import { RUN_FLAGS, type RunFlags } from '../run-flags.js';

export default class Run extends BuilderCommand {
  static override summary = 'Run a command in a fresh container.';
  static override description =
    `The command runs as PID 1 of new mount, PID, UTS and IPC namespaces, on a root filesystem with the default mounts (/proc, /sys read-only, /dev with the standard nodes, /dev/pts, /dev/shm, /dev/mqueue). Nothing it mounts is visible on the host.

Without --rootfs, the root filesystem is a copy-on-write view of the host's own root: the command sees the host's files, and whatever it writes is thrown away when it exits.

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
      description: 'Pass the exit status through:',
      command: `<%= config.bin %> <%= command.id %> --rootfs ./rootfs -- sh -c 'exit 7'; echo $?`,
    },
  ];

  static override strict = false;
  static override usage =
    '<%= command.id %> [--rootfs DIR] [-e KEY=VALUE]... [--workdir DIR] [--hostname NAME] [--] COMMAND [ARG...]';

  static override flags: Interfaces.FlagInput = Object.fromEntries(
    RUN_FLAGS.map((spec) => [spec.name, oclifFlag(spec)]),
  ) as Interfaces.FlagInput;

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Run);
    this.exit(await runAction(flags as unknown as RunFlags, argv as string[]));
  }
}
