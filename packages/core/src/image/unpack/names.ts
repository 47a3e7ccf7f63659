// Tar entry names inside a layer's root: the leading `/` is dropped and `a/../b` is cleaned to `b`; a
// name that climbs out of the root (`../x`) is refused. And the lexical path helpers the writer uses on
// resolved paths inside the root (`/a/b`).
import { LayerError } from '../../errors.js';

/** A name with an empty, `.` or `..` component (after leading `./` and slashes at both ends are cut). */
const UNCLEAN = /(^|\/)\.\.?(\/|$)|\/\//;

/** Clean a name lexically inside the root: `null` for the root itself; throws when it climbs out. */
export function cleanName(name: string, what: string): string | null {
  let start = 0;
  let end = name.length;
  for (;;) {
    if (name.charCodeAt(start) === 0x2f) start++;
    else if (name.startsWith('./', start)) start += 2;
    else break;
  }
  while (end > start && name.charCodeAt(end - 1) === 0x2f) end--;
  if (start === end) return null;
  const cut = name.slice(start, end);
  return UNCLEAN.test(cut) ? cleanSlow(name, what) : cut;
}

function cleanSlow(name: string, what: string): string | null {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!out.length) throw new LayerError(`${what} '${name}' leaves the root`);
      out.pop();
    } else out.push(part);
  }
  return out.length ? out.join('/') : null;
}

export const parentOf = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
export const join = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
export function depth(p: string): number {
  let n = 0;
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) n++;
  return n;
}
