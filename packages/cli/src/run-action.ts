import { readFileSync } from 'node:fs';
import type * as Core from '@builder/core';
import { engineOptions } from './engine-options.js';
import type { RunFlags } from './run-flags.js';
import { securityOptions } from './security-opt.js';

/** What `builder run` does once its arguments are parsed: returns the exit status. */
export async function runAction(flags: RunFlags, argv: string[]): Promise<number> {
  const core = await import('@builder/core');
  const mounts = userMounts(core, flags);
  const dirModes = (['hidden', 'read-only', 'overlay', 'full-access'] as const).flatMap((mode) =>
    (flags[`${mode}-dir`] ?? []).map((path) => ({ mode, path })),
  );
  const security = securityOptions(core, flags);
  const engine = await core.createEngine(engineOptions(core, flags));
  const { layerProgress } = await import('./progress.js');
  const result = await engine.run(
    {
      argv,
      rootfs: flags.rootfs,
      image: flags.image,
      env: flags.env,
      cwd: flags.workdir,
      user: flags.user,
      hostname: flags.hostname,
      terminal: flags.terminal,
      ...(flags['read-only'] ? { readOnly: true, readOnlyTmpfs: flags['read-only-tmpfs'] !== 'false' } : {}),
      ...(flags.network === undefined ? {} : { network: flags.network }),
      ...(flags['add-host'] ? { addHosts: flags['add-host'] } : {}),
      ...(flags.dns ? { dns: flags.dns } : {}),
      ...(flags['pids-limit'] === undefined ? {} : { pidsLimit: core.parsePidsLimit(flags['pids-limit']) }),
      ...(flags.memory === undefined ? {} : { memory: flags.memory }),
      ...(flags.cpus === undefined ? {} : { cpus: core.parseCpus(flags.cpus) }),
      ...(dirModes.length ? { dirModes } : {}),
      ...(mounts.length ? { mounts } : {}),
      ...security,
    },
    { forwardSignals: true, progress: layerProgress(process.stderr) },
  );
  return result.exitCode;
}

/** The user's mounts, in order: the --mounts-file entries, then each --mount, then each -v. */
export function userMounts(core: typeof Core, flags: RunFlags): Core.MountSpec[] {
  const file = flags['mounts-file'];
  const fromFile = file === undefined ? [] : core.parseMountsFile(readMountsFile(core, file), file);
  return [
    ...fromFile,
    ...(flags.mount ?? []).map(core.parseMountFlag),
    ...(flags.volume ?? []).map(core.parseVolumeFlag),
  ];
}

function readMountsFile(core: typeof Core, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new core.SpecError(
      `mounts file ${JSON.stringify(file)}: ${e.code === 'ENOENT' ? 'no such file' : `cannot read it (${e.code ?? e.message})`}`,
    );
  }
}
