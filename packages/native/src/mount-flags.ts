// The mount option words, one row per word, in the style of crun's mount_flags.perf: what each means
// to mount(2) and mount_setattr(2), and which `-v` class it belongs to. Everything else about the
// words (their types, the flag maps, which words a kind takes, the classes of `-v`) derives from here.
import {
  MOUNT_ATTR__ATIME,
  MOUNT_ATTR_NOATIME,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NODIRATIME,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_NOSYMFOLLOW,
  MOUNT_ATTR_RDONLY,
  MOUNT_ATTR_RELATIME,
  MOUNT_ATTR_STRICTATIME,
  MS_BIND,
  MS_DIRSYNC,
  MS_LAZYTIME,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_NOSYMFOLLOW,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_SHARED,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
} from './constants.js';

/** One option word. */
export interface MountWordRow {
  /**
   * `flag`: a mount(2) flag word; `propagation`: a mount propagation; `bind`: a bind mount (MS_BIND);
   * `engine`: a word only the engine acts on, with no kernel bit (`nobind`, `U` …).
   */
  readonly is: 'flag' | 'propagation' | 'bind' | 'engine';
  /** The mount(2) bit: the flag a flag word sets (or clears), a propagation's type, MS_BIND. */
  readonly flag?: number;
  /** The word clears its flag instead of setting it (`rw`, `suid`, `exec` …). */
  readonly clear?: boolean;
  /** The mount_setattr(2) attribute of a per-mount flag word (one a bind can carry), set or cleared. */
  readonly attr?: number;
  /** MS_REC: to every submount too (`rshared`, `rbind`). */
  readonly recursive?: boolean;
  /** Its class among the words of `-v SRC:DST:OPTIONS`: two of one class cannot be combined. None: not a `-v` word. */
  readonly volume?: string;
}

// The words of `-v` come first, in the order podman documents them; then the other flag words.
// biome-ignore format: a table, one row per word
const WORDS = {
  ro:            { is: 'flag',        flag: MS_RDONLY,                     attr: MOUNT_ATTR_RDONLY,      volume: 'ro' },
  rw:            { is: 'flag',        flag: MS_RDONLY,      clear: true,   attr: MOUNT_ATTR_RDONLY,      volume: 'ro' },
  z:             { is: 'engine',                                                                       volume: 'label' },
  Z:             { is: 'engine',                                                                       volume: 'label' },
  O:             { is: 'engine',                                                                       volume: 'label' },
  private:       { is: 'propagation', flag: MS_PRIVATE,                                                volume: 'propagation' },
  rprivate:      { is: 'propagation', flag: MS_PRIVATE,    recursive: true,                            volume: 'propagation' },
  shared:        { is: 'propagation', flag: MS_SHARED,                                                 volume: 'propagation' },
  rshared:       { is: 'propagation', flag: MS_SHARED,     recursive: true,                            volume: 'propagation' },
  slave:         { is: 'propagation', flag: MS_SLAVE,                                                  volume: 'propagation' },
  rslave:        { is: 'propagation', flag: MS_SLAVE,      recursive: true,                            volume: 'propagation' },
  unbindable:    { is: 'propagation', flag: MS_UNBINDABLE,                                             volume: 'propagation' },
  runbindable:   { is: 'propagation', flag: MS_UNBINDABLE, recursive: true,                            volume: 'propagation' },
  bind:          { is: 'bind',        flag: MS_BIND,                                                   volume: 'bind' },
  rbind:         { is: 'bind',        flag: MS_BIND,       recursive: true,                            volume: 'bind' },
  nobind:        { is: 'engine',                                                                       volume: 'nobind' },
  exec:          { is: 'flag',        flag: MS_NOEXEC,      clear: true,   attr: MOUNT_ATTR_NOEXEC,      volume: 'exec' },
  noexec:        { is: 'flag',        flag: MS_NOEXEC,                     attr: MOUNT_ATTR_NOEXEC,      volume: 'exec' },
  dev:           { is: 'flag',        flag: MS_NODEV,       clear: true,   attr: MOUNT_ATTR_NODEV,       volume: 'dev' },
  nodev:         { is: 'flag',        flag: MS_NODEV,                      attr: MOUNT_ATTR_NODEV,       volume: 'dev' },
  suid:          { is: 'flag',        flag: MS_NOSUID,      clear: true,   attr: MOUNT_ATTR_NOSUID,      volume: 'suid' },
  nosuid:        { is: 'flag',        flag: MS_NOSUID,                     attr: MOUNT_ATTR_NOSUID,      volume: 'suid' },
  U:             { is: 'engine',                                                                       volume: 'U' },
  sync:          { is: 'flag',        flag: MS_SYNCHRONOUS },
  async:         { is: 'flag',        flag: MS_SYNCHRONOUS, clear: true },
  dirsync:       { is: 'flag',        flag: MS_DIRSYNC },
  mand:          { is: 'flag',        flag: MS_MANDLOCK },
  nomand:        { is: 'flag',        flag: MS_MANDLOCK,    clear: true },
  noatime:       { is: 'flag',        flag: MS_NOATIME,                    attr: MOUNT_ATTR_NOATIME },
  atime:         { is: 'flag',        flag: MS_NOATIME,     clear: true },
  nodiratime:    { is: 'flag',        flag: MS_NODIRATIME,                 attr: MOUNT_ATTR_NODIRATIME },
  diratime:      { is: 'flag',        flag: MS_NODIRATIME,  clear: true,   attr: MOUNT_ATTR_NODIRATIME },
  relatime:      { is: 'flag',        flag: MS_RELATIME,                   attr: MOUNT_ATTR_RELATIME },
  norelatime:    { is: 'flag',        flag: MS_RELATIME,    clear: true },
  strictatime:   { is: 'flag',        flag: MS_STRICTATIME,                attr: MOUNT_ATTR_STRICTATIME },
  nostrictatime: { is: 'flag',        flag: MS_STRICTATIME, clear: true },
  lazytime:      { is: 'flag',        flag: MS_LAZYTIME },
  nolazytime:    { is: 'flag',        flag: MS_LAZYTIME,    clear: true },
  nosymfollow:   { is: 'flag',        flag: MS_NOSYMFOLLOW,                attr: MOUNT_ATTR_NOSYMFOLLOW },
  symfollow:     { is: 'flag',        flag: MS_NOSYMFOLLOW, clear: true,   attr: MOUNT_ATTR_NOSYMFOLLOW },
} as const satisfies Record<string, MountWordRow>;

