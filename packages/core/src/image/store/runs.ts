// runs/ and pruning/: how runs and prune keep out of each other's way without a lock on the run's path
// (a run on an image it has already unpacked touches no flock, so it needs no native code in the CLI
// process: loading koffi would cost more than the rest of the run's image handling). A run writes its
// registration (the keys it may use), then waits while a live prune's marker exists, then looks for its
// layers. A prune writes its marker, then reads the registrations of live runs and removes only layers
// none of them names. Either the run registered before the prune looked (the prune keeps its layers),
// or the run saw the marker and looks only after the prune is over. Registrations and markers of dead
// processes (kill -9) are recognised by their process start time and ignored.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type StoreDirs, writeAtomic } from './store-dirs.js';

/** The registrations of runs and the markers of prunes in a store. */
export class Runs {
  constructor(private readonly dirs: StoreDirs) {}

  /** A new registration of this run (empty until keys are added). */
  register(): Registration {
    return new Registration(this.dirs.dir('runs'));
  }

  /** Wait while a live prune is at work. */
  async waitForPrune(): Promise<void> {
    for (;;) {
      let markers: string[];
      try {
        markers = readdirSync(this.dirs.dir('pruning'));
      } catch {
        return; // no prune ever ran here
      }
      if (!markers.some(isLive)) return;
      await sleep(20);
    }
  }

  /** The keys that live runs registered; registrations of dead runs are removed. */
  liveKeys(): Set<string> {
    const keys = new Set<string>();
    const dir = this.dirs.dir('runs');
    for (const file of existsSync(dir) ? readdirSync(dir) : []) {
      if (!file.endsWith('.json')) continue;
      if (!isLive(file.slice(0, -'.json'.length))) {
        rmSync(join(dir, file), { force: true });
        continue;
      }
      try {
        for (const k of JSON.parse(readFileSync(join(dir, file), 'utf8')).keys as string[]) keys.add(k);
      } catch {
        // being written (renamed in whole, so only a vanished file): nothing to add
      }
    }
    return keys;
  }

  /** This process's prune marker, written now; the caller removes it when the prune is over. */
  markPrune(): { remove(): void } {
    mkdirSync(this.dirs.dir('pruning'), { recursive: true, mode: 0o700 });
    const marker = join(this.dirs.dir('pruning'), processId(process.pid) ?? String(process.pid));
    writeFileSync(marker, '');
    return { remove: () => rmSync(marker, { force: true }) };
  }

  /** Remove the markers of killed prunes. */
  removeDeadMarkers(): void {
    const dir = this.dirs.dir('pruning');
    for (const m of readdirSync(dir)) if (!isLive(m)) rmSync(join(dir, m));
  }
}

/** What a run registers: the layer keys it may use, in runs/<pid>-<start>-<n>.json while it lasts. */
export class Registration {
  private static count = 0;
  private readonly file: string;
  private readonly keys = new Set<string>();

  constructor(dir: string) {
    // Unique within the process too (a library may prepare several images at once).
    this.file = join(dir, `${processId(process.pid) ?? process.pid}-${++Registration.count}.json`);
  }

  add(keys: string[]): void {
    for (const k of keys) this.keys.add(k);
    writeAtomic(this.file, JSON.stringify({ keys: [...this.keys] }));
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * `<pid>-<start time>` of a process (its start time in clock ticks since boot, /proc/PID/stat field 22),
 * which no later process with a recycled pid shares; undefined when there is no such process.
 */
function processId(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return `${pid}-${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`;
  } catch {
    return undefined;
  }
}

/** Whether a `<pid>-<start>[-…]` name belongs to a process that is still running. */
function isLive(name: string): boolean {
  const [pid, start] = name.split('-');
  return processId(Number(pid)) === `${pid}-${start}`;
}
