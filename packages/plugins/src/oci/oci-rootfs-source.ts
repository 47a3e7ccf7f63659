import { openOciLayout, type RootfsSource, type SourceContext, type SourceResult, sourcePath } from '@builder/core';
import { injectable } from '@builder/core/di';

/** `oci:DIR[:TAG]`: an OCI image layout directory (what `skopeo copy … oci:DIR:TAG` and umoci write). */
@injectable()
export class OciRootfsSource implements RootfsSource {
  readonly transport = 'oci';
  readonly usage = 'DIR[:TAG]';
  readonly description = 'an OCI image layout directory; TAG picks a manifest by its ref.name (else the only one)';

  async open(reference: string, ctx: SourceContext): Promise<SourceResult> {
    const { path, suffix, name } = sourcePath(reference, ctx, true);
    return { image: await openOciLayout(path, suffix, ctx.text), name };
  }
}
