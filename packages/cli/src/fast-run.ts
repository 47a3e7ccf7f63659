// `builder run` without oclif, for the common well-formed invocation (see run-flags.ts).
import { renderError } from './render-error.js';
import { runAction } from './run-action.js';
import { parseRunArgs } from './run-flags.js';

/** Run and exit when the arguments are the plain case; return false to let oclif handle them. */
export async function fastRun(args: readonly string[]): Promise<boolean> {
  const parsed = parseRunArgs(args);
  if (!parsed) return false;
  let status: number;
  try {
    status = await runAction(parsed.flags, parsed.argv);
  } catch (err) {
    status = renderError(err, parsed.flags['log-level'] === 'debug');
  }
  process.exit(status);
}
