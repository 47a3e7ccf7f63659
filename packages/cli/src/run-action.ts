import type { RunFlags } from './run-flags.js';

/** What `builder run` does once its arguments are parsed: returns the exit status. */
export async function runAction(flags: RunFlags, argv: string[]): Promise<number> {
  const { createEngine } = await import('@builder/core');
  const engine = await createEngine({ logLevel: flags['log-level'] as 'warn' });
  const result = await engine.run(
    { argv, rootfs: flags.rootfs, env: flags.env, cwd: flags.workdir, hostname: flags.hostname },
    { forwardSignals: true },
  );
  return result.exitCode;
}
