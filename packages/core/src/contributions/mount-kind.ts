// The MountKind contribution point (what a plugin implements for a `type` of mount) and the helpers
// kinds plan with: option specs and their checking, flag words, the usual plan of a kernel filesystem.
import type { FlagWord, MountFsOp, MountOp } from '@builder/native/pure';
import { isFlagWord, oppositeFlagWord } from '@builder/native/pure';
import { ContainerModule, type Newable } from 'inversify';
import { SpecError } from '../errors.js';
import { type MountSpec, splitOption } from '../request/mount-spec.js';

/** Contribution point: a kind of mount (`tmpfs`, `proc` …). Plugins bind implementations to this symbol. */
export const MountKind = Symbol.for('builder.MountKind');

export interface MountKind {
  /** Matches `MountSpec.type`. */
  readonly type: string;
  /** One line for `builder mount-kinds`. */
  readonly description: string;
  /** Every option the kind accepts; any other option is an error. */
  readonly options: readonly OptionSpec[];
  /**
   * Describe the mount as ops. Pure: no I/O, no syscalls. Options are already checked, and their
   * aliases rewritten to the options' names. A problem the option table cannot express is a
   * SpecError with the problem alone: the registry adds which mount it is about.
   */
  plan(mount: MountSpec, ctx: PlanContext): MountOp[];
}

export type OptionValue = 'none' | 'string' | 'octal' | 'integer' | 'size';

export interface OptionSpec {
  name: string;
  /** What follows `=`: `none` for a bare word. */
  value: OptionValue;
  description: string;
  /** Other spellings users bring (`tmpfs-size` for `size`); the kind's plan() sees only `name`. */
  aliases?: string[];
}

export interface PlanContext {
  /** The run's id (12 hex digits). */
  readonly runId: string;
  /**
   * The ids the command runs as, when they are known before the run: 0:0 without a user, the numbers
   * of a `UID:GID` user. A user given by name or by uid alone is looked up in the container's own
   * /etc/passwd when the run starts: then reading `uid` or `gid` throws a SpecError saying so.
   */
  readonly user: { readonly uid: number; readonly gid: number };
}

/**
 * What a PlanContext throws when the plan asks for what the run cannot know yet (the ids of a user
 * given by name): a problem of the run, not of the mount, so the registry passes it on as it is.
 */
export class PlanContextError extends SpecError {
  constructor(message: string) {
    super(message);
    // To everyone but the registry it is a SpecError like any other.
    this.name = 'SpecError';
  }
}

const VALUE_PATTERNS: Record<Exclude<OptionValue, 'none'>, RegExp> = {
  string: /^.+$/s,
  octal: /^0?[0-7]{1,4}$/,
  integer: /^\d+$/,
  size: /^\d+[kmgKMG%]?$/,
};

/** The option spec of each mount flag word (`ro`, `nosuid` …), for kinds that accept them. */
export function flagOptions(...words: FlagWord[]): OptionSpec[] {
  return words.map((name) => {
    // Plain JavaScript plugins have no type to stop them.
    if (!isFlagWord(name)) throw new Error(`not a mount flag word: ${name}`);
    return { name, value: 'none', description: `mount flag ${name}` };
  });
}

/**
 * Add a flag word to a plan's flags, once, for a kind that refuses contradictions: a SpecError when
 * the word's opposite is already there (`ro` after `rw`).
 */
export function addFlagWord<W extends FlagWord>(flags: W[], word: W): void {
  const opposite = oppositeFlagWord(word);
  if (opposite !== undefined && (flags as FlagWord[]).includes(opposite))
    throw new SpecError(`conflicting options "${opposite}" and "${word}"`);
  if (!flags.includes(word)) flags.push(word);
}

const findSpec = (specs: readonly OptionSpec[], key: string) =>
  specs.find((s) => s.name === key || s.aliases?.includes(key));

/**
 * An option with an alias key rewritten to the option's own name (`tmpfs-size=1m` → `size=1m`). The
 * registry does it for every mount before its kind plans it.
 */
export function canonicalOption(specs: readonly OptionSpec[], option: string): string {
  const { key, value } = splitOption(option);
  const spec = findSpec(specs, key);
  if (!spec || spec.name === key) return option;
  return value === undefined ? spec.name : `${spec.name}=${value}`;
}

/** Check one option against a kind's specs; returns the problem, or undefined when it is fine. */
export function checkOption(specs: readonly OptionSpec[], option: string): string | undefined {
  const { key, value } = splitOption(option);
  const spec = findSpec(specs, key);
  if (!spec) return `unknown option "${key}"`;
  if (spec.value === 'none') return value === undefined ? undefined : `option "${key}" takes no value`;
  if (value === undefined || value === '') return `option "${key}" needs a value`;
  return VALUE_PATTERNS[spec.value].test(value)
    ? undefined
    : `option "${key}": "${value}" is not a valid ${spec.value}`;
}

/**
 * The usual plan of a kernel filesystem: one mount op, options that are flag words become flags,
 * the rest becomes filesystem data. `defaults` come first, so the user's options override them.
 */
export function mountFsOp(mount: MountSpec, fstype: string, defaults: readonly string[] = []): MountFsOp {
  const flags: FlagWord[] = [];
  const data = new Map<string, string>();
  for (const option of [...defaults, ...(mount.options ?? [])]) {
    if (!isFlagWord(option)) data.set(splitOption(option).key, option);
    else {
      // A repeated word only needs its last place: flags fold left to right.
      const seen = flags.indexOf(option);
      if (seen >= 0) flags.splice(seen, 1);
      flags.push(option);
    }
  }
  return {
    op: 'mount',
    fstype,
    source: mount.source ?? fstype,
    target: mount.destination,
    ...(flags.length ? { flags } : {}),
    ...(data.size ? { data: [...data.values()] } : {}),
  };
}

/**
 * The ContainerModule of a plugin that contributes one mount kind: binds the class as itself and
 * as a MountKind (`bind(X).toSelf(); bind(MountKind).toService(X)`).
 */
export function mountKindModule(kind: Newable<MountKind>): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(kind).toSelf();
    bind(MountKind).toService(kind);
  });
}
