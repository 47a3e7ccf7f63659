// The stage process: a fresh `node` that does the namespace work of exactly one run.
// It loads only this package. Until the command is spawned it uses only synchronous calls on its
// main thread (docs/architecture.md, "The process model"). Plan in on fd 3, events out on fd 4 (protocol.ts).
import { closeSync, fchownSync, fstatSync, mkdirSync, readlinkSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import tty from 'node:tty';
import { type CgroupFds, type CgroupPlan, joinCgroup, leaveCgroup, openCgroupFds } from '../cgroup.js';
import { confine } from '../confine.js';
import {
  AT_EMPTY_PATH,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUTS,
  MNT_DETACH,
  MS_BIND,
  MS_NODEV,
  MS_NOSUID,
  MS_PRIVATE,
  MS_REC,
  O_CLOEXEC,
  O_DIRECTORY,
  O_PATH,
} from '../constants.js';
import { lookupContainerUser } from '../container-user.js';
import { attachDeviceFilter } from '../device-filter.js';
import { fdPath, resolveInRoot, StubLog } from '../in-root.js';
import { executeOps } from '../interpreter.js';
import { bringLoopbackUp } from '../loopback.js';
import { makeRootReadOnly } from '../masked-paths.js';
import { validateOps } from '../mount-op.js';
import { overlayData } from '../overlay.js';
import { pinBindSources, unmountAll } from '../pinned-sources.js';
import { copyWindowSize, openPty } from '../pty.js';
import { reap, spawnCommand, type WaitStatus } from '../spawn.js';
import { hasCode, type SyscallError } from '../syscall-error.js';
import {
  fchownat,
  mount,
  open,
  pidfdOpen,
  pidNamespaceForChildren,
  pivotRoot,
  pollReadable,
  sethostname,
  setParentDeathSignal,
  umount2,
  unshare,
  waitReadable,
} from '../syscalls.js';
import { type ExecUser, parseUserSpec } from '../user.js';
import { forbidThreadPool } from './guard.js';
import {
  CGROUP_SKIP,
  EVENT_FD,
  FORWARDED_SIGNALS,
  PARENT_ENV,
  PLAN_FD,
  type StageEvent,
  type StagePlan,
} from './protocol.js';

const ENGINE_ERROR = 125;
/** The stage works with umask 0 (exact modes); the command gets the usual one, as with docker. */
const COMMAND_UMASK = 0o022;
/** Sent by the kernel when the host process dies; the stage then kills the command and exits. */
const PARENT_DEATH_SIGNAL = 'SIGUSR2';
/** What the stage passes on to the command: what the host forwards, and SIGUSR1 when sent to the stage itself. */
const STAGE_SIGNALS: readonly NodeJS.Signals[] = [...FORWARDED_SIGNALS, 'SIGUSR1'];

function emit(event: StageEvent): void {
  try {
    writeSync(EVENT_FD, `${JSON.stringify(event)}\n`);
  } catch {
    // The host is gone; the parent-death signal takes care of the rest.
  }
}

function fail(err: unknown): never {
  const e = err as { message?: string; code?: string };
  emit({ event: 'error', message: e?.message ?? String(err), ...(e?.code ? { code: e.code } : {}) });
  kill('SIGKILL');
  process.exit(ENGINE_ERROR);
}

/** Read PLAN_FD until a chunk satisfies `until`, or EOF. */
function readPlanFd(until: (chunk: Buffer) => boolean): { data: Buffer; eof: boolean } {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(PLAN_FD, buf, 0, buf.length, null);
    } catch (err) {
      if (hasCode(err, 'EAGAIN')) {
        waitReadable(PLAN_FD);
        continue;
      }
      throw err;
    }
    if (n === 0) return { data: Buffer.concat(chunks), eof: true };
    const chunk = Buffer.from(buf.subarray(0, n));
    chunks.push(chunk);
    if (until(chunk)) return { data: Buffer.concat(chunks), eof: false };
  }
}

/** What came on PLAN_FD after the plan's line, and whether PLAN_FD is still open (the host's word on the cgroup is to come). */
const afterPlan = { text: '', open: false };

function readPlan(): StagePlan {
  const { data, eof } = readPlanFd((chunk) => chunk.includes(0x0a));
  if (data.length === 0) process.exit(ENGINE_ERROR); // the host went away before sending a plan
  const nl = data.indexOf(0x0a);
  const plan = JSON.parse(data.subarray(0, nl < 0 ? data.length : nl).toString('utf8')) as StagePlan;
  afterPlan.text = nl < 0 ? '' : data.subarray(nl + 1).toString('utf8');
  if (eof || !plan.limits) closeSync(PLAN_FD);
  else afterPlan.open = true;
  const problems = validateOps(plan.ops);
  if (problems.length) throw new Error(`invalid plan: ${problems.join('; ')}`);
  return plan;
}

