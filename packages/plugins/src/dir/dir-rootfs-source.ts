import type { RootfsSource, SourceContext, SourceResult } from '@builder/core';
import { sourcePath } from '@builder/core';
import { injectable } from '@builder/core/di';

/** `dir:DIR`: a prepared root filesystem directory, as `--rootfs DIR`. */
@injectable()
export class DirRootfsSource implements RootfsSource {
  readonly transport = 'dir';
  readonly usage = 'DIR';
  readonly description = 'a prepared root filesystem directory (the same as --rootfs DIR)';

  async open(reference: string, ctx: SourceContext): Promise<SourceResult> {
    return { rootfs: sourcePath(reference, ctx, false).path };
  }
}
