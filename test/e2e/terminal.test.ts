// `builder run -t`: an interactive shell in tmux, driven and read the way a person would use it.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILDER, run, sleep } from '../helpers/cli.js';
import { requireRoot } from '../helpers/host.js';
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

let rootfs: ReturnType<typeof makeBusyboxRootfs>;

beforeAll(() => {
  requireRoot();
  try {
    tmux('-V');
  } catch {
    throw new Error('tmux is missing: apt-get install tmux');
  }
  rootfs = makeBusyboxRootfs();
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
  rootfs?.remove();
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
    await sleep(200);
    keys('clear; stty size', 'Enter');
    await waitScreen(/^24 80$/m);
  });

  it('Ctrl-C interrupts the foreground command, not the shell', async () => {
    keys('sleep 30; echo after-sleep', 'Enter');
    await sleep(300);
    keys('C-c');
    await sleep(300);
    keys('echo still-here', 'Enter');
    const s = await waitScreen(/^still-here$/m);
    expect(s).not.toMatch(/^after-sleep$/m);
  });

  it('has job control: Ctrl-Z stops a job, jobs lists it', async () => {
    keys('clear; sleep 40', 'Enter');
    await sleep(300);
    keys('C-z');
    await sleep(300);
    keys('jobs', 'Enter');
    await waitScreen(/Stopped\s+sleep 40/);
    keys('kill -9 %1', 'Enter'); // a stopped job stays stopped on SIGTERM
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
