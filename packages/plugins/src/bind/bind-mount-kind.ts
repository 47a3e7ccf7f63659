// The `bind` mount kind: a host path bound into the container (docker's and buildah's options).
import {
  addFlagWord,
  type BindOp,
  flagOptions,
  flagWordsWhere,
  isMountAttrWord,
  isOneOf,
  isPropagation,
  type MountAttrWord,
  type MountKind,
  type MountOp,
  type MountSpec,
  type OptionSpec,
  type PlanContext,
  PROPAGATIONS,
  type Propagation,
  SpecError,
  splitOption,
} from '@builder/core';
import { injectable } from '@builder/core/di';

export { PROPAGATIONS };

/** The flag words this kind takes: the per-mount ones of `-v` (ro/rw, nosuid/suid, nodev/dev, noexec/exec). */
const FLAG_WORDS: readonly MountAttrWord[] = flagWordsWhere((row) => row.volume !== undefined).filter(isMountAttrWord);
const isOwnFlag = isOneOf(FLAG_WORDS);

/**
 * A host file or directory bound into the container. Recursive (rbind) by default, as docker does;
 * the source is pinned (bound in the run's private scratch space) before anything is mounted,
 * unless `nobind` is given.
 */
@injectable()
export class BindMountKind implements MountKind {
  readonly type = 'bind';
  readonly description = 'A host file or directory bound into the container (recursive unless "bind" is given).';
  readonly options: readonly OptionSpec[] = [
    ...flagOptions(...FLAG_WORDS).map((o) =>
      o.name === 'ro' ? { ...o, description: 'read-only (submounts too when recursive)', aliases: ['readonly'] } : o,
    ),
    {
      name: 'bind',
      value: 'none',
      description: 'non-recursive: submounts of the source are not carried over',
      aliases: ['bind-nonrecursive'],
    },
    { name: 'rbind', value: 'none', description: 'recursive: submounts of the source come along (the default)' },
    {
      name: 'bind-propagation',
      value: 'string',
      description: `mount propagation: ${PROPAGATIONS.join('|')}`,
    },
    ...PROPAGATIONS.map((name): OptionSpec => ({ name, value: 'none', description: `mount propagation ${name}` })),
    { name: 'z', value: 'none', description: 'SELinux shared label (accepted; no SELinux here: nothing to do)' },
    { name: 'Z', value: 'none', description: 'SELinux private label (accepted; no SELinux here: nothing to do)' },
    {
      name: 'nobind',
      value: 'none',
      description: 'bind straight from the host path, without pinning it first (engine-only)',
    },
    { name: 'U', value: 'none', description: 'give the source, recursively, to the container user first (as buildah)' },
  ];

  plan(mount: MountSpec, ctx: PlanContext): MountOp[] {
    const fail = (problem: string): never => {
      throw new SpecError(problem);
    };
    const source = mount.source;
    if (source === undefined || source === '') fail('a source (the host path to bind) is required');
    else if (!source.startsWith('/')) fail(`source "${source}" must be an absolute path`);

    const flags: MountAttrWord[] = [];
    let recursion: 'bind' | 'rbind' | undefined;
    let propagation: Propagation | undefined;
    let pin = true;
    let chown: { uid: number; gid: number } | undefined;
    const setPropagation = (word: string) => {
      if (!isPropagation(word)) fail(`bind-propagation "${word}" is not one of ${PROPAGATIONS.join(', ')}`);
      else if (propagation !== undefined && propagation !== word)
        fail(`conflicting propagation options "${propagation}" and "${word}"`);
      else propagation = word;
    };
    for (const option of mount.options ?? []) {
      const { key, value } = splitOption(option);
      if (key === 'bind' || key === 'rbind') {
        if (recursion !== undefined && recursion !== key) fail(`conflicting options "${recursion}" and "${key}"`);
        recursion = key;
      } else if (key === 'bind-propagation') setPropagation(value ?? '');
      else if (isPropagation(key)) setPropagation(key);
      else if (key === 'nobind') pin = false;
      else if (key === 'U') chown = { uid: ctx.user.uid, gid: ctx.user.gid };
      else if (key === 'z' || key === 'Z') {
        // SELinux relabeling: these machines have no SELinux, so there is nothing to do.
      } else if (isOwnFlag(key)) addFlagWord(flags, key);
      else fail(`unknown option "${key}"`);
    }
    const op: BindOp = {
      op: 'bind',
      source: source as string,
      target: mount.destination,
      recursive: recursion !== 'bind',
      pin,
      ...(flags.length ? { flags } : {}),
      ...(propagation ? { propagation } : {}),
      ...(chown ? { chown } : {}),
    };
    return [op];
  }
}
