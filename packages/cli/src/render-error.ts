/**
 * Print an error the way every builder command does: one line `Error: <message>` on stderr (the
 * stack too at debug level). Returns the exit status: the error's own, or 125.
 */
export function renderError(err: unknown, debug = false): number {
  const e = err as { message?: string; stack?: string; exitCode?: number };
  const message = (e?.message || String(err)).split('\n')[0].replace(/^Error: /, '');
  process.stderr.write(`Error: ${message}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  return typeof e?.exitCode === 'number' ? e.exitCode : 125;
}
