// The three ways users write mounts, parsed into one shape (MountSpec, the OCI `mounts` entry):
//   --mount type=tmpfs,destination=/t,tmpfs-size=64m     docker / buildah
//   -v /src:/dst:ro,rbind                                 buildah / podman
//   --mounts-file mounts.json                             the `mounts` array of an OCI config.json
// Pure functions: no I/O. Each refuses bad input with a SpecError of one line that names the input
// and the bad part. Options of a kind (`tmpfs-size`, `mode` …) are not checked here: the kind's
// OptionSpec table does that when the mount is planned (MountKindRegistry.resolve).
import { isBindWord, isMountWord, MOUNT_WORDS } from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { MountSpec } from './mount-spec.js';
import { didYouMean, editDistance } from './suggest.js';

/** Quote an input for an error message: always one line. */
const q = (text: string) => JSON.stringify(text);

type MountKey = 'type' | 'source' | 'destination' | 'readonly';

/** The keys `--mount` itself understands, with their aliases. Every other field is an option word. */
const MOUNT_KEYS: Readonly<Record<string, MountKey>> = {
  type: 'type',
  source: 'source',
  src: 'source',
  destination: 'destination',
  dst: 'destination',
  target: 'destination',
  readonly: 'readonly',
  ro: 'readonly',
};

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, '1': true, false: false, '0': false };

/**
 * Split a CSV record: fields separated by commas, a field may be double-quoted (`"target=/a,b"`)
 * with `""` for a quote inside it. Returns the fields, or a problem.
 */
function splitCsv(text: string): string[] | { problem: string } {
  if (text === '') return [];
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) return { problem: `unterminated quote in ${q(text.slice(start))}` };
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          field += '"';
          i += 2;
        } else field += text[i++];
      }
      i++; // the closing quote
      if (i < text.length && text[i] !== ',')
        return { problem: `text after the closing quote of ${q(text.slice(start, i))}` };
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? text.length : comma;
      field = text.slice(i, end);
      i = end;
      if (field.includes('"'))
        return { problem: `a quote inside the field ${q(field)} (quote the whole field: "key=value")` };
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

/** The `--mount` key a misspelt field key probably meant, if it looks like one that was not given. */
function misspeltKey(key: string, given: ReadonlySet<MountKey>): string | undefined {
  // A mount option word is a word in its own right, never a misspelt key.
  if (key in MOUNT_KEYS || isMountWord(key)) return undefined;
  const near = Object.keys(MOUNT_KEYS).filter((name) => {
    if (given.has(MOUNT_KEYS[name])) return false;
    const d = editDistance(key, name);
    return d <= 2 && d < name.length;
  });
  return near.length ? didYouMean(key, near) : undefined;
}

/**
 * Parse a docker/buildah `--mount` value: `type=KIND,source=SRC,destination=DST,readonly,OPTION…`.
 * `src` is `source`; `dst` and `target` are `destination`; `ro` is `readonly` (bare or `=true|false|1|0`,
 * giving the option word `ro` or `rw`). Every other field is passed on as an option word, in order.
 */
export function parseMountFlag(text: string): MountSpec {
  const fail = (problem: string): never => {
    throw new SpecError(`mount ${q(text)}: ${problem}`);
  };
  const fields = splitCsv(text);
  if (!Array.isArray(fields)) return fail(fields.problem);

  const split = fields.map((field) => {
    const eq = field.indexOf('=');
    return eq < 0 ? { field, key: field } : { field, key: field.slice(0, eq), value: field.slice(eq + 1) };
  });
  const given = new Set(split.flatMap(({ key }) => (key in MOUNT_KEYS ? [MOUNT_KEYS[key]] : [])));

  const seen = new Map<MountKey, string>();
  const values: Partial<Record<Exclude<MountKey, 'readonly'>, string>> = {};
  const options: string[] = [];
  for (const { field, key, value } of split) {
    if (field === '') fail('empty field (two commas, or one at the end?)');
    const name = Object.hasOwn(MOUNT_KEYS, key) ? MOUNT_KEYS[key] : undefined;
    if (name === undefined) {
      if (key === '') fail(`field ${q(field)} has no key`);
      const hint = misspeltKey(key, given);
      if (hint) fail(`unknown key ${q(key)}${hint}`);
      options.push(field);
      continue;
    }
    const first = seen.get(name);
    if (first !== undefined) fail(`${name} given twice (${q(first)} and ${q(field)})`);
    seen.set(name, field);
    if (name === 'readonly') {
      const on = value === undefined ? true : BOOLEANS[value];
      if (on === undefined) fail(`${q(key)} takes true or false, not ${q(value as string)}`);
      options.push(on ? 'ro' : 'rw');
    } else {
      if (!value) fail(`${q(key)} needs a value (${key}=…)`);
      values[name] = value;
    }
  }

  if (values.type === undefined) fail('type is required (type=bind, tmpfs, …)');
  const destination = values.destination;
  if (destination === undefined) fail('destination is required (destination=/path/in/container)');
  else if (!destination.startsWith('/')) fail(`destination ${q(destination)} must be an absolute path`);
  return {
    type: values.type as string,
    ...(values.source !== undefined ? { source: values.source } : {}),
    destination: destination as string,
    ...(options.length ? { options } : {}),
  };
}

/**
 * The bare words `-v` accepts after the second colon and their classes (MOUNT_WORDS' `volume`): two
 * words of one class cannot be combined.
 */
