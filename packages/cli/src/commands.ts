// Every command, for oclif's explicit discovery strategy. Command modules load the engine lazily.
import MountKinds from './commands/mount-kinds.js';
import Run from './commands/run.js';

export const commands = { 'mount-kinds': MountKinds, run: Run };
export default commands;
