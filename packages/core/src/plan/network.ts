// The network part of a run: which network namespace it gets, and the three files every run gets
// generated for it (/etc/hosts, /etc/hostname, /etc/resolv.conf), as podman and buildah do. The files
// travel in the plan as file ops with their content: the stage writes them on its private tmpfs and
// binds them read-only over the rootfs' own, so nothing is written to the host or the rootfs.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { MountOp } from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { RunSpec } from '../request/run-spec.js';

/** The network modes a run can have. */
const NETWORK_MODES = ['host', 'none'] as const;
type NetworkMode = (typeof NETWORK_MODES)[number];

/** The files the engine generates for every run, in the order their ops come. */
export const NETWORK_FILES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'] as const;

/** Where the host's resolver configuration is read from. */
const HOST_RESOLV_CONF = '/etc/resolv.conf';

/** A name of /etc/hosts: letters, digits, `_`, `.` and `-` (nothing that could end the line or start a comment). */
const HOST_NAME = /^[A-Za-z0-9_.-]+$/;

/** The network mode of a spec (default host), checked. */
function networkMode(spec: RunSpec): NetworkMode {
  const mode = spec.network ?? 'host';
  if (!(NETWORK_MODES as readonly string[]).includes(mode))
    throw new SpecError(`network ${JSON.stringify(mode)}: must be ${NETWORK_MODES.join(' or ')}`);
  return mode;
}

/** One `--add-host NAME:IP` (split at the first colon, so that an IPv6 address keeps its own), checked. */
function parseAddHost(entry: string): { name: string; ip: string } {
  const i = typeof entry === 'string' ? entry.indexOf(':') : -1;
  if (i <= 0) throw new SpecError(`add-host ${JSON.stringify(entry)}: expected NAME:IP`);
  const name = entry.slice(0, i);
  const ip = entry.slice(i + 1);
  if (!HOST_NAME.test(name))
    throw new SpecError(`add-host ${JSON.stringify(entry)}: invalid host name ${JSON.stringify(name)}`);
  if (isIP(ip) === 0)
    throw new SpecError(`add-host ${JSON.stringify(entry)}: ${JSON.stringify(ip)} is not an IPv4 or IPv6 address`);
  return { name, ip };
}

/** One `--dns IP`, checked. */
function checkDns(server: string): string {
  if (typeof server !== 'string' || isIP(server) === 0)
    throw new SpecError(`dns ${JSON.stringify(server)}: not an IPv4 or IPv6 address`);
  return server;
}

/**
 * /etc/hosts: each `--add-host` first (the first line naming a host wins, so they override the rest,
 * as with podman), then localhost, then the container's hostname on 127.0.0.1.
 */
function hostsFile(hostname: string, addHosts: readonly { name: string; ip: string }[]): string {
  return [
    ...addHosts.map(({ name, ip }) => `${ip}\t${name}`),
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `127.0.0.1\t${hostname}`,
  ]
    .map((line) => `${line}\n`)
    .join('');
}

/** resolv.conf: the host's, with its nameserver lines replaced by `dns` when any are given. */
function resolvConf(host: string, dns: readonly string[]): string {
  if (dns.length === 0) return host;
  const kept = host.split('\n').filter((line) => !/^\s*nameserver\s/.test(line) && line !== '');
  return [...kept, ...dns.map((ip) => `nameserver ${ip}`)].map((line) => `${line}\n`).join('');
}

function readHostResolvConf(): string {
  try {
    return readFileSync(HOST_RESOLV_CONF, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SpecError(`cannot read the host's ${HOST_RESOLV_CONF}: ${(err as Error).message}`);
  }
}

/**
 * The network of a run: a new network namespace for `none`, and the ops of its generated files, except
 * those whose destination a mount of the user's takes (`skip`). With `none` there is no resolv.conf
 * (no DNS server is reachable), as with podman; `dns` then is a mistake.
 */
export function planNetwork(
  spec: RunSpec,
  hostname: string,
  skip: (destination: string) => boolean,
): { netns: boolean; ops: MountOp[] } {
  const mode = networkMode(spec);
  const addHosts = (spec.addHosts ?? []).map(parseAddHost);
  const dns = (spec.dns ?? []).map(checkDns);
  if (mode === 'none' && dns.length > 0)
    throw new SpecError('dns servers need a network: --dns cannot go with --network none');
  const files: Record<(typeof NETWORK_FILES)[number], () => string | undefined> = {
    '/etc/hostname': () => `${hostname}\n`,
    '/etc/hosts': () => hostsFile(hostname, addHosts),
    '/etc/resolv.conf': () => (mode === 'none' ? undefined : resolvConf(readHostResolvConf(), dns)),
  };
  const ops = NETWORK_FILES.flatMap((target): MountOp[] => {
    if (skip(target)) return [];
    const content = files[target]();
    return content === undefined ? [] : [{ op: 'file', content, target, mode: 0o644 }];
  });
  return { netns: mode === 'none', ops };
}