/**
 * Wait for the host's word on the run's cgroup (protocol.ts, PLAN_FD) and open the cgroup it made;
 * undefined: run without one. Call before pivot_root.
 */
function openCgroup(plan: StagePlan): CgroupFds | undefined {
  let word = afterPlan.text;
  if (afterPlan.open) {
    word += readPlanFd(() => false).data.toString('utf8');
    closeSync(PLAN_FD);
  }
  if (word === CGROUP_SKIP) return undefined;
  if (!word.startsWith('{')) process.exit(ENGINE_ERROR); // the host could not make it, and reports why
  // The runner's CgroupPlan: the stage joins it right before the spawn and leaves it right after.
  const cgroup = JSON.parse(word) as CgroupPlan;
  const fds = openCgroupFds(cgroup);
  // cgroup v2's device rules are an eBPF program on the run's cgroup: attached here, where koffi is
  // loaded already (the host would spend ~15 ms loading it, on the critical path). device-filter.ts.
  if (cgroup.version === 2 && plan.limits?.devices) attachDeviceFilter(cgroup.hierarchies[0].dir, plan.limits.devices);
  return fds;
}

/** Mount the rootfs at <runroot>/rootfs inside the private scratch tmpfs and return an O_PATH fd of it. */
function prepareRootfs(plan: StagePlan): { path: string; fd: number } {
  // Open a directory rootfs before the tmpfs covers the runroot, in case it lives below it.
  const hostRootFd = plan.rootfs.type === 'dir' ? open(plan.rootfs.path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  mkdirSync(plan.runroot, { recursive: true, mode: 0o700 });
  mount('tmpfs', plan.runroot, 'tmpfs', MS_NOSUID | MS_NODEV, 'mode=0700');
  const rootfs = `${plan.runroot}/rootfs`;
  mkdirSync(rootfs, { mode: 0o755 });
  if (plan.rootfs.type === 'dir') {
    mount(fdPath(hostRootFd), rootfs, null, MS_BIND | MS_REC);
    closeSync(hostRootFd);
  } else {
    const upperdir = `${plan.runroot}/upper`;
    const workdir = `${plan.runroot}/work`;
    mkdirSync(upperdir, { mode: 0o755 });
    mkdirSync(workdir, { mode: 0o700 });
    mount('overlay', rootfs, 'overlay', 0, overlayData(plan.rootfs.lowers, { upperdir, workdir }));
  }
  return { path: rootfs, fd: open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC) };
}

/** The console pty: master and slave fds. */
interface Console {
  master: number;
  /** Kept open by the stage so that the master never hangs up and loses queued output. */
  slave: number;
}

/** Mount the pty slave of a new pair on /dev/console (as runc does). */
function setupConsole(rootFd: number, stubs: StubLog): Console {
  const pty = openPty(rootFd);
  const target = resolveInRoot(rootFd, '/dev/console', { kind: 'file', mode: 0o600 }, stubs);
  try {
    mount(fdPath(pty.slave), fdPath(target.fd), null, MS_BIND);
  } finally {
    closeSync(target.fd);
  }
  return pty;
}

/**
 * Create the working directory when it is missing. With a user, a directory created here belongs
 * to that user, as podman does for an image's WorkingDir (its parents stay root's).
 */
function prepareWorkdir(rootFd: number, cwd: string, user: ExecUser | undefined, stubs: StubLog): void {
  const dir = resolveInRoot(rootFd, cwd, { kind: 'dir', mode: 0o755 }, stubs);
  try {
    if (user && dir.created.at(-1) === dir.path) fchownat(dir.fd, '', user.uid, user.gid, AT_EMPTY_PATH);
  } finally {
    closeSync(dir.fd);
  }
}

/**
 * Let the user reopen its stdio (`echo hi >/dev/stderr` opens /proc/self/fd/2 anew, which checks
 * the inode's owner), as runc does: the console is given to the uid, and so are anonymous pipes,
 * which exist only as these fds. A host file or terminal on the stdio is never changed: its
 * owner is the host's business. Call before pivot_root (it reads the host's /proc/self/fd).
 */