const VOLUME_CLASS: ReadonlyMap<string, string> = new Map(
  Object.entries(MOUNT_WORDS).flatMap(([word, { volume }]) => (volume === undefined ? [] : [[word, volume] as const])),
);
const VOLUME_VALUED = ['upperdir', 'workdir'] as const;
const VOLUME_WORDS = [...VOLUME_CLASS.keys(), ...VOLUME_VALUED];

/** Split `SRC:DST[:OPTS]` at colons that are not escaped (`\:` is a colon, `\\` a backslash). */
function splitVolume(text: string): string[] {
  const parts = [''];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && (text[i + 1] === ':' || text[i + 1] === '\\')) parts[parts.length - 1] += text[++i];
    else if (c === ':') parts.push('');
    else parts[parts.length - 1] += c;
  }
  return parts;
}

/**
 * Parse a buildah/podman `-v SRC:DST[:OPTS]`. Both paths must be absolute (named volumes are not
 * supported). Without `O` it is a bind mount with the option words in order; with `O` it is an
 * overlay whose lower layer is SRC, writable on a throw-away tmpfs upper (`tmpfs-upper`) or on the
 * given `upperdir=`/`workdir=`.
 */
export function parseVolumeFlag(text: string): MountSpec {
  const fail = (problem: string): never => {
    throw new SpecError(`volume ${q(text)}: ${problem}`);
  };
  const parts = splitVolume(text);
  if (parts.length < 2) fail('expected SRC:DST[:OPTIONS]');
  if (parts.length > 3) fail('too many ":" (write a colon inside a path as \\:)');
  const [source, destination, opts] = parts;
  if (source === '') fail('the source is empty');
  if (!source.startsWith('/')) fail(`source ${q(source)} must be an absolute path (named volumes are not supported)`);
  if (destination === '') fail('the destination is empty');
  if (!destination.startsWith('/')) fail(`destination ${q(destination)} must be an absolute path`);

  const words: string[] = [];
  const valued: Partial<Record<(typeof VOLUME_VALUED)[number], string>> = {};
  const byClass = new Map<string, string>();
  for (const word of opts === undefined ? [] : opts.split(',')) {
    if (word === '') fail('empty option (two commas, or one at an end?)');
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    if (key === 'upperdir' || key === 'workdir') {
      if (!value) fail(`option "${key}" needs a value (${key}=DIR)`);
      else if (!value.startsWith('/')) fail(`${key} ${q(value)} must be an absolute path`);
      if (valued[key] !== undefined) fail(`option "${key}" given twice`);
      valued[key] = value;
      continue;
    }
    const cls = VOLUME_CLASS.get(key);
    if (cls === undefined) return fail(`unknown option ${q(key)}${didYouMean(key, VOLUME_WORDS)}`);
    if (value !== undefined) fail(`option ${q(key)} takes no value`);
    const other = byClass.get(cls);
    if (other === word) fail(`option ${q(word)} given twice`);
    if (other !== undefined) fail(`options ${q(other)} and ${q(word)} cannot be combined`);
    byClass.set(cls, word);
    words.push(word);
  }

  const overlay = words.includes('O');
  if ((valued.upperdir === undefined) !== (valued.workdir === undefined))
    fail('upperdir and workdir must be given together');
  if (valued.upperdir !== undefined && !overlay) fail('upperdir and workdir need the overlay option O');
  if (!overlay) return { type: 'bind', source, destination, ...(words.length ? { options: words } : {}) };
  const upper =
    valued.upperdir !== undefined ? [`upperdir=${valued.upperdir}`, `workdir=${valued.workdir}`] : ['tmpfs-upper'];
  return { type: 'overlay', source, destination, options: [...upper, ...words.filter((w) => w !== 'O')] };
}

const FILE_KEYS = ['destination', 'type', 'source', 'options'];

/**
 * Parse a mounts file: a JSON array of OCI runtime spec `mounts` entries
 * (`{"destination", "type", "source", "options"}`). An entry without a type is a bind mount when its
 * options include `bind` or `rbind` (as in the OCI spec); any other key is refused.
 */
export function parseMountsFile(text: string, file: string): MountSpec[] {
  const fail = (problem: string): never => {
    throw new SpecError(`mounts file ${q(file)}: ${problem}`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return fail(`not valid JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (!Array.isArray(data)) return fail('expected a JSON array of mounts ([{"destination": …, "type": …}, …])');

  return data.map((entry: unknown, i): MountSpec => {
    const at = (problem: string) => fail(`mounts[${i}]: ${problem}`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return at('expected an object ({"destination": …, "type": …})');
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e))
      if (!FILE_KEYS.includes(key)) at(`unknown key ${q(key)}${didYouMean(key, FILE_KEYS) || ' (not supported)'}`);
    const str = (key: string): string | undefined => {
      const v = e[key];
      if (v !== undefined && (typeof v !== 'string' || v === '')) at(`${q(key)} must be a non-empty string`);
      return v as string | undefined;
    };
    const destination = str('destination');
    const source = str('source');
    let type = str('type');
    const options = e.options;
    if (options !== undefined && !(Array.isArray(options) && options.every((o) => typeof o === 'string')))
      at('"options" must be an array of strings');
    const opts = options as string[] | undefined;
    if (destination === undefined) return at('"destination" is required');
    if (!destination.startsWith('/')) at(`destination ${q(destination)} must be an absolute path`);
    if (type === undefined) {
      if (!opts?.some(isBindWord)) at('"type" is required (a mount without one must have a "bind" or "rbind" option)');
      type = 'bind';
    }
    return {
      type,
      ...(source !== undefined ? { source } : {}),
      destination,
      ...(opts?.length ? { options: opts } : {}),
    };
  });
}
