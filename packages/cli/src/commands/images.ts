import type { ImageInfo } from '@builder/core';
import { Flags, type Interfaces } from '@oclif/core';
import { BuilderCommand, STORE_ROOT_FLAG } from '../base-command.js';
import { ago, humanSize, table } from '../table.js';

/** One image as `engine.images()` gives it, without its config. */
type ImageRow = Omit<ImageInfo, 'config'>;

export default class Images extends BuilderCommand {
  static override summary = 'List the images in the layer store.';
  static override description =
    `Every image a run has used: its ID (the digest of its config), the references it was run as, its layers, the size of its unpacked layers and when a run last used it. An image whose references have all moved to newer images shows <none>; \`builder prune\` removes those and the layers nothing needs any more.`;

  static override examples = [
    { description: 'List the images:', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Full IDs, as JSON:', command: '<%= config.bin %> <%= command.id %> --json' },
    { description: 'Images of another store:', command: '<%= config.bin %> <%= command.id %> --root /srv/builder' },
  ];

  static override enableJsonFlag = true;

  static override flags: Interfaces.FlagInput = {
    root: STORE_ROOT_FLAG,
    'no-trunc': Flags.boolean({ description: 'show full image IDs' }),
  };

  async run(): Promise<ImageRow[]> {
    const { flags } = await this.parse(Images);
    const core = await import('@builder/core');
    const { engineOptions } = await import('../engine-options.js');
    const engine = await core.createEngine(engineOptions(core, flags as { root?: string; 'log-level'?: string }));
    const images: ImageRow[] = engine.images().map(({ id, names, layers, size, created, lastUsed }) => ({
      id,
      names,
      layers,
      size,
      created,
      lastUsed,
    }));
    if (this.jsonEnabled()) return images;
    const hex = (id: string) => (flags['no-trunc'] ? id : id.replace(/^sha256:/, '').slice(0, 12));
    this.log(
      table(
        ['IMAGE ID', 'LAYERS', 'SIZE', 'LAST USED', 'NAMES'],
        images.map((i) => [
          hex(i.id),
          String(i.layers.length),
          humanSize(i.size),
          ago(i.lastUsed),
          i.names.length ? i.names.join(', ') : '<none>',
        ]),
      ),
    );
    return images;
  }
}
