import { openOciArchive, type RootfsSource, type SourceContext, type SourceResult, sourcePath } from '@builder/core';
import { injectable } from '@builder/core/di';

/** `oci-archive:FILE[:TAG]`: a tar of an OCI image layout (`buildah push … oci-archive:`). */
@injectable()
export class OciArchiveRootfsSource implements RootfsSource {
  readonly transport = 'oci-archive';
  readonly usage = 'FILE[:TAG]';
  readonly description = 'a tar of an OCI image layout; TAG picks a manifest by its ref.name (else the only one)';

  async open(reference: string, ctx: SourceContext): Promise<SourceResult> {
    const { path, suffix, name } = sourcePath(reference, ctx, true);
    return { image: await openOciArchive(path, suffix, ctx.text), name };
  }
}
