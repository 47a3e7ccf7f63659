import type { SourceInfo } from '@builder/core';
import type { Interfaces } from '@oclif/core';
import { BuilderCommand, PLUGIN_FLAG } from '../base-command.js';
import { table } from '../table.js';

export default class Sources extends BuilderCommand {
  static override summary = 'List the image transports the loaded plugins contribute.';
  static override description =
    `Each transport that \`builder run --image TRANSPORT:…\` can use, what follows the colon, the plugin it comes from and what it reads. Plugins are the built-in ones, then those of the config file, then each --plugin, as for \`builder run\`.`;

  static override examples = [
    { description: 'List the transports:', command: '<%= config.bin %> <%= command.id %>' },
    {
      description: 'See what a third-party plugin adds, as JSON:',
      command: '<%= config.bin %> <%= command.id %> --plugin ./my-source --json',
    },
  ];

  static override enableJsonFlag = true;

  static override flags: Interfaces.FlagInput = { plugin: PLUGIN_FLAG };

  async run(): Promise<SourceInfo[]> {
    const { flags } = await this.parse(Sources);
    const core = await import('@builder/core');
    const { engineOptions } = await import('../engine-options.js');
    const engine = await core.createEngine(engineOptions(core, flags as { plugin?: string[]; 'log-level'?: string }));
    const rows: SourceInfo[] = engine.sources();
    if (this.jsonEnabled()) return rows;
    this.log(
      table(
        ['TRANSPORT', 'REFERENCE', 'ORIGIN', 'DESCRIPTION'],
        rows.map((s) => [s.transport, `${s.transport}:${s.usage}`, s.origin, s.description]),
      ),
    );
    return rows;
  }
}
