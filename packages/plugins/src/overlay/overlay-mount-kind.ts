// The `overlay` mount kind: an overlay of host directories (and what `-v …:O` becomes).
import {
  addFlagWord,
  type FlagWord,
  flagOptions,
  flagWordsWhere,
  isOneOf,
  type MountKind,
  type MountOp,
  type MountSpec,
  type OptionSpec,
  type OverlayOp,
  SpecError,
  splitOption,
} from '@builder/core';
import { injectable } from '@builder/core/di';

/**
 * The flag words this kind takes: those of `-v`, which passes them on with its `O` (ro/rw, nosuid/suid,
 * nodev/dev, noexec/exec). Each contradicts its opposite.
 */
const FLAG_WORDS: readonly FlagWord[] = flagWordsWhere((row) => row.volume !== undefined);
const isOwnFlag = isOneOf(FLAG_WORDS);

/**
 * Split a `lowerdir=` value into paths, top first: `:` separates, `\:` is a colon in a path and
 * `\\` a backslash. Returns the paths, or a problem.
 */
export function splitLowerdirs(value: string): { dirs: string[] } | { problem: string } {
  const dirs: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\') {
      const next = value[i + 1];
      if (next !== ':' && next !== '\\')
        return { problem: `lowerdir "${value}": a backslash must be followed by ":" or "\\"` };
      current += next;
      i++;
    } else if (ch === ':') {
      dirs.push(current);
      current = '';
    } else current += ch;
  }
  dirs.push(current);
  const bad = dirs.find((d) => !d.startsWith('/'));
  if (bad !== undefined)
    return {
      problem: bad === '' ? `lowerdir "${value}" has an empty path` : `lowerdir "${bad}" must be an absolute path`,
    };
  return { dirs };
}

/**
 * An overlay of host directories. Read-only unless it has an upper layer: `upperdir` + `workdir`
 * (host directories that receive the writes) or `tmpfs-upper` (a throw-away upper on tmpfs).
 */
@injectable()
export class OverlayMountKind implements MountKind {
  readonly type = 'overlay';
  readonly description =
    'An overlay of host directories; writable with upperdir+workdir or tmpfs-upper, else read-only.';
  readonly options: readonly OptionSpec[] = [
    {
      name: 'lowerdir',
      value: 'string',
      description: 'lower layers A:B:C, top first (\\: is a colon, \\\\ a backslash); default: the source',
    },
    { name: 'upperdir', value: 'string', description: 'host directory that receives the writes (needs workdir)' },
    { name: 'workdir', value: 'string', description: "overlayfs' work directory, empty, on upperdir's filesystem" },
    { name: 'tmpfs-upper', value: 'none', description: 'writable, with a throw-away upper layer on tmpfs' },
    ...flagOptions(...FLAG_WORDS),
  ];

  plan(mount: MountSpec): MountOp[] {
    const fail = (problem: string): never => {
      throw new SpecError(problem);
    };
    const values = new Map<string, string>();
    const flags: FlagWord[] = [];
    let scratchUpper = false;
    for (const option of mount.options ?? []) {
      const { key, value } = splitOption(option);
      if (key === 'tmpfs-upper') scratchUpper = true;
      else if (key === 'lowerdir' || key === 'upperdir' || key === 'workdir') {
        const seen = values.get(key);
        if (seen !== undefined && seen !== value) fail(`option "${key}" is given twice`);
        values.set(key, value ?? '');
      } else if (isOwnFlag(key)) addFlagWord(flags, key);
      else fail(`unknown option "${key}"`);
    }

    let lowerdirs: string[];
    const lowerdir = values.get('lowerdir');
    if (lowerdir !== undefined) {
      const split = splitLowerdirs(lowerdir);
      if ('problem' in split) return fail(split.problem);
      lowerdirs = split.dirs;
    } else if (mount.source) {
      if (!mount.source.startsWith('/'))
        fail(`source "${mount.source}" (the lower directory) must be an absolute path`);
      lowerdirs = [mount.source];
    } else return fail('needs a lower directory: a lowerdir option or a source');

    const upperdir = values.get('upperdir');
    const workdir = values.get('workdir');
    if ((upperdir === undefined) !== (workdir === undefined)) fail('upperdir and workdir go together: give both');
    for (const [name, dir] of [
      ['upperdir', upperdir],
      ['workdir', workdir],
    ])
      if (dir !== undefined && !dir.startsWith('/')) fail(`${name} "${dir}" must be an absolute path`);
    if (upperdir !== undefined && scratchUpper) fail('conflicting options "upperdir" and "tmpfs-upper"');
    const hasUpper = upperdir !== undefined || scratchUpper;
    if (flags.includes('rw') && !hasUpper)
      fail('rw needs an upper layer (upperdir and workdir, or tmpfs-upper); without one the overlay is read-only');

    const op: OverlayOp = {
      op: 'overlay',
      target: mount.destination,
      lowerdirs,
      ...(upperdir !== undefined ? { upperdir, workdir } : {}),
      ...(scratchUpper ? { scratchUpper } : {}),
      ...(flags.length ? { flags } : {}),
    };
    return [op];
  }
}
