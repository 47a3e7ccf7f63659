// Images made by real tools for the end-to-end tests.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs } from './rootfs.js';
import { tool } from './tools.js';

/**
 * A two-layer image in the OCI layout `dir`/L (tag `base`), made by umoci: busybox and files, then a
 * layer that changes, deletes and replaces; also as `dir`/a.tar (oci-archive) and `dir`/d.tar
 * (docker-archive, `base:latest`) converted by skopeo. Its Cmd prints EXPECTED_OUTPUT.
 */
export function buildUmociImage(dir: string): void {
  const bb = makeBusyboxRootfs();
  try {
    tool('umoci', ['init', '--layout', 'L'], { cwd: dir });
    tool('umoci', ['new', '--image', 'L:base'], { cwd: dir });
    tool('umoci', ['unpack', '--image', 'L:base', 'bundle'], { cwd: dir });
    const root = join(dir, 'bundle/rootfs');
    cpSync(join(bb.path, 'bin'), join(root, 'bin'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root, 'etc/keep'), { recursive: true });
    mkdirSync(join(root, 'data/dir'), { recursive: true });
    writeFileSync(join(root, 'etc/greeting'), 'v1\n');
    writeFileSync(join(root, 'etc/deleted'), 'gone\n');
    writeFileSync(join(root, 'data/dir/f'), 'x\n');
    tool('umoci', ['repack', '--image', 'L:base', 'bundle'], { cwd: dir });
    rmSync(join(dir, 'bundle'), { recursive: true });
    tool('umoci', ['unpack', '--image', 'L:base', 'bundle'], { cwd: dir });
    writeFileSync(join(root, 'etc/greeting'), 'v2\n');
    rmSync(join(root, 'etc/deleted'));
    rmSync(join(root, 'data/dir'), { recursive: true });
    writeFileSync(join(root, 'data/dir'), 'file\n');
    tool('umoci', ['repack', '--image', 'L:base', 'bundle'], { cwd: dir });
    tool(
      'umoci',
      [
        'config',
        '--image',
        'L:base',
        '--config.env',
        'GREETING=hello',
        '--config.workingdir',
        '/etc',
        '--config.cmd',
        'sh',
        '--config.cmd',
        '-c',
        '--config.cmd',
        'echo "$GREETING $(pwd)"; cat /etc/greeting /data/dir; ls /etc',
      ],
      { cwd: dir },
    );
    writeFileSync(join(dir, 'policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
    for (const dest of ['oci-archive:a.tar:base', 'docker-archive:d.tar:base:latest'])
      tool('skopeo', ['--policy', 'policy.json', 'copy', '-q', 'oci:L:base', dest], { cwd: dir });
  } finally {
    bb.remove();
  }
}

/** What the image's Cmd prints (`ls /etc` shows the run's generated hostname, hosts and resolv.conf too). */
export const EXPECTED_OUTPUT = 'hello /etc\nv2\nfile\ngreeting\nhostname\nhosts\nkeep\nresolv.conf\n';

/** The config digest (the image ID) and the diffIDs of the image tagged `tag` in an OCI layout. */
export function ociImage(layout: string, tag = 'base'): { id: string; diffIds: string[] } {
  const blob = (digest: string) => JSON.parse(readFileSync(join(layout, 'blobs/sha256', digest.slice(7)), 'utf8'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag,
  );
  const manifest = blob(desc.digest);
  return { id: manifest.config.digest, diffIds: blob(manifest.config.digest).rootfs.diff_ids };
}

/** A busybox rootfs tarball `dir`/marked-`text`.tar (made once) whose /marker holds `text`. */
export function markedTar(dir: string, text: string): string {
  const file = join(dir, `marked-${text}.tar`);
  if (existsSync(file)) return file;
  const bb = makeBusyboxRootfs();
  try {
    writeFileSync(join(bb.path, 'marker'), `${text}\n`);
    tool('tar', ['-cf', file, '-C', bb.path, '.']);
  } finally {
    bb.remove();
  }
  return file;
}
