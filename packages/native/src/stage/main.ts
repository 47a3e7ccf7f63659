// The stage process: a fresh `node` that does the namespace work of exactly one run.
// It loads only this package. Until the command is spawned it uses only synchronous calls on its
// main thread (DESIGN.md §2). Plan in on fd 3, events out on fd 4 (protocol.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, readSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import {
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
import { fdPath, resolveInRoot, StubLog } from '../in-root.js';
import { executeOps } from '../interpreter.js';
import { validateOps } from '../mount-op.js';
import { overlayData } from '../overlay.js';
import { stageBindSources, unmountAll } from '../staging.js';
import { hasCode } from '../syscall-error.js';
import {
  mount,
  open,
  pidfdOpen,
  pidNamespaceForChildren,
  pivotRoot,
  sethostname,
  setParentDeathSignal,
  umount2,
  unshare,
  waitReadable,
} from '../syscalls.js';
import { forbidThreadPool } from './guard.js';
import { EVENT_FD, PARENT_ENV, PLAN_FD, type StageEvent, type StagePlan } from './protocol.js';

const ENGINE_ERROR = 125;
/** Sent by the kernel when the host process dies; the stage then kills the command and exits. */
const PARENT_DEATH_SIGNAL = 'SIGUSR2';
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGWINCH'];

let child: ChildProcess | undefined;

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
  child?.kill('SIGKILL');
  process.exit(ENGINE_ERROR);
}

function readPlan(): StagePlan {
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
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  closeSync(PLAN_FD);
  if (chunks.length === 0) process.exit(ENGINE_ERROR); // the host went away before sending a plan
  const plan = JSON.parse(Buffer.concat(chunks).toString('utf8')) as StagePlan;
  const problems = validateOps(plan.ops);
  if (problems.length) throw new Error(`invalid plan: ${problems.join('; ')}`);
  return plan;
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

function setup(plan: StagePlan): void {
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
  mount(null, '/', null, MS_REC | MS_PRIVATE);

  const rootfs = prepareRootfs(plan);
  const pidnsFd = ns.pid ? pidNamespaceForChildren(pidfd) : undefined;
  const stubs = StubLog.forRoot(rootfs.fd);
  try {
    const { ops, staged } = stageBindSources(plan.ops, `${plan.runroot}/mnt`);
    executeOps(ops, { rootFd: rootfs.fd, pidnsFd, scratchDir: `${plan.runroot}/scratch`, stubs });
    // The container's mounts are made: the staged copies have done their job.
    unmountAll(staged);
    closeSync(resolveInRoot(rootfs.fd, plan.process.cwd, { kind: 'dir', mode: 0o755 }, stubs).fd);
  } finally {
    if (stubs.stubs.length) emit({ event: 'stubs', stubs: stubs.stubs, parents: stubs.parents });
  }
  if (plan.hostname !== undefined && ns.uts) sethostname(plan.hostname);

  process.chdir(rootfs.path);
  pivotRoot('.', '.');
  umount2('.', MNT_DETACH);
  process.chdir('/');
}

function env(list: string[]): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function run(plan: StagePlan): void {
  const [file, ...args] = plan.process.argv;
  child = spawn(file, args, { cwd: plan.process.cwd, env: env(plan.process.env), stdio: 'inherit' });
  child.on('error', (err: NodeJS.ErrnoException) => {
    emit({ event: 'exec-error', file, code: err.code ?? 'UNKNOWN', message: err.message });
    process.exit(err.code === 'ENOENT' ? 127 : 126);
  });
  child.on('exit', (code, signal) => {
    emit({ event: 'exit', code, signal });
    process.exit(code ?? 128 + (signal ? osConstants.signals[signal] : 0));
  });
  if (child.pid !== undefined) emit({ event: 'started', pid: child.pid });
}

function main(): void {
  setParentDeathSignal(osConstants.signals[PARENT_DEATH_SIGNAL]);
  if (String(process.ppid) !== process.env[PARENT_ENV]) process.exit(ENGINE_ERROR); // host died before prctl
  process.on(PARENT_DEATH_SIGNAL, () => {
    child?.kill('SIGKILL');
    process.exit(ENGINE_ERROR);
  });
  // Until the command runs, a signal ends the run; afterwards it is passed on to the command.
  for (const sig of FORWARDED_SIGNALS) {
    process.on(sig, () => {
      if (child?.pid !== undefined) child.kill(sig);
      else if (sig !== 'SIGWINCH' && sig !== 'SIGUSR1') {
        emit({ event: 'exit', code: null, signal: sig });
        process.exit(128 + osConstants.signals[sig]);
      }
    });
  }
  process.umask(0);
  let plan: StagePlan;
  try {
    plan = readPlan();
    setup(plan);
  } catch (err) {
    fail(err);
  }
  run(plan);
}

main();
