import { resolve } from 'node:path';
import { ContainerModule, type Newable } from 'inversify';
import { SpecError } from '../errors.js';
import type { OpenImage } from '../image/index.js';

/**
 * Contribution point: where a root filesystem comes from. A source handles the references of one
 * transport, the word before the first `:` of `--image` (`oci:DIR:TAG`, `docker-archive:FILE` …, the
 * syntax of skopeo and podman). Plugins bind implementations to this symbol.
 */
export const RootfsSource = Symbol.for('builder.RootfsSource');

export interface RootfsSource {
  /** The transport: what comes before the first `:` of a reference. */
  readonly transport: string;
  /** One line for `builder sources`. */
  readonly description: string;
  /** What follows `transport:`, for help and errors (`DIR[:TAG]`). */
  readonly usage: string;
  /**
   * Open a reference: `reference` is the text after `transport:`. Either a prepared root filesystem
   * directory, or an image whose layers the engine unpacks into its layer store (the engine closes
   * the image when it is done with it). Throws SpecError for a malformed reference, ImageError for an
   * image that cannot be read.
   */
  open(reference: string, ctx: SourceContext): Promise<SourceResult>;
}

export interface SourceContext {
  /** The whole reference as given (`oci:./L:base`), for error messages. */
  readonly text: string;
  /** The directory relative paths are taken from. */
  readonly cwd: string;
  /**
   * The sha256 of a local file (`sha256:<hex>`), e.g. of a tarball that is used as a layer. The
   * engine's store remembers it with the file's identity, so a file that has not changed since is not
   * read again on the next run.
   */
  readonly fileDigest: (file: string) => Promise<string>;
}

export type SourceResult =
  /** A root filesystem directory used as it is (the run gets a throw-away overlay on it). */
  | { rootfs: string }
  /**
   * An image: layers (bottom first) and run-time config. `name` is what the store records it as
   * (`builder images`), the reference in a canonical form (absolute paths); default: as given.
   */
  | { image: OpenImage; name?: string };

/**
 * Splits the text after `transport:` into a path and, when `suffix` is allowed, what follows the path's
 * first `:` (a tag or an image reference: so such paths cannot contain `:`, as in containers/image).
 * The path is made absolute from `ctx.cwd`; `name` is the whole reference with that absolute path.
 * Throws SpecError for an empty path or an empty suffix.
 */
export function sourcePath(
  reference: string,
  ctx: SourceContext,
  suffix: boolean,
): { path: string; suffix?: string; name: string } {
  let path = reference;
  let rest: string | undefined;
  if (suffix) {
    const sep = reference.indexOf(':');
    if (sep >= 0) {
      path = reference.slice(0, sep);
      rest = reference.slice(sep + 1);
      if (rest === '') throw new SpecError(`image reference "${ctx.text}" has an empty tag after ":"`);
    }
  }
  if (path === '') throw new SpecError(`image reference "${ctx.text}" has no path`);
  if (path.includes('\0')) throw new SpecError(`image reference "${ctx.text}" contains a NUL byte`);
  const abs = resolve(ctx.cwd, path);
  const name = `${ctx.text.slice(0, ctx.text.indexOf(':'))}:${abs}${rest === undefined ? '' : `:${rest}`}`;
  return rest === undefined ? { path: abs, name } : { path: abs, suffix: rest, name };
}

/**
 * The ContainerModule of a plugin that contributes one rootfs source: binds the class as itself and as
 * a RootfsSource.
 */
export function rootfsSourceModule(source: Newable<RootfsSource>): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(source).toSelf();
    bind(RootfsSource).toService(source);
  });
}
