import { Command, Flags } from '@oclif/core';

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * Shared flags and error rendering: one line `Error: <message>` on stderr, exit status from the
 * error (125 when it has none), the stack only at debug level.
 */
export abstract class BuilderCommand extends Command {
  static override baseFlags = {
    'log-level': Flags.option({
      options: LEVELS,
      default: 'warn' as const,
      description: 'how much to log on stderr',
      helpGroup: 'GLOBAL',
    })(),
  };

  protected logLevel(): (typeof LEVELS)[number] {
    const i = this.argv.indexOf('--log-level');
    const inline = this.argv.find((a) => a.startsWith('--log-level='));
    const value = inline ? inline.split('=')[1] : i >= 0 ? this.argv[i + 1] : undefined;
    return (LEVELS as readonly string[]).includes(value ?? '') ? (value as (typeof LEVELS)[number]) : 'warn';
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number }; code?: string }) {
    if (err.code === 'EEXIT') throw err; // this.exit(n): not an error
    const message = (err.message || String(err)).split('\n')[0].replace(/^Error: /, '');
    process.stderr.write(`Error: ${message}\n`);
    if (this.logLevel() === 'debug' && err.stack) process.stderr.write(`${err.stack}\n`);
    process.exit(err.exitCode ?? 125);
  }
}
