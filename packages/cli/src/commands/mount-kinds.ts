import { Flags, type Interfaces } from '@oclif/core';
import { BuilderCommand, PLUGIN_FLAG } from '../base-command.js';
import { table } from '../table.js';

/** One row per kind, as `engine.mountKinds()` gives them (a copy of core's MountKindInfo, kept light). */
interface KindRow {
  type: string;
  description: string;
  origin: string;
  options: { name: string; value: string; description: string; aliases?: string[] }[];
}

export default class MountKinds extends BuilderCommand {
  static override summary = 'List the mount kinds the loaded plugins contribute.';
  static override description =
    `Each mount type that --mount type=…, -v and --mounts-file can use, with the plugin it comes from and what it does. With --options, also every option each kind accepts (aliases after the name), and what its value is: none (a bare word), string, octal, integer or size (a number with k, m, g or %).

Plugins are the built-in ones, then those of the config file ($BUILDER_CONFIG, else /etc/builder/config.json), then each --plugin, as for \`builder run\`.`;

  static override examples = [
    { description: 'List the mount kinds:', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Also list the options of each kind:', command: '<%= config.bin %> <%= command.id %> --options' },
    {
      description: 'See what a third-party plugin adds, as JSON:',
      command: '<%= config.bin %> <%= command.id %> --plugin ./my-plugin --json',
    },
  ];

  static override enableJsonFlag = true;

  static override flags: Interfaces.FlagInput = {
    options: Flags.boolean({ char: 'o', description: "also list each kind's options" }),
    plugin: PLUGIN_FLAG,
  };

  async run(): Promise<KindRow[]> {
    const { flags } = await this.parse(MountKinds);
    const core = await import('@builder/core');
    const { engineOptions } = await import('../engine-options.js');
    const engine = await core.createEngine(engineOptions(core, flags as { plugin?: string[]; 'log-level'?: string }));
    const kinds: KindRow[] = engine.mountKinds();
    if (this.jsonEnabled()) return kinds;
    this.log(
      table(
        ['TYPE', 'ORIGIN', 'DESCRIPTION'],
        kinds.map((k) => [k.type, k.origin, k.description]),
      ),
    );
    if (flags.options) {
      this.log('');
      this.log(
        table(
          ['TYPE', 'OPTION', 'VALUE', 'DESCRIPTION'],
          kinds.flatMap((k) =>
            k.options.map((o) => [k.type, [o.name, ...(o.aliases ?? [])].join(', '), o.value, o.description]),
          ),
        ),
      );
    }
    return kinds;
  }
}
