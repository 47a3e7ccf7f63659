/**
 * One mount, in the shape of an OCI runtime spec `mounts` entry. `--mount type=…` strings,
 * `-v src:dst:opts` and spec JSON all parse into this.
 */
export interface MountSpec {
  /** The mount kind (`tmpfs`, `proc`, `bind` …), matched against the loaded MountKind plugins. */
  type: string;
  source?: string;
  /** Absolute path inside the container. */
  destination: string;
  /** Option words, `key=value` or bare (`ro`, `size=64m`, `mode=1777`). */
  options?: string[];
}

/** Split `key=value` into its parts; a bare word has no value. */
export function splitOption(option: string): { key: string; value?: string } {
  const i = option.indexOf('=');
  return i < 0 ? { key: option } : { key: option.slice(0, i), value: option.slice(i + 1) };
}
