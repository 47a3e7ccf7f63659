// Every command, for oclif's explicit discovery strategy. Command modules load the engine lazily.
import Run from './commands/run.js';

export const commands = { run: Run };
export default commands;
