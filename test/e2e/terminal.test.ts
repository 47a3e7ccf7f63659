// `builder run -t`: an interactive shell in tmux, driven and read the way a person would use it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILDER, run, sleep, waitFor } from '../helpers/cli.js';
import { pidsMatching, requireRoot } from '../helpers/host.js';
import { makeBusyboxRootfs } from '../helpers/rootfs.js';

const SESSION = `builder-e2e-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-p', '-t', SESSION);
const keys = (...k: string[]) => tmux('send-keys', '-t', SESSION, ...k);

/** Wait until the screen shows `pattern`; returns the screen. */
async function waitScreen(pattern: RegExp, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = screen();
    if (pattern.test(s)) return s;
    if (Date.now() > end) throw new Error(`screen never showed ${pattern}:\n${s}`);
    await sleep(50);
  }
}

/** `state`, `pgrp` and `tpgid` (the terminal's foreground group) of a process, from /proc/PID/stat. */
function procStat(pid: number): { state: string; pgrp: number; tpgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, , pgrp, , , tpgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, pgrp: Number(pgrp), tpgid: Number(tpgid) };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Wait until `sleep ARG` runs as the terminal's foreground job (what Ctrl-C and Ctrl-Z reach); its pid. */
const inForeground = (arg: string): Promise<number> =>
  waitFor(
    `sleep ${arg} to run in the foreground`,
    () =>
      pidsMatching(`sleep ${arg}`).find((pid) => {
        const s = procStat(pid);
        return s !== undefined && s.state !== 'T' && s.pgrp === s.tpgid;
      }),
    30_000,
  );

/** Until `what` holds, poll it, with a generous limit. */
const until = (what: string, fn: () => boolean): Promise<true> =>
  waitFor(what, () => (fn() ? true : undefined), 30_000);

/** Unique arguments for the sleeps of the shell, so that its processes can be told apart from the host. */
let marks = 0;
const mark = () => `${process.pid}${++marks}`;

let work: string;
let rootfs: ReturnType<typeof makeBusyboxRootfs>;

beforeAll(() => {
  requireRoot();
  try {
    tmux('-V');
  } catch {
    throw new Error('tmux is missing: apt-get install tmux');
  }
  work = mkdtempSync(join(tmpdir(), 'builder-e2e-terminal-'));
  rootfs = makeBusyboxRootfs([], work);
  // After the run, the pane's own shell reports builder's status and the terminal's mode.
  const command = `${process.execPath} ${BUILDER} run -t --rootfs ${rootfs.path} -- sh; echo "STATUS=$?"; stty -a; sleep 60`;
  tmux('new-session', '-d', '-s', SESSION, '-x', '100', '-y', '30', command);
});
afterAll(() => {
  try {
    tmux('kill-session', '-t', SESSION);
  } catch {
    // already gone
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('an interactive shell on -t', () => {
  it('shows a prompt, and its terminal is the console', async () => {
    await waitScreen(/^\/ #/m);
    keys('echo "tty=$(tty) pid=$$"', 'Enter');
    await waitScreen(/^tty=\/dev\/console pid=1$/m);
  });

  it('reports the window size and follows a resize', async () => {
    keys('stty size', 'Enter');
    await waitScreen(/^30 100$/m);
    tmux('resize-window', '-t', SESSION, '-x', '80', '-y', '24');
    // The new size reaches the container's terminal asynchronously: ask until it shows there.
    const end = Date.now() + 30_000;
    for (let n = 1; ; n++) {
      keys('clear', 'Enter', `echo size-${n} $(stty size)`, 'Enter');
      const line = new RegExp(`^size-${n} (\\d+ \\d+)$`, 'm');
      const size = line.exec(await waitScreen(line))?.[1];
      if (size === '24 80') break;
      if (Date.now() > end) throw new Error(`the container's terminal still says ${size} after the resize to 24 80`);
      await sleep(50);
    }
  });

  it('Ctrl-C interrupts the foreground command, not the shell', async () => {
    const arg = mark();
    keys(`clear; sleep ${arg}; echo after-sleep`, 'Enter');
    const pid = await inForeground(arg);
    keys('C-c');
    await until(`sleep ${arg} to end`, () => [undefined, 'Z'].includes(procStat(pid)?.state));
    keys('echo still-here', 'Enter');
    const s = await waitScreen(/^still-here$/m);
    expect(s).not.toMatch(/^after-sleep$/m);
  });

  it('has job control: Ctrl-Z stops a job, jobs lists it', async () => {
    const arg = mark();
    keys(`clear; sleep ${arg}`, 'Enter');
    const pid = await inForeground(arg);
    keys('C-z');
    await until(`sleep ${arg} to stop`, () => procStat(pid)?.state === 'T');
    keys('jobs', 'Enter');
    await waitScreen(new RegExp(`Stopped\\s+sleep ${arg}`));
    keys('kill -9 %1', 'Enter'); // a stopped job stays stopped on SIGTERM
    await until(`sleep ${arg} to be killed`, () => [undefined, 'Z'].includes(procStat(pid)?.state));
  });

  it('passes the exit status through and gives the terminal back in cooked mode', async () => {
    keys('clear; exit 4', 'Enter');
    const s = await waitScreen(/STATUS=\d+[\s\S]*icanon/);
    expect(s).toMatch(/^STATUS=4$/m);
    expect(s).toMatch(/(^| )icanon( |$)/m);
    expect(s).toMatch(/(^| )echo( |$)/m);
  });
});

describe('-t without a terminal around it', () => {
  it('relays every byte the command wrote before it exited', async () => {
    const r = await run(
      rootfs.path,
      ['sh', '-c', 'i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; echo LAST'],
      ['-t'],
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\r\n');
    expect(lines.length).toBe(3002); // 3000 lines, LAST, and the empty tail
    expect(lines.at(-2)).toBe('LAST');
    expect(lines.at(-3)).toBe('line-2999');
  });
});
