// The network part of a plan (engine.plan): the network namespace, the generated /etc/hosts,
// /etc/hostname and /etc/resolv.conf as file ops with their content, and the bad input refused.
// test/e2e/network.test.ts runs these plans. Run `npm run build` first.
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine, type Engine, type MountOp, type RunSpec, SpecError } from '@builder/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thrown } from '../../../test/helpers/thrown.js';

let engine: Engine;
let rootfs: string;

beforeAll(async () => {
  engine = await createEngine();
  rootfs = realpathSync(mkdtempSync(join(tmpdir(), 'builder-network-')));
});

afterAll(() => {
  rmSync(rootfs, { recursive: true, force: true });
});

const plan = (spec: Partial<RunSpec>) => engine.plan({ argv: ['true'], rootfs, hostname: 'box', ...spec });
/** The file op on `target`, if the plan has one. */
const fileOn = (ops: MountOp[], target: string) => ops.find((op) => op.op === 'file' && op.target === target);
/** The content of the file op on `target`. */
const contentOf = (ops: MountOp[], target: string) => {
  const op = fileOn(ops, target);
  return op?.op === 'file' ? op.content : undefined;
};
/** The host's resolv.conf without its nameserver lines (and without empty lines). */
const hostResolvRest = () =>
  readFileSync('/etc/resolv.conf', 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !/^\s*nameserver\s/.test(l));

describe('the network namespace', () => {
  it('is the host one by default and with network host, a new one with network none', () => {
    expect(plan({}).namespaces.net).toBe(false);
    expect(plan({ network: 'host' }).namespaces.net).toBe(false);
    expect(plan({ network: 'none' }).namespaces.net).toBe(true);
  });
});

describe('the generated files', () => {
  it('are read-only copies of their content on /etc/hostname, /etc/hosts and /etc/resolv.conf, after the mounts', () => {
    // Before the masked and read-only paths, which come last (confined-paths.test.ts).
    const ops = plan({ mounts: [{ type: 'tmpfs', destination: '/etc' }] }).ops.filter(
      (op) => op.op !== 'mask' && op.op !== 'readonly',
    );
    expect(ops.slice(-3).map((op) => [op.op, op.target, 'source' in op])).toEqual([
      ['file', '/etc/hostname', false],
      ['file', '/etc/hosts', false],
      ['file', '/etc/resolv.conf', false],
    ]);
    expect(ops.at(-4)).toMatchObject({ op: 'mount', fstype: 'tmpfs', target: '/etc' });
    expect(ops.slice(-3).every((op) => op.op === 'file' && op.mode === 0o644)).toBe(true);
  });

  it('/etc/hostname follows the hostname', () => {
    expect(contentOf(plan({}).ops, '/etc/hostname')).toBe('box\n');
    const p = plan({ hostname: undefined });
    expect(contentOf(p.ops, '/etc/hostname')).toBe(`${p.hostname}\n`);
  });

  it('/etc/hosts: each add-host first, then localhost, then the hostname on 127.0.0.1', () => {
    const ops = plan({ addHosts: ['registry:10.0.0.5', 'v6:fd00::1', 'lo6:::1'], network: 'none' }).ops;
    expect(contentOf(ops, '/etc/hosts')).toBe(
      [
        '10.0.0.5\tregistry',
        'fd00::1\tv6',
        '::1\tlo6',
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        '127.0.0.1\tbox',
        '',
      ].join('\n'),
    );
  });

  it("/etc/resolv.conf is the host's, with its nameservers replaced by dns", () => {
    expect(contentOf(plan({}).ops, '/etc/resolv.conf')).toBe(readFileSync('/etc/resolv.conf', 'utf8'));
    const lines = contentOf(plan({ dns: ['9.9.9.9', '2620:fe::fe'] }).ops, '/etc/resolv.conf')?.split('\n');
    expect(lines).toEqual([...hostResolvRest(), 'nameserver 9.9.9.9', 'nameserver 2620:fe::fe', '']);
  });

  it('has no /etc/resolv.conf with network none, as podman', () => {
    const ops = plan({ network: 'none' }).ops;
    expect(fileOn(ops, '/etc/resolv.conf')).toBeUndefined();
    expect(fileOn(ops, '/etc/hosts')).toBeDefined();
    expect(fileOn(ops, '/etc/hostname')).toBeDefined();
  });

  it("is replaced by a user's mount on its destination", () => {
    const ops = plan({
      mounts: [
        { type: 'bind', source: rootfs, destination: '/etc/hosts' },
        { type: 'tmpfs', destination: '//etc/resolv.conf/' },
      ],
      dirModes: [{ mode: 'hidden', path: '/etc/hostname' }],
    }).ops;
    expect(ops.filter((op) => op.op === 'file')).toEqual([]);
    expect(ops.filter((op) => op.target.replace(/\/+/g, '/').startsWith('/etc/')).length).toBe(3);
  });
});

describe('bad input is one SpecError line', () => {
  const cases: [Partial<RunSpec>, string][] = [
    [{ addHosts: ['registry'] }, 'add-host "registry": expected NAME:IP'],
    [{ addHosts: [':1.2.3.4'] }, 'add-host ":1.2.3.4": expected NAME:IP'],
    [{ addHosts: ['registry:10.0.0'] }, 'add-host "registry:10.0.0": "10.0.0" is not an IPv4 or IPv6 address'],
    [{ addHosts: ['registry=10.0.0.5'] }, 'add-host "registry=10.0.0.5": expected NAME:IP'],
    [{ addHosts: ['a b:10.0.0.5'] }, 'add-host "a b:10.0.0.5": invalid host name "a b"'],
    [{ addHosts: ['a\nb:10.0.0.5'] }, 'add-host "a\\nb:10.0.0.5": invalid host name "a\\nb"'],
    [{ dns: ['dns.example'] }, 'dns "dns.example": not an IPv4 or IPv6 address'],
    [{ dns: ['1.1.1.1\nnameserver 2.2.2.2'] }, 'dns "1.1.1.1\\nnameserver 2.2.2.2": not an IPv4 or IPv6 address'],
    [{ network: 'none', dns: ['1.1.1.1'] }, 'dns servers need a network: --dns cannot go with --network none'],
    [{ network: 'bridge' as 'none' }, 'network "bridge": must be host or none'],
  ];
  for (const [spec, message] of cases) {
    it(message, () => {
      const err = thrown(() => plan(spec));
      expect(err).toBeInstanceOf(SpecError);
      expect(err.message).toBe(message);
      expect((err as SpecError).exitCode).toBe(125);
    });
  }
});
