import {
  openDockerArchive,
  type RootfsSource,
  type SourceContext,
  type SourceResult,
  SpecError,
  sourcePath,
} from '@builder/core';
import { injectable } from '@builder/core/di';

/** `docker-archive:FILE[:NAME:TAG|:@N]`: a `docker save` archive (or skopeo's docker-archive). */
@injectable()
export class DockerArchiveRootfsSource implements RootfsSource {
  readonly transport = 'docker-archive';
  readonly usage = 'FILE[:NAME:TAG|:@N]';
  readonly description = 'a docker save archive; NAME:TAG or @N (the N-th image) picks an image (else the only one)';

  async open(reference: string, ctx: SourceContext): Promise<SourceResult> {
    const { path, suffix, name } = sourcePath(reference, ctx, true);
    if (suffix?.startsWith('@') && !/^@\d+$/.test(suffix))
      throw new SpecError(`image reference "${ctx.text}": "${suffix}" is not an image index (use @0, @1, …)`);
    return { image: await openDockerArchive(path, suffix, ctx.text), name };
  }
}
