import { resolve } from 'node:path';
import { SpecError } from '../errors.js';
import { didYouMean } from '../spec/suggest.js';

/** Where an image or a root filesystem comes from, in the transport syntax of skopeo and podman. */
export type ImageRef =
  /** An OCI image layout directory; `tag` picks a manifest by its `org.opencontainers.image.ref.name`. */
  | { transport: 'oci'; path: string; tag?: string; text: string }
  /** A tar of an OCI image layout. */
  | { transport: 'oci-archive'; path: string; tag?: string; text: string }
  /** A `docker save` archive; `ref` is a repo tag (`name:tag`) or `@N`, the N-th image in it. */
  | { transport: 'docker-archive'; path: string; ref?: string; text: string }
  /** One root filesystem tarball, plain, gzip or zstd. */
  | { transport: 'tar'; path: string; text: string }
  /** A prepared root filesystem directory. */
  | { transport: 'dir'; path: string; text: string };

export type ImageTransport = ImageRef['transport'];

export const IMAGE_TRANSPORTS: readonly ImageTransport[] = ['oci', 'oci-archive', 'docker-archive', 'tar', 'dir'];

const USAGE = 'oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], tar:FILE or dir:DIR';

/**
 * Parses `TRANSPORT:PATH[:TAG]`. As in containers/image, the path ends at the first `:` for the
 * transports that take a tag or reference (so such paths cannot contain `:`); `tar:` and `dir:` take
 * the whole rest as the path. Relative paths are resolved from `cwd`.
 */
export function parseImageRef(text: string, cwd: string = process.cwd()): ImageRef {
  const colon = text.indexOf(':');
  if (colon < 0) throw new SpecError(`image reference "${text}" has no transport: use ${USAGE}`);
  const transport = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  if (!(IMAGE_TRANSPORTS as readonly string[]).includes(transport)) {
    throw new SpecError(
      `unknown image transport "${transport}" in "${text}"${didYouMean(transport, IMAGE_TRANSPORTS)}: use ${USAGE}`,
    );
  }
  const t = transport as ImageTransport;
  let path = rest;
  let suffix: string | undefined;
  if (t === 'oci' || t === 'oci-archive' || t === 'docker-archive') {
    const sep = rest.indexOf(':');
    if (sep >= 0) {
      path = rest.slice(0, sep);
      suffix = rest.slice(sep + 1);
      if (suffix === '') throw new SpecError(`image reference "${text}" has an empty tag after ":"`);
    }
  }
  if (path === '') throw new SpecError(`image reference "${text}" has no path: use ${USAGE}`);
  if (path.includes('\0')) throw new SpecError(`image reference "${text}" contains a NUL byte`);
  const abs = resolve(cwd, path);
  switch (t) {
    case 'oci':
    case 'oci-archive':
      return suffix === undefined ? { transport: t, path: abs, text } : { transport: t, path: abs, tag: suffix, text };
    case 'docker-archive':
      if (suffix?.startsWith('@') && !/^@\d+$/.test(suffix)) {
        throw new SpecError(`image reference "${text}": "${suffix}" is not an image index (use @0, @1, …)`);
      }
      return suffix === undefined ? { transport: t, path: abs, text } : { transport: t, path: abs, ref: suffix, text };
    default:
      return { transport: t, path: abs, text };
  }
}
