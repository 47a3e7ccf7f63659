// The open(2) flags of the unpacker's directory handles: O_PATH (no read access needed, no open of a
// device or FIFO), a directory or nothing, closed on exec; a child directory never through a symlink.
import { O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW, O_PATH } from '@builder/native';

/** A directory handle (the layer's root, a lower layer's root): it may be reached through a symlink. */
export const DIR_PATH_FLAGS = O_PATH | O_DIRECTORY | O_CLOEXEC;

/** A directory inside a layer, opened by name from its parent: never a symlink. */
export const SUBDIR_PATH_FLAGS = DIR_PATH_FLAGS | O_NOFOLLOW;
