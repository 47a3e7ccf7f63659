// What the oclif commands share: flags made from the run-flags.ts table, and one-line errors.
import { Command, Flags, type Interfaces } from '@oclif/core';
import { renderError } from './render-error.js';
import { LOG_LEVEL_FLAG, ROOT_FLAG, RUN_FLAGS, type RunFlagName, type RunFlagSpec } from './run-flags.js';

/** An oclif flag from a table entry (run-flags.ts). */
export function oclifFlag(spec: RunFlagSpec) {
  const common = {
    char: spec.char as 'e' | undefined,
    description: spec.description,
    helpValue: spec.helpValue,
    helpGroup: spec.helpGroup,
  };
  if (spec.boolean) return Flags.boolean({ ...common, default: false });
  if (spec.options) return Flags.option({ ...common, options: spec.options, default: spec.default })();
  if (spec.multiple) return Flags.string({ ...common, multiple: true, multipleNonGreedy: true });
  return Flags.string({ ...common, default: spec.default });
}

const runFlag = (name: RunFlagName): RunFlagSpec => RUN_FLAGS.find((f) => f.name === name) as RunFlagSpec;

/** --plugin, as `builder run` has it, for the other commands that load plugins. */
export const PLUGIN_FLAG = oclifFlag(runFlag('plugin'));
/** --root, the layer store's directory. */
export const STORE_ROOT_FLAG = oclifFlag(ROOT_FLAG);

/** Shared flags, and errors rendered as one line with the error's exit status (125 by default). */
export abstract class BuilderCommand extends Command {
  static override baseFlags: Interfaces.FlagInput = { 'log-level': oclifFlag(LOG_LEVEL_FLAG) };

  protected override async catch(err: Error & { code?: string }) {
    if (err.code === 'EEXIT') throw err; // this.exit(n): not an error
    const i = this.argv.indexOf('--log-level');
    const debug = this.argv.includes('--log-level=debug') || (i >= 0 && this.argv[i + 1] === 'debug');
    process.exit(renderError(err, debug));
  }
}
