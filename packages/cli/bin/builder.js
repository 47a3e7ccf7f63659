#!/usr/bin/env node
// builder's entry point. For `run`, the stage process is started before oclif and the engine load,
// so that its own Node start-up overlaps theirs (DESIGN.md §2).
const args = process.argv.slice(2);
const flagArgs = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
if (args[0] === 'run' && !flagArgs.some((a) => a === '--help' || a === '-h')) {
  const { prestartStage } = await import('@builder/core/launcher');
  prestartStage();
}
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