function giveStdioTo(user: ExecUser, consolePty: Console | undefined): void {
  if (consolePty) {
    fchownSync(consolePty.slave, user.uid, -1);
    return;
  }
  for (const fd of [0, 1, 2]) {
    try {
      if (!/^pipe:\[\d+\]$/.test(readlinkSync(`/proc/self/fd/${fd}`))) continue;
      if (fstatSync(fd).uid !== user.uid) fchownSync(fd, user.uid, -1);
    } catch {
      // Closed, or not ours to change: the command may still write to it, it just cannot reopen it.
    }
  }
}

/** What setup() hands on to run(). */
interface Prepared {
  /** The console, with --terminal. */
  console?: Console;
  /** The user to run as, resolved in the container's /etc/passwd and /etc/group. */
  user?: ExecUser;
  /** The run's cgroup and the stage's own, opened before pivot_root (limits). */
  cgroup?: CgroupFds;
}

/** Everything up to pivot_root. */
function setup(plan: StagePlan): Prepared {
  const ns = plan.namespaces;
  const pidfd = ns.pid ? pidfdOpen(process.pid) : -1;
  unshare(
    CLONE_NEWNS |
      (ns.pid ? CLONE_NEWPID : 0) |
      (ns.uts ? CLONE_NEWUTS : 0) |
      (ns.ipc ? CLONE_NEWIPC : 0) |
      (ns.net ? CLONE_NEWNET : 0),
  );
  forbidThreadPool((type) => fail(new Error(`internal error: thread-pool request ${type} in the stage after unshare`)));
  if (ns.net) bringLoopbackUp(); // a new network namespace (--network none): only `lo`, and up
  mount(null, '/', null, MS_REC | MS_PRIVATE);

  const rootfs = prepareRootfs(plan);
  const pidnsFd = ns.pid ? pidNamespaceForChildren(pidfd) : undefined;
  const stubs = StubLog.forRoot(rootfs.fd);
  let consolePty: Console | undefined;
  let user: ExecUser | undefined;
  try {
    const { ops, pinned } = pinBindSources(plan.ops, `${plan.runroot}/mnt`);
    executeOps(ops, { rootFd: rootfs.fd, pidnsFd, scratchDir: `${plan.runroot}/scratch`, stubs });
    // The container's mounts are made: the pinned copies have done their job.
    unmountAll(pinned);
    // The user is looked up in the container as it now is: its own files, and whatever was mounted.
    if (plan.process.user !== undefined) user = lookupContainerUser(rootfs.fd, parseUserSpec(plan.process.user));
    prepareWorkdir(rootfs.fd, plan.process.cwd, user, stubs);
    if (plan.process.terminal) consolePty = setupConsole(rootfs.fd, stubs);
    if (plan.rootfs.readOnly) makeRootReadOnly(rootfs.fd);
  } finally {
    if (stubs.stubs.length) emit({ event: 'stubs', stubs: stubs.stubs, parents: stubs.parents });
  }
  if (user) giveStdioTo(user, consolePty);
  if (plan.hostname !== undefined && ns.uts) sethostname(plan.hostname);
  const cgroup = plan.limits ? openCgroup(plan) : undefined;

  process.chdir(rootfs.path);
  pivotRoot('.', '.');
  umount2('.', MNT_DETACH);
  process.chdir('/');
  return { console: consolePty, user, cgroup };
}

/**
 * Confine the command to come (confine.ts: capabilities, seccomp, no_new_privs) and become the run's
 * user; with a user, enter the working directory as that user, so that a directory it may not enter
 * is one clear error rather than a failed exec.
 */
