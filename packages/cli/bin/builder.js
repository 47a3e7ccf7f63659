#!/usr/bin/env node
// builder's entry point. For `run`, the stage process is started first, so that its own Node
// start-up overlaps the CLI's loading (docs/architecture.md, "The process model"), and the plain well-formed invocation is
// parsed without loading oclif (src/run-flags.ts); everything else goes through oclif.
const args = process.argv.slice(2);
const beforeCommand = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
if (args[0] === 'run' && !beforeCommand.some((a) => a === '--help' || a === '-h')) {
  const { prestartStage } = await import('@builder/core/launcher');
  prestartStage();
  const { fastRun } = await import('../dist/fast-run.js');
  await fastRun(args.slice(1));
}
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
