import {
  type BindOp,
  canonicalOption,
  flagOptions,
  type MountKind,
  type MountOp,
  type MountSpec,
  type OptionSpec,
  oppositeFlagWord,
  type PlanContext,
  SpecError,
  splitOption,
} from '@builder/core';
import { injectable } from '@builder/core/di';

/** Propagation words, as `bind-propagation=<word>` or bare (`rshared`). */
export const PROPAGATIONS = [
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
] as const;
type Propagation = (typeof PROPAGATIONS)[number];
const isPropagation = (word: string): word is Propagation => (PROPAGATIONS as readonly string[]).includes(word);

/** The per-mount flag words this kind takes; each contradicts its opposite (`ro`/`rw` …). */
const FLAG_WORDS = new Set(['ro', 'rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec']);

/**
 * A host file or directory bound into the container. Recursive (rbind) by default, as docker does;
 * the source is staged (pinned in the run's private scratch space) before anything is mounted,
 * unless `nobind` is given.
 */
@injectable()
export class BindMountKind implements MountKind {
  readonly type = 'bind';
  readonly description = 'A host file or directory bound into the container (recursive unless "bind" is given).';
  readonly options: readonly OptionSpec[] = [
    { name: 'ro', value: 'none', description: 'read-only (submounts too when recursive)', aliases: ['readonly'] },
    ...flagOptions('rw', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec'),
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
      description: 'bind straight from the host path, without the intermediate staging (engine-only)',
    },
    { name: 'U', value: 'none', description: 'give the source, recursively, to the container user first (as buildah)' },
  ];

  plan(mount: MountSpec, ctx: PlanContext): MountOp[] {
    const fail = (problem: string): never => {
      throw new SpecError(`mount on ${mount.destination} (type ${this.type}): ${problem}`);
    };
    const source = mount.source;
    if (source === undefined || source === '') fail('a source (the host path to bind) is required');
    else if (!source.startsWith('/')) fail(`source "${source}" must be an absolute path`);

    const flags: string[] = [];
    let recursion: 'bind' | 'rbind' | undefined;
    let propagation: Propagation | undefined;
    let stage = true;
    let chown: { uid: number; gid: number } | undefined;
    const setPropagation = (word: string) => {
      if (!isPropagation(word)) fail(`bind-propagation "${word}" is not one of ${PROPAGATIONS.join(', ')}`);
      else if (propagation !== undefined && propagation !== word)
        fail(`conflicting propagation options "${propagation}" and "${word}"`);
      else propagation = word;
    };
    for (const raw of mount.options ?? []) {
      const option = canonicalOption(this.options, raw);
      const { key, value } = splitOption(option);
      if (key === 'bind' || key === 'rbind') {
        if (recursion !== undefined && recursion !== key) fail(`conflicting options "${recursion}" and "${key}"`);
        recursion = key;
      } else if (key === 'bind-propagation') setPropagation(value ?? '');
      else if (isPropagation(key)) setPropagation(key);
      else if (key === 'nobind') stage = false;
      else if (key === 'U') chown = { uid: ctx.user.uid, gid: ctx.user.gid };
      else if (key === 'z' || key === 'Z') {
        // SELinux relabeling: these machines have no SELinux, so there is nothing to do.
      } else if (FLAG_WORDS.has(key)) {
        const opposite = oppositeFlagWord(key) as string;
        if (flags.includes(opposite)) fail(`conflicting options "${opposite}" and "${key}"`);
        if (!flags.includes(key)) flags.push(key);
      } else fail(`unknown option "${key}"`);
    }
    const op: BindOp = {
      op: 'bind',
      source: source as string,
      target: mount.destination,
      recursive: recursion !== 'bind',
      stage,
      ...(flags.length ? { flags } : {}),
      ...(propagation ? { propagation } : {}),
      ...(chown ? { chown } : {}),
    };
    return [op];
  }
}
