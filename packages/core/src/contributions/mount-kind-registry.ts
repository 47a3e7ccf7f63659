// Every loaded mount kind by type, and the one way a mount reaches its kind: checked against the kind's
// options, aliases rewritten to names, and any problem given as one line that names the mount.
import type { MountOp } from '@builder/native/pure';
import { injectable, multiInject, optional } from 'inversify';
import { PluginError, SpecError } from '../errors.js';
import type { MountSpec } from '../request/mount-spec.js';
import { didYouMean } from '../request/suggest.js';
import { canonicalOption, checkOption, MountKind, type PlanContext, PlanContextError } from './mount-kind.js';

/**
 * The SpecError of a problem with a mount of a known kind: `mount on <destination> (type <type>): <problem>`.
 * A problem that already starts so (a plugin that writes the prefix itself) keeps its one prefix.
 */
export function mountError(
  mount: MountSpec,
  problem: string,
  options: { cause?: unknown; exitCode?: number } = {},
): SpecError {
  const prefix = `mount on ${mount.destination} (type ${mount.type}): `;
  return new SpecError(problem.startsWith(prefix) ? problem : prefix + problem, options);
}

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
        throw mountError(mount, `${problem}${hint}`);
      }
    }
    const options = mount.options?.map((o) => canonicalOption(kind.options, o));
    return { kind, mount: options ? { ...mount, options } : mount };
  }

  /**
   * A mount's ops, planned by its kind from the resolved mount. A SpecError of the kind's plan() gets
   * the mount's prefix (`mount on /x (type bind): `); other errors, and those of the context, pass as
   * they are.
   */
  plan(mount: MountSpec, ctx: PlanContext): MountOp[] {
    const resolved = this.resolve(mount);
    try {
      return resolved.kind.plan(resolved.mount, ctx);
    } catch (err) {
      if (!(err instanceof SpecError) || err instanceof PlanContextError) throw err;
      const prefixed = mountError(mount, err.message, { cause: err, exitCode: err.exitCode });
      throw prefixed.message === err.message ? err : prefixed;
    }
  }
}
