// Every command, for oclif's explicit discovery strategy. Command modules load the engine lazily.
import Images from './commands/images.js';
import MountKinds from './commands/mount-kinds.js';
import Prune from './commands/prune.js';
import Run from './commands/run.js';
import Sources from './commands/sources.js';

export const commands = { images: Images, 'mount-kinds': MountKinds, prune: Prune, run: Run, sources: Sources };
export default commands;