function confineCommand(plan: StagePlan, user: ExecUser | undefined): void {
  confine(plan.security, user, osConstants.signals[PARENT_DEATH_SIGNAL]);
  if (String(process.ppid) !== process.env[PARENT_ENV]) process.exit(ENGINE_ERROR); // host died meanwhile
  if (!user) return;
  const { cwd } = plan.process;
  try {
    process.chdir(cwd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(
      `user ${plan.process.user} (uid ${user.uid}, gid ${user.gid}) cannot enter the working directory ${cwd}: ${code}`,
    );
  }
}

/** The command's pid once it runs. */
let commandPid: number | undefined;

/** The console relay: the pty master copied to this process's stdout, its stdin to the master. */
interface Terminal {
  master: number;
  /** After the command has exited: write out what it left in the pty, and give the terminal back. */
  finish(): void;
}

function relayTerminal({ master, slave }: Console): Terminal {
  copyWindowSize(1, master) || copyWindowSize(0, master);

  const pty = new tty.ReadStream(master);
  let input: tty.ReadStream | Socket | undefined;
  if (tty.isatty(0)) {
    const stdin = new tty.ReadStream(0);
    stdin.setRawMode(true);
    input = stdin;
  } else if (fstatSync(0).isFIFO() || fstatSync(0).isSocket()) {
    input = new Socket({ fd: 0, readable: true, writable: false });
  }
  input?.on('data', (data) => pty.write(data));
  input?.on('error', () => {});
  pty.on('data', (data) => process.stdout.write(data));
  pty.on('error', () => {});
  return {
    master,
    finish() {
      // Everything the command wrote is queued in the pty by now; the stage's own slave fd kept the
      // master from hanging up, so nothing was dropped. Read it to the end (EAGAIN) and write it out.
      pty.pause();
      const buf = Buffer.alloc(64 * 1024);
      // libuv may have left the master blocking: read only what poll says is there.
      while (pollReadable(master, 0)) {
        let n = 0;
        try {
          n = readSync(master, buf, 0, buf.length, null);
        } catch {
          break;
        }
        if (n === 0) break;
        process.stdout.write(Buffer.from(buf.subarray(0, n)));
      }
      closeSync(slave);
      if (input instanceof tty.ReadStream) input.setRawMode(false);
      input?.destroy();
    },
  };
}

function run(plan: StagePlan, { console: consolePty, user, cgroup }: Prepared): void {
  const { argv, cwd } = plan.process;
  let { env } = plan.process;
  try {
    if (cgroup) joinCgroup(cgroup);
    confineCommand(plan, user);
  } catch (err) {
    fail(err);
  }
  // podman: HOME from the user's passwd entry unless the spec or the image sets it.
  if (user && !env.some((e) => e.startsWith('HOME='))) env = [...env, `HOME=${user.home}`];
  const terminal = consolePty === undefined ? undefined : relayTerminal(consolePty);
  let ended = false;
  const onExit = (status: WaitStatus) => {
    ended = true;
    terminal?.finish();
    const signal = status.signal === null ? null : signalName(status.signal);
    emit({ event: 'exit', code: status.code, signal });
    const exit = () => process.exit(status.code ?? 128 + (status.signal ?? 0));
    // Without a terminal, stdout is the command's: the stage never opens it as a stream (libuv would
    // make a shared pipe non-blocking under the command's feet).
    if (terminal) process.stdout.write('', exit);
    else exit();
  };
  const check = () => {
    if (commandPid === undefined || ended) return;
    const status = reap(commandPid);
    if (status) onExit(status);
  };
  process.on('SIGCHLD', check);
  process.umask(COMMAND_UMASK);
  try {
    commandPid = spawnCommand({ argv, env, cwd, terminal: terminal ? '/dev/console' : undefined });
  } catch (err) {
    const e = err as SyscallError;
    terminal?.finish();
    emit({ event: 'exec-error', file: argv[0], code: e.code ?? 'UNKNOWN', message: e.message });
    process.exit(e.code === 'ENOENT' ? 127 : 126);
  }
  if (cgroup) {
    try {
      leaveCgroup(cgroup);
    } catch (err) {
      fail(err);
    }
  }
  emit({ event: 'started', pid: commandPid });
  // Signal listeners do not keep Node alive; this also re-checks in case a SIGCHLD was missed.
  setInterval(check, 1000);
  if (terminal) process.on('SIGWINCH', () => copyWindowSize(1, terminal.master) || copyWindowSize(0, terminal.master));
  check();
}

const signalName = (n: number): string =>
  Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;

function kill(signal: NodeJS.Signals | number): void {
  if (commandPid === undefined) return;
  try {
    process.kill(commandPid, signal);
  } catch {
    // gone already
  }
}

let plan: StagePlan | undefined;

function main(): void {
  setParentDeathSignal(osConstants.signals[PARENT_DEATH_SIGNAL]);
  if (String(process.ppid) !== process.env[PARENT_ENV]) process.exit(ENGINE_ERROR); // host died before prctl
  process.on(PARENT_DEATH_SIGNAL, () => {
    kill('SIGKILL');
    process.exit(ENGINE_ERROR);
  });
  // Until the command runs, a signal ends the run; afterwards it is passed on to the command.
  for (const sig of STAGE_SIGNALS) {
    process.on(sig, () => {
      if (commandPid !== undefined) {
        if (sig !== 'SIGWINCH' || !plan?.process.terminal) kill(sig);
      } else if (sig !== 'SIGWINCH' && sig !== 'SIGUSR1') {
        emit({ event: 'exit', code: null, signal: sig });
        process.exit(128 + osConstants.signals[sig]);
      }
    });
  }
  process.umask(0);
  let ready: StagePlan;
  let prepared: Prepared;
  try {
    ready = readPlan();
    plan = ready;
    prepared = setup(ready);
  } catch (err) {
    fail(err);
  }
  run(ready, prepared);
}

main();
