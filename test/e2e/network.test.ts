// The network part of issue 13 end to end: `--network none` (a new network namespace with only `lo`,
// up) and `--network host` (the default); /etc/hosts, /etc/hostname and /etc/resolv.conf generated per
// run and bound read-only, the rootfs' own files never written, and bad input one line. The oracles are
// the kernel (its interfaces in /proc/net/dev and sysfs, a TCP server of the test's own on the host,
// /proc/self/mountinfo), the files on disk, and podman run with the same flags.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMountInfo } from '@builder/native/pure';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builder, run } from '../helpers/cli.js';
import { mountsUnder, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';
import { podmanRun, requireTools, tool } from '../helpers/tools.js';

/** The test's own directory: rootfs directories, the layer store, podman's store. */
let work: string;
let rootfs: string;
let mountsBefore: string;
/** A TCP server on the host's 0.0.0.0 that greets whoever connects, and how many did. */
let server: Server;
let port: number;
let connections = 0;
/** A non-loopback IPv4 address of the host. */
let hostIp: string;

/** The rootfs' own network files, which no run may change. */
const OWN = { hosts: '10.9.9.9\town-hosts\n', hostname: 'own-hostname\n', 'resolv.conf': 'nameserver 10.9.9.9\n' };

/** The busybox rootfs of this test: the helper's applets, nc, ping and sort, and /etc with its own files. */
function makeRootfs(name: string, etc: boolean): string {
  const dir = join(work, name);
  cpSync(rootfs, dir, { recursive: true, verbatimSymlinks: true });
  if (etc) {
    mkdirSync(join(dir, 'etc'));
    for (const [file, text] of Object.entries(OWN)) writeFileSync(join(dir, 'etc', file), text);
  }
  return dir;
}

beforeAll(async () => {
  requireRoot();
  requireTools('podman', 'tar');
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-network-'));
  rootfs = makeBusyboxRootfs([], work).path;
  for (const applet of ['nc', 'ping', 'sort']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const ip = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal);
  if (!ip) throw new Error('the host has no non-loopback IPv4 address to connect to');
  hostIp = ip.address;
  server = createServer((c) => {
    connections++;
    c.end('hello-from-host\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  mountsBefore = mountsUnder(work);
});
afterEach(() => {
  expect(mountsUnder(work)).toBe(mountsBefore);
});

/** A tree's entries with their type, size, mode and mtime (nanoseconds), for "left as it was". */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .concat(dir)
    .sort()
    .map((p) => {
      const st = statSync(p, { bigint: true, throwIfNoEntry: false }) ?? { mode: 'dangling' };
      return `${p} ${st.mode} ${'size' in st ? `${st.size} ${st.mtimeNs}` : ''}`;
    });
}

describe('--network none', () => {
  it('has only lo, and it is up', async () => {
    const r = await run(
      rootfs,
      ['sh', '-c', 'cat /proc/net/dev; ls /sys/class/net; cat /sys/class/net/lo/flags'],
      ['--network', 'none'],
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    // /proc/net/dev: two header lines, then one line per interface of the network namespace.
    const interfaces = lines.slice(2, -2).map((l) => l.trim().split(':')[0]);
    expect(interfaces).toEqual(['lo']);
    expect(lines.at(-2)).toBe('lo');
    // IFF_UP is 0x1 in <linux/if.h>; IFF_LOOPBACK 0x8.
    expect(Number.parseInt(lines.at(-1) ?? '', 16) & 0x1).toBe(0x1);
  });

  it('reaches 127.0.0.1 and ::1 (ping, and a TCP connection to a listener inside)', async () => {
    const script = [
      'ping -c1 -W5 127.0.0.1 >/dev/null || exit 3',
      'ping -c1 -W5 ::1 >/dev/null || exit 5',
      'nc -l -p 7777 -e echo hello-from-lo &',
      // Poll (with a limit) until the listener is there.
      'i=0; until out=$(nc 127.0.0.1 7777 </dev/null 2>/dev/null) && [ -n "$out" ]; do i=$((i+1)); [ $i -lt 1000 ] || exit 4; sleep 0.01; done',
      'echo "$out"',
    ].join('\n');
    // busybox ping needs a raw socket: CAP_NET_RAW, which the default set lacks (as podman's).
    const r = await run(rootfs, ['sh', '-c', script], ['--network', 'none', '--cap-add', 'NET_RAW']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello-from-lo\n');
    expect(r.code).toBe(0);
  });

  it("cannot connect to the host's address; with --network host (the default) the same connection works", async () => {
    const before = connections;
    const none = await run(rootfs, ['nc', hostIp, String(port)], ['--network', 'none']);
    expect(none.code).not.toBe(0);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/unreachable/i);
    expect(connections).toBe(before);

    for (const flags of [[], ['--network', 'host']]) {
      const r = await run(rootfs, ['nc', hostIp, String(port)], flags);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hello-from-host\n');
      expect(r.code).toBe(0);
    }
    expect(connections).toBe(before + 2);
  });
});

describe('the generated /etc/hosts, /etc/hostname and /etc/resolv.conf', () => {
  const cat = 'for f in hosts hostname resolv.conf; do echo "== $f"; cat /etc/$f 2>&1; done';
  const flags = ['--hostname', 'box', '--add-host', 'registry:10.0.0.5', '--add-host', 'v6:fd00::1'];

  it('hosts has each --add-host, localhost and the hostname; hostname follows --hostname; resolv.conf has the --dns servers', async () => {
    const dir = makeRootfs('generated', true);
    const r = await run(dir, ['sh', '-c', cat], [...flags, '--dns', '9.9.9.9', '--dns', '2620:fe::fe']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const hostResolv = readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('nameserver'));
    expect(r.stdout).toBe(
      [
        '== hosts',
        '10.0.0.5\tregistry',
        'fd00::1\tv6',
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        '127.0.0.1\tbox',
        '== hostname',
        'box',
        '== resolv.conf',
        ...hostResolv,
        'nameserver 9.9.9.9',
        'nameserver 2620:fe::fe',
        '',
      ].join('\n'),
    );
  });

  it("resolv.conf is the host's without --dns; with --network none there is none, and the rootfs' own shows", async () => {
    const dir = makeRootfs('resolv', true);
    const host = await run(dir, ['cat', '/etc/resolv.conf']);
    expect(host.stdout).toBe(readFileSync('/etc/resolv.conf', 'utf8'));
    const none = await run(dir, ['cat', '/etc/resolv.conf'], ['--network', 'none']);
    expect(none.stdout).toBe(OWN['resolv.conf']);
  });

  it('are read-only bind mounts: a write fails, and the rootfs files stay as they were', async () => {
    const dir = makeRootfs('readonly', true);
    const before = snapshot(dir);
    const script = [
      'for f in $FILES; do echo x >> /etc/$f && echo "wrote $f"; rm /etc/$f && echo "removed $f"; done',
      'cat /proc/self/mountinfo',
    ].join('\n');
    for (const network of ['host', 'none']) {
      // With --network none there is no generated resolv.conf: the rootfs' own is its business.
      const files = network === 'host' ? 'hosts hostname resolv.conf' : 'hosts hostname';
      const r = await run(dir, ['sh', '-c', script], [...flags, '--network', network, '-e', `FILES=${files}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(/wrote|removed/);
      const targets = ['/etc/hosts', '/etc/hostname', ...(network === 'host' ? ['/etc/resolv.conf'] : [])];
      const mounts = parseMountInfo(r.stdout).filter((m) => m.mountPoint.startsWith('/etc/'));
      expect(mounts.map((m) => m.mountPoint).sort()).toEqual(targets.sort());
      for (const m of mounts)
        expect(m.options, m.mountPoint).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
    }
    expect(snapshot(dir)).toEqual(before);
    for (const [file, text] of Object.entries(OWN)) expect(readFileSync(join(dir, 'etc', file), 'utf8')).toBe(text);
  });

  it('a rootfs without /etc gets them for the run and keeps no stub of them', async () => {
    const dir = makeRootfs('no-etc', false);
    const before = snapshot(dir);
    const r = await run(dir, ['sh', '-c', 'cat /etc/hostname; ls /etc'], ['--hostname', 'box']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('box\nhostname\nhosts\nresolv.conf\n');
    expect(existsSync(join(dir, 'etc'))).toBe(false);
    expect(snapshot(dir)).toEqual(before);
  });

  it('a user other than root reads them', async () => {
    const dir = makeRootfs('user', true);
    chmodSync(dir, 0o755);
    const r = await run(dir, ['sh', '-c', 'id -u; cat /etc/hostname'], ['-u', '1000:1000', '--hostname', 'box']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000\nbox\n');
  });

  it("a mount of the user's on one of them replaces it", async () => {
    const dir = makeRootfs('user-mount', true);
    const mine = join(work, 'my-hosts');
    writeFileSync(mine, '10.1.1.1\tmine\n');
    const r = await run(dir, ['sh', '-c', cat], ['-v', `${mine}:/etc/hosts:ro`, '--hostname', 'box']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^== hosts\n10\.1\.1\.1\tmine\n== hostname\nbox\n/);
  });

  it("on the host's own root (no --rootfs) too, the host's files untouched", async () => {
    const hostFiles = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].map((f) => [f, snapshotFile(f)]);
    const r = await run(undefined, ['sh', '-c', 'cat /etc/hostname; grep box /etc/hosts'], ['--hostname', 'box']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('box\n127.0.0.1\tbox\n');
    expect(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf'].map((f) => [f, snapshotFile(f)])).toEqual(hostFiles);
  });

  it("with an image, the image's own /etc/hosts is unchanged when the run is over", async () => {
    const dir = makeRootfs('image-tree', true);
    const tar = join(work, 'image.tar');
    tool('tar', ['-C', dir, '-cf', tar, '.']);
    const root = join(work, 'store');
    const r = await builder([
      'run',
      ...['--root', root, '--image', `tar:${tar}`, '--hostname', 'box'],
      ...['--', 'sh', '-c', 'cat /etc/hosts; echo x >> /etc/hosts || echo refused'],
    ]);
    expect(r.stderr).toMatch(/can't create \/etc\/hosts|Read-only/);
    expect(r.stdout).toMatch(/127\.0\.0\.1\tbox\nrefused\n$/);
    const copies = readdirSync(root, { recursive: true })
      .map(String)
      .filter((p) => p.endsWith('/etc/hosts'));
    expect(copies.length).toBeGreaterThan(0);
    for (const p of copies) expect(readFileSync(join(root, p), 'utf8')).toBe(OWN.hosts);
  });
});

/** A host file's content and times. */
function snapshotFile(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.mtimeNs} ${st.ctimeNs} ${readFileSync(path, 'utf8')}`;
}

describe('as podman does (podman run --rootfs with the same flags)', () => {
  /** What podman shows of the three files, and which of them it mounts. */
  function podman(
    dir: string,
    args: string[],
    argv: string[],
  ): { stdout: string; status: number | null; stderr: string } {
    const r = spawnSync('podman', [...podmanRun(join(work, 'podman')), ...args, ...['--rootfs', dir], ...argv], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.error) throw r.error;
    return { stdout: r.stdout, status: r.status, stderr: r.stderr };
  }
  // The first two lines of /etc/hosts (podman's are its --add-host lines, then the host's /etc/hosts),
  // the nameservers, and which of the three files are mount points.
  const show =
    'head -2 /etc/hosts; grep nameserver /etc/resolv.conf 2>/dev/null; grep -o -E " /etc/[a-z.]+ " /proc/self/mountinfo | sort';

  it('the same --add-host lines, --dns nameservers and mounted files, with --network host and none', async () => {
    for (const network of ['host', 'none']) {
      const dns = network === 'host' ? ['--dns', '9.9.9.9'] : [];
      const args = ['--network', network, '--add-host', 'registry:10.0.0.5', '--add-host', 'v6:fd00::1', ...dns];
      // podman leaves its mount targets behind in a rootfs: it gets a copy of its own.
      const p = podman(makeRootfs(`podman-${network}`, true), args, ['/bin/busybox', 'sh', '-c', show]);
      expect(p.status, p.stderr).toBe(0);
      const b = await run(makeRootfs(`builder-${network}`, true), ['sh', '-c', show], args);
      expect(b.stderr).toBe('');
      expect(b.stdout).toBe(p.stdout);
    }
  });

  it('refuses what podman refuses: --dns with --network none, and a bad --add-host or --dns, status 125', async () => {
    const bad = [
      ['--network', 'none', '--dns', '9.9.9.9'],
      ['--add-host', 'registry'],
      ['--add-host', 'registry:10.0.0'],
      ['--add-host', 'registry=10.0.0.5'],
      ['--dns', 'dns.example'],
    ];
    const dir = makeRootfs('bad-input', true);
    const before = snapshot(dir);
    for (const args of bad) {
      const p = podman(makeRootfs(`podman-bad-${bad.indexOf(args)}`, true), args, ['/bin/busybox', 'true']);
      expect(p.status, `podman ${args.join(' ')}`).toBe(125);
      const b = await run(dir, ['true'], args);
      expect(b.code, args.join(' ')).toBe(125);
      expect(b.stdout).toBe('');
      expect(b.stderr.split('\n')).toHaveLength(2); // one line and its newline
      expect(b.stderr).toMatch(/^Error: (add-host|dns) /);
    }
    expect(snapshot(dir)).toEqual(before);
  });
});