type Words = typeof WORDS;
/** The words whose row has the shape `Row`. */
type WordsWhere<Row> = { [W in keyof Words]: Words[W] extends Row ? W : never }[keyof Words];

/** Every option word of the table. */
export type MountWord = keyof Words;
/** Words that are mount(2) flags (`ro`, `nosuid`, `strictatime` …). */
export type FlagWord = WordsWhere<{ is: 'flag' }>;
/** Flag words that are per-mount flags too (mount_setattr): the ones a bind mount can carry. */
export type MountAttrWord = WordsWhere<{ is: 'flag'; attr: number }>;
/** Mount propagation words (`private`, `rshared` …). */
export type Propagation = WordsWhere<{ is: 'propagation' }>;
/** `bind` and `rbind`. */
export type BindWord = WordsWhere<{ is: 'bind' }>;

/** The table: every option word and its row. */
export const MOUNT_WORDS: Readonly<Record<MountWord, MountWordRow>> = WORDS;

const ENTRIES = Object.entries(WORDS) as [MountWord, MountWordRow][];
const rowOf = (word: string): MountWordRow | undefined =>
  Object.hasOwn(WORDS, word) ? WORDS[word as MountWord] : undefined;
const isA =
  <W extends MountWord>(is: MountWordRow['is']) =>
  (word: string): word is W =>
    rowOf(word)?.is === is;
/** The words of one kind, each with its bits (MS_REC added for the recursive ones). */
const bitsOf = <W extends MountWord>(is: MountWordRow['is']) =>
  Object.fromEntries(
    ENTRIES.filter(([, row]) => row.is === is).map(([word, row]) => [
      word,
      (row.flag ?? 0) | (row.recursive ? MS_REC : 0),
    ]),
  ) as Readonly<Record<W, number>>;

