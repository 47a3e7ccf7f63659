// A small real root filesystem: busybox-static and its applet links.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const APPLETS = [
  'sh',
  'cat',
  'echo',
  'ls',
  'true',
  'false',
  'sleep',
  'mount',
  'umount',
  'grep',
  'wc',
  'kill',
  'hostname',
  'env',
  'pwd',
  'touch',
  'stat',
  'readlink',
  'mkdir',
  'id',
  'head',
  'tr',
  'ps',
  'test',
  'stty',
];

/**
 * Make a busybox rootfs in a new temp dir under `parent` (a test's own directory, so that its checks of
 * the host's mounts cover it; default the system's temp dir). `extra` adds empty directories (e.g. proc, dev).
 */
export function makeBusyboxRootfs(extra: string[] = [], parent = tmpdir()): { path: string; remove: () => void } {
  const path = mkdtempSync(join(parent, 'builder-e2e-rootfs-'));
  mkdirSync(join(path, 'bin'));
  copyFileSync('/bin/busybox', join(path, 'bin/busybox'));
  for (const applet of APPLETS) symlinkSync('busybox', join(path, 'bin', applet));
  for (const dir of extra) mkdirSync(join(path, dir), { recursive: true });
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
