import { Flags, type Interfaces } from '@oclif/core';
import { BuilderCommand, STORE_ROOT_FLAG } from '../base-command.js';
import { humanSize } from '../table.js';

interface PruneRow {
  images: string[];
  layers: string[];
  bytes: number;
  inUse: string[];
}

export default class Prune extends BuilderCommand {
  static override summary = 'Remove unused images and layers from the layer store.';
  static override description =
    `Removes the images without a name (their references moved to newer images) and every layer that no remaining image needs; with --all, every image and then every layer. A layer that a running command is using stays, and is listed as in use. What an interrupted unpack left behind goes too.

Images are read again from their source (oci:, docker-archive: …) by the next run that names them, so pruning never loses anything but time.`;

  static override examples = [
    { description: 'Remove what no named image needs:', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Empty the store, as JSON:', command: '<%= config.bin %> <%= command.id %> --all --json' },
  ];

  static override enableJsonFlag = true;

  static override flags: Interfaces.FlagInput = {
    root: STORE_ROOT_FLAG,
    all: Flags.boolean({ char: 'a', description: 'remove every image, and every layer not in use' }),
  };

  async run(): Promise<PruneRow> {
    const { flags } = await this.parse(Prune);
    const core = await import('@builder/core');
    const { engineOptions } = await import('../engine-options.js');
    const engine = await core.createEngine(engineOptions(core, flags as { root?: string; 'log-level'?: string }));
    const result: PruneRow = await engine.prune({ all: flags.all as boolean });
    if (this.jsonEnabled()) return result;
    const n = (count: number, what: string) => `${count} ${what}${count === 1 ? '' : 's'}`;
    this.log(
      `Removed ${n(result.images.length, 'image')} and ${n(result.layers.length, 'layer')}, ${humanSize(result.bytes)} freed` +
        (result.inUse.length ? `; ${n(result.inUse.length, 'layer')} in use kept` : ''),
    );
    return result;
  }
}