/** True for any word of the table. */
export const isMountWord = (word: string): word is MountWord => rowOf(word) !== undefined;
/** True when the word is a mount flag. Anything else in a mount's options is filesystem data. */
export const isFlagWord: (word: string) => word is FlagWord = isA('flag');
/** True when the word is a per-mount flag (one a bind mount can carry). */
export const isMountAttrWord = (word: string): word is MountAttrWord =>
  isFlagWord(word) && rowOf(word)?.attr !== undefined;
/** True for a propagation word (`private`, `rshared` …). */
export const isPropagation: (word: string) => word is Propagation = isA('propagation');
/** True for `bind` and `rbind`. */
export const isBindWord: (word: string) => word is BindWord = isA('bind');

/** Flag words and their flags. */
export const MOUNT_FLAGS: Readonly<Record<FlagWord, { flag: number; clear?: boolean }>> = Object.fromEntries(
  ENTRIES.filter(([word]) => isFlagWord(word)).map(([word, row]) => [
    word,
    row.clear ? { flag: row.flag as number, clear: true } : { flag: row.flag as number },
  ]),
) as Record<FlagWord, { flag: number; clear?: boolean }>;
/** Propagation words and their flags. */
export const PROPAGATION_FLAGS = bitsOf<Propagation>('propagation');
/** The propagation words, in the table's order. */
export const PROPAGATIONS = Object.keys(PROPAGATION_FLAGS) as readonly Propagation[];
/** `bind` and `rbind` and their flags. */
export const BIND_FLAGS = bitsOf<BindWord>('bind');

/** A guard for the words of a list: `isOneOf(['ro', 'rw'])('rw')` is true, and types it. */
export const isOneOf =
  <W extends string>(words: readonly W[]) =>
  (word: string): word is W =>
    (words as readonly string[]).includes(word);

/**
 * The flag words whose rows pass `test`, in the order mount(8) lists flags: by bit, each word that sets
 * a flag before the one that clears it (`ro`, `rw`, `nosuid`, `suid` …). How a kind derives the flag
 * words it takes from the table.
 */
export function flagWordsWhere(test: (row: MountWordRow) => boolean): FlagWord[] {
  const flags = ENTRIES.filter((e): e is [FlagWord, MountWordRow] => isFlagWord(e[0]) && test(e[1]));
  return flags
    .sort(([, a], [, b]) => (a.flag as number) - (b.flag as number) || Number(!!a.clear) - Number(!!b.clear))
    .map(([word]) => word);
}

const ATIME_MODES = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

/** Fold flag words left to right into mount(2) flags. Throws on a word that is not a flag. */
export function mountFlags(words: readonly string[]): number {
  let flags = 0;
  for (const word of words) {
    if (!isFlagWord(word)) throw new Error(`not a mount flag: ${word}`);
    const { flag, clear } = MOUNT_FLAGS[word];
    if (clear) flags &= ~flag;
    // The access-time modes exclude each other: the last one given wins.
    else flags = ((flag & ATIME_MODES ? flags & ~ATIME_MODES : flags) | flag) >>> 0;
  }
  return flags;
}

/** Fold flag words left to right into the `set`/`clear` masks of mount_setattr(2). */
export function mountAttr(words: readonly string[]): { set: number; clear: number } {
  let set = 0;
  let clear = 0;
  for (const word of words) {
    if (!isMountAttrWord(word)) throw new Error(`not a per-mount flag: ${word}`);
    const row = MOUNT_WORDS[word];
    const attr = row.attr as number;
    if (row.clear) {
      set &= ~attr;
      clear |= attr;
    } else {
      // An access-time mode replaces the others: clear the whole field, then set this one.
      const field = (row.flag as number) & ATIME_MODES ? MOUNT_ATTR__ATIME : 0;
      set = (set & ~field) | attr;
      clear = (clear | field) & (~attr | field);
    }
  }
  return { set, clear };
}

/** The word that undoes `word` (`rw` for `ro`, `exec` for `noexec` …), if it has one. */
export function oppositeFlagWord(word: string): FlagWord | undefined {
  if (!isFlagWord(word)) return undefined;
  const { flag, clear } = MOUNT_FLAGS[word];
  return (Object.keys(MOUNT_FLAGS) as FlagWord[]).find(
    (w) => MOUNT_FLAGS[w].flag === flag && !MOUNT_FLAGS[w].clear !== !clear,
  );
}
