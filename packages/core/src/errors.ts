/** Base of every error the engine raises on purpose. `exitCode` is what the CLI exits with. */
export class BuilderError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 125;
  }
}

/** A run spec, a mount, a flag or an option that is not valid. */
export class SpecError extends BuilderError {}

/** A plugin that cannot be loaded or that conflicts with another. */
export class PluginError extends BuilderError {}

/** A root filesystem that cannot be used. */
export class RootfsError extends BuilderError {}

/** The engine failed while setting up or supervising a run. */
export class RunError extends BuilderError {}

/** The command could not be executed: 127 when it was not found, 126 when it could not be run. */
export class ExecError extends BuilderError {}

/** An image (OCI layout, oci-archive, docker-archive, rootfs tarball) that cannot be read or used. */
export class ImageError extends BuilderError {}

/** A layer tarball that is malformed, ambiguous or unsafe, or that does not match its digest or media type. */
export class LayerError extends BuilderError {}
