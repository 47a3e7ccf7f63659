import { injectable, multiInject, optional } from 'inversify';
import { PluginError, SpecError } from '../errors.js';
import type { MountSpec } from '../spec/mount-spec.js';
import { didYouMean } from '../spec/suggest.js';
import { canonicalOption, checkOption, MountKind } from './mount-kind.js';

/** Every loaded MountKind by type. Two plugins claiming one type is an error. */
@injectable()
export class MountKindRegistry {
  private readonly kinds = new Map<string, MountKind>();

  constructor(@multiInject(MountKind) @optional() kinds: MountKind[] = []) {
    for (const kind of kinds) {
      const other = this.kinds.get(kind.type);
      if (other)
        throw new PluginError(
          `mount kind "${kind.type}" is contributed twice: by ${other.constructor.name} and by ${kind.constructor.name}`,
        );
      this.kinds.set(kind.type, kind);
    }
  }

  list(): MountKind[] {
    return [...this.kinds.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  /**
   * The kind of a mount, and the mount with its options checked and alias keys rewritten to the
   * options' own names. Throws SpecError naming the mount and the bad part.
   */
  resolve(mount: MountSpec): { kind: MountKind; mount: MountSpec } {
    const where = `mount on ${mount.destination}`;
    const kind = this.kinds.get(mount.type);
    if (!kind)
      throw new SpecError(`${where}: unknown mount type "${mount.type}"${didYouMean(mount.type, this.kinds.keys())}`);
    if (!mount.destination.startsWith('/')) throw new SpecError(`${where}: destination must be an absolute path`);
    for (const option of mount.options ?? []) {
      const problem = checkOption(kind.options, option);
      if (problem) {
        const names = kind.options.flatMap((o) => [o.name, ...(o.aliases ?? [])]);
        const hint = problem.startsWith('unknown') ? didYouMean(option.split('=')[0], names) : '';
        throw new SpecError(`${where} (type ${mount.type}): ${problem}${hint}`);
      }
    }
    const options = mount.options?.map((o) => canonicalOption(kind.options, o));
    return { kind, mount: options ? { ...mount, options } : mount };
  }
}
