// The user a command runs as: `USER[:GROUP]` specs, /etc/passwd and /etc/group parsing, and the
// lookup rules of podman and docker (runc's libcontainer/user, which both use). Pure: no file or
// kernel access here (container-user.ts reads the container's files), so the host side can validate
// a spec without loading koffi.

/** A parsed `USER[:GROUP]`: each part is an id (a number) or a name. */
export interface UserSpec {
  user: string | number;
  /** Absent: the user's primary group from passwd (and its supplementary groups from /etc/group). */
  group?: string | number;
}

/** The ids a command runs with, and its home directory. */
export interface ExecUser {
  uid: number;
  gid: number;
  /** For setgroups(2): the primary gid first, then every group that lists the user (podman's set). */
  groups: number[];
  /** From passwd; `/` when the user has no entry or an empty home field. */
  home: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The highest id runc accepts (podman and docker refuse anything above). */
export const MAX_ID = 2 ** 31 - 1;

const parseId = (text: string): number | undefined => {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= MAX_ID ? n : undefined;
};

const isNumeric = (text: string) => /^[0-9]+$/.test(text);

/**
 * Parse `USER[:GROUP]`: a name or a uid, optionally a group name or a gid. An all-digit part is
 * always an id, as with podman. Throws an Error naming the spec when it is malformed.
 */
export function parseUserSpec(text: string): UserSpec {
  const bad = (why: string): never => {
    throw new Error(`invalid user ${JSON.stringify(text)}: ${why}`);
  };
  const parts = text.split(':');
  if (parts.length > 2) bad('expected USER[:GROUP]');
  const part = (p: string, what: 'user' | 'group'): string | number => {
    if (p === '') bad(`the ${what} is empty (expected USER[:GROUP])`);
    // A name with blanks, control characters or a slash can be in no passwd/group file.
    if (/[\s\0/]/.test(p) || /\p{Cc}/u.test(p)) bad(`${what} ${JSON.stringify(p)} is not a valid name`);
    if (!isNumeric(p)) return p;
    const id = parseId(p);
    return id ?? bad(`${what} id ${p} is out of range (0-${MAX_ID})`);
  };
  const user = part(parts[0], 'user');
  return parts.length === 2 ? { user, group: part(parts[1], 'group') } : { user };
}

/** `USER[:GROUP]` again, from a parsed spec. */
export const formatUserSpec = (spec: UserSpec): string =>
  spec.group === undefined ? String(spec.user) : `${spec.user}:${spec.group}`;

/**
 * The entries of an /etc/passwd file (`name:password:uid:gid:gecos:home:shell`). Blank lines,
 * comments and lines whose uid or gid is not a number (NIS `+` lines, damage) are skipped, so they
 * never match anything (glibc skips them too).
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = parseId(f[2] ?? '');
    const gid = parseId(f[3] ?? '');
    if (f[0] === '' || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '' });
  }
  return out;
}

/** The entries of an /etc/group file (`name:password:gid:member,member`); malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = parseId(f[2] ?? '');
    if (f[0] === '' || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

/** A user or group that the container's files do not have. */
export class UserLookupError extends Error {}

/**
 * Resolve a spec against the container's passwd and group entries (undefined: the file is missing),
 * with podman's rules:
 * - a name must be in passwd ("unable to find user X: no matching entries in passwd file");
 * - a uid is looked up in passwd; without an entry it is used as is, with gid 0 and home `/`;
 * - the primary gid is the passwd entry's, unless GROUP is given (a name must be in /etc/group, a
 *   gid need not be);
 * - supplementary groups: without GROUP, every group that lists the user's passwd name; with GROUP,
 *   none. The primary gid always comes first (podman adds it to the additional gids).
 * The first matching entry wins, as with getpwnam.
 */
export function resolveUser(
  spec: UserSpec,
  passwd: PasswdEntry[] | undefined,
  group: GroupEntry[] | undefined,
): ExecUser {
  const entry =
    typeof spec.user === 'number'
      ? passwd?.find((p) => p.uid === spec.user)
      : passwd?.find((p) => p.name === spec.user);
  if (entry === undefined && typeof spec.user === 'string') {
    throw new UserLookupError(`unable to find user ${spec.user}: no matching entries in passwd file`);
  }
  const uid = entry?.uid ?? (spec.user as number);
  let gid = entry?.gid ?? 0;
  const home = entry?.home || '/';
  const groups: number[] = [];
  if (spec.group !== undefined) {
    const wanted = spec.group;
    const g = typeof wanted === 'number' ? group?.find((x) => x.gid === wanted) : group?.find((x) => x.name === wanted);
    if (g === undefined && typeof wanted === 'string') {
      throw new UserLookupError(`unable to find group ${wanted}: no matching entries in group file`);
    }
    gid = g?.gid ?? (wanted as number);
  } else if (entry !== undefined) {
    for (const g of group ?? []) if (g.members.includes(entry.name) && !groups.includes(g.gid)) groups.push(g.gid);
  }
  return { uid, gid, groups: [gid, ...groups.filter((g) => g !== gid)], home };
}
