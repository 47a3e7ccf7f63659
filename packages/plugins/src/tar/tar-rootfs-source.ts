import { openRootfsTar, type RootfsSource, type SourceContext, type SourceResult, sourcePath } from '@builder/core';
import { injectable } from '@builder/core/di';

/** `tar:FILE`: one root filesystem tarball, plain, gzip or zstd (`tar -C rootfs -czf rootfs.tar.gz .`). */
@injectable()
export class TarRootfsSource implements RootfsSource {
  readonly transport = 'tar';
  readonly usage = 'FILE';
  readonly description = 'a root filesystem tarball (plain, gzip or zstd), used as a one-layer image';

  async open(reference: string, ctx: SourceContext): Promise<SourceResult> {
    const { path, name } = sourcePath(reference, ctx, false);
    return { image: await openRootfsTar(path, ctx.text, ctx.fileDigest), name };
  }
}
