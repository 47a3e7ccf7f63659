import { injectable, multiInject, optional } from 'inversify';
import { PluginError, SpecError } from '../errors.js';
import { fileDigest as hashFile } from '../image/index.js';
import { didYouMean } from '../request/suggest.js';
import { RootfsSource, type SourceResult } from './rootfs-source.js';

/** Every loaded RootfsSource by transport. Two plugins claiming one transport is an error. */
@injectable()
export class RootfsSourceRegistry {
  private readonly sources = new Map<string, RootfsSource>();

  constructor(@multiInject(RootfsSource) @optional() sources: RootfsSource[] = []) {
    for (const source of sources) {
      const other = this.sources.get(source.transport);
      if (other)
        throw new PluginError(
          `image transport "${source.transport}" is contributed twice: by ${other.constructor.name} and by ${source.constructor.name}`,
        );
      if (!/^[a-z][a-z0-9-]*$/.test(source.transport))
        throw new PluginError(
          `${source.constructor.name}: image transport "${source.transport}" must be lower-case letters, digits and "-"`,
        );
      this.sources.set(source.transport, source);
    }
  }

  list(): RootfsSource[] {
    return [...this.sources.values()].sort((a, b) => a.transport.localeCompare(b.transport));
  }

  /** `transport:usage` of every source, for error messages. */
  usage(): string {
    const all = this.list().map((s) => `${s.transport}:${s.usage}`);
    return all.length > 1 ? `${all.slice(0, -1).join(', ')} or ${all.at(-1)}` : (all[0] ?? '(no source is loaded)');
  }

  /** The source of a reference and the text after its transport; SpecError when there is none. */
  find(text: string): { source: RootfsSource; reference: string } {
    const colon = text.indexOf(':');
    if (colon < 0) throw new SpecError(`image reference "${text}" has no transport: use ${this.usage()}`);
    const transport = text.slice(0, colon);
    const source = this.sources.get(transport);
    if (!source)
      throw new SpecError(
        `unknown image transport "${transport}" in "${text}"${didYouMean(transport, this.sources.keys())}: use ${this.usage()}`,
      );
    return { source, reference: text.slice(colon + 1) };
  }

  /** Open a reference with its transport's source (`fileDigest`: default, hash the file every time). */
  open(
    text: string,
    cwd: string = process.cwd(),
    fileDigest: (file: string) => Promise<string> = hashFile,
  ): Promise<SourceResult> {
    const { source, reference } = this.find(text);
    return source.open(reference, { text, cwd, fileDigest });
  }
}
