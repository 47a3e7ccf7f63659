// Parser for /proc/<pid>/mountinfo (proc(5)). Pure: no kernel calls beyond reading the file.
import { readFileSync } from 'node:fs';

export interface MountInfo {
  id: number;
  parentId: number;
  major: number;
  minor: number;
  /** Path of the mounted directory inside its filesystem. */
  root: string;
  mountPoint: string;
  /** Per-mount options (rw, nosuid, relatime …). */
  options: string[];
  /** Optional fields such as `shared:1`, `master:2`. */
  optional: string[];
  fstype: string;
  source: string;
  /** Per-superblock options (size=…, mode=…, newinstance …). */
  superOptions: string[];
}

/** Undo the octal escapes the kernel uses for space, tab, newline and backslash. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 4) throw new Error(`malformed mountinfo line: ${line}`);
    const [major, minor] = fields[2].split(':').map(Number);
    mounts.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      major,
      minor,
      root: unescapeMountField(fields[3]),
      mountPoint: unescapeMountField(fields[4]),
      options: fields[5].split(','),
      optional: fields.slice(6, dash),
      fstype: fields[dash + 1],
      source: unescapeMountField(fields[dash + 2]),
      superOptions: fields[dash + 3].split(','),
    });
  }
  return mounts;
}

export function readMountInfo(pid: number | 'self' = 'self'): MountInfo[] {
  return parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
}
