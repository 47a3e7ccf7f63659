// The default mounts below /dev when the user binds a host directory on /dev (`--read-only-dir /dev`,
// `-v /dev:/dev:ro`): nothing may be created in a host source, so a default mount whose mountpoint is
// not already a directory there is left out (the host's /dev has no mqueue directory on many
// machines). podman, when /dev is bound, leaves out its /dev/mqueue and /dev/pts and keeps /dev/shm.
import { lstatSync } from 'node:fs';
import type { MountSpec } from '../request/mount-spec.js';

/** The host directory a user mount binds on /dev, or undefined (no such mount, or /dev is the container's own). */
export function boundDevSource(devMount: MountSpec | undefined): string | undefined {
  return devMount?.type === 'bind' && devMount.source?.startsWith('/') ? devMount.source : undefined;
}

/**
 * Whether default mount `mount` stays when `source` (boundDevSource) is bound on /dev: a mount below
 * /dev stays only when its mountpoint is already a directory (not a symlink) in the source. So a fresh
 * devpts still hides the host's ptys where the host has /dev/pts, and a fresh tmpfs its /dev/shm.
 */
export function keptOnBoundDev(source: string | undefined, mount: MountSpec): boolean {
  if (source === undefined || !mount.destination.startsWith('/dev/')) return true;
  try {
    return lstatSync(`${source.replace(/\/+$/, '')}/${mount.destination.slice('/dev/'.length)}`).isDirectory();
  } catch {
    return false;
  }
}
