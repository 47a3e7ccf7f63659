// The host side of one run: hands the plan to a stage process, passes signals on, and turns the
// stage's events into a RunResult or an error.
import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { createInterface } from 'node:readline';
import {
  CGROUP_ABORT,
  CGROUP_SKIP,
  EVENT_FD,
  FORWARDED_SIGNALS,
  PLAN_FD,
  type StageEvent,
} from '@builder/native/protocol';
import type { CreatedCgroup, StagePlan } from '@builder/native/pure';
import { inject, injectable } from 'inversify';
import { BuilderError, ExecError, RunError } from '../errors.js';
import { Logger } from '../logging/logger.js';
import type { RunResult } from '../request/run-spec.js';
import { makeCgroup, planCgroup, removeCgroup } from './limits.js';
import { withSeccompFilter } from './seccomp-filter.js';
import { launchStage, refStage, type StageStdio, takePrestartedStage } from './stage-launcher.js';

export interface RunOptions {
  /** stdin, stdout, stderr of the command. Default: inherited from this process. */
  stdio?: StageStdio;
  /**
   * Pass SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGWINCH (FORWARDED_SIGNALS) received by this process
   * on to the command (the CLI does; a library caller usually handles its own signals). The third
   * SIGINT or SIGTERM kills the command.
   */
  forwardSignals?: boolean;
}

const FORCE_AFTER = 3;

/** Drives one stage process through one run and turns its events into a RunResult or an error. */
@injectable()
export class Runner {
  constructor(@inject(Logger) private readonly log: Logger) {}

  async run(planned: StagePlan, options: RunOptions = {}): Promise<RunResult> {
    const plan = await this.seccompFilter(planned);
    // The run's cgroup, when it has limits: made while the stage prepares the run, removed once the
    // stage has exited.
    const made: { cgroup?: CreatedCgroup } = {};
    try {
      return await this.runStage(plan, options, made);
    } finally {
      if (made.cgroup) await removeCgroup(made.cgroup.plan, this.log);
    }
  }

  private async runStage(plan: StagePlan, options: RunOptions, made: { cgroup?: CreatedCgroup }): Promise<RunResult> {
    const stdio = options.stdio ?? 'inherit';
    const stage = (stdio === 'inherit' ? takePrestartedStage() : undefined) ?? launchStage(stdio);
    refStage(stage);
    const planPipe = stage.stdio[PLAN_FD] as NodeJS.WritableStream;
    const eventPipe = stage.stdio[EVENT_FD] as NodeJS.ReadableStream;

    const events: StageEvent[] = [];
    let commandPid: number | undefined;
    const lines = createInterface({ input: eventPipe });
    lines.on('line', (line) => {
      let event: StageEvent;
      try {
        event = JSON.parse(line) as StageEvent;
      } catch {
        this.log.warn('unreadable event from the stage', { line });
        return;
      }
      if (event.event === 'log') this.log[event.level](event.message, { component: 'stage' });
      else events.push(event);
      if (event.event === 'started') commandPid = event.pid;
    });
    const linesDone = new Promise<void>((resolve) => lines.once('close', resolve));

    const stopForwarding = options.forwardSignals ? this.forwardSignals(stage, () => commandPid) : () => {};
    try {
      const exited = waitExit(stage);
      planPipe.on('error', () => {}); // a stage that died early is reported from its exit
      // The plan is one line; with limits, the stage waits for the word on the cgroup (protocol.ts).
      planPipe.write(`${JSON.stringify(plan)}\n`);
      this.log.debug('plan sent to stage', { pid: stage.pid, ops: plan.ops.length });
      // A rootfs directory may get stubs to remove afterwards, which takes the native module (koffi,
      // ≈ 20 ms to load): load it while the stage works, not after the command.
      const native = plan.rootfs.type === 'dir' ? import('@builder/native') : undefined;
      native?.catch(() => {}); // reported by removeStubs, if it is needed
      let failure: unknown;
      if (plan.limits) {
        try {
          const cgroup = planCgroup(plan.limits, this.log);
          // Removed after the run only when made (a skipped one was cleaned up by makeCgroup).
          if (cgroup && makeCgroup(cgroup, this.log) === 'ready') made.cgroup = cgroup;
          planPipe.end(made.cgroup ? JSON.stringify(made.cgroup.plan) : CGROUP_SKIP);
        } catch (err) {
          failure = err;
          planPipe.end(CGROUP_ABORT);
        }
      } else planPipe.end();
      const [code, signal] = await exited;
      await linesDone;
      if (native) await this.removeStubs(plan, events, native);
      if (failure) throw failure;
      return this.result(events, code, signal, commandPid);
    } finally {
      stopForwarding();
    }
  }

  /** The plan with its compiled seccomp filter (seccomp-filter.ts); a failure to compile is a RunError. */
  private async seccompFilter(plan: StagePlan): Promise<StagePlan> {
    try {
      return await withSeccompFilter(plan, this.log);
    } catch (err) {
      if (err instanceof BuilderError) throw err;
      throw new RunError(`cannot compile the seccomp filter: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Remove what the mounts created inside a rootfs directory (an overlay rootfs's upper layer is
   * thrown away anyway), so that the rootfs is left as the command left it.
   */
  private async removeStubs(
    plan: StagePlan,
    events: StageEvent[],
    native: Promise<typeof import('@builder/native')>,
  ): Promise<void> {
    const found = events.find((e) => e.event === 'stubs');
    if (found?.event !== 'stubs' || plan.rootfs.type !== 'dir') return;
    const { removeStubs } = await native;
    try {
      const { removed, kept } = removeStubs(plan.rootfs.path, found.stubs, found.parents);
      this.log.debug('removed mount stubs', { removed, kept });
    } catch (err) {
      this.log.warn(
        `could not remove the mountpoints builder created in ${plan.rootfs.path}: ${(err as Error).message}`,
      );
    }
  }

  private result(
    events: StageEvent[],
    stageCode: number | null,
    stageSignal: NodeJS.Signals | null,
    commandPid: number | undefined,
  ): RunResult {
    for (const event of events) {
      switch (event.event) {
        case 'exit': {
          const signal = (event.signal as NodeJS.Signals | null) ?? null;
          return { exitCode: event.code ?? 128 + (signal ? osConstants.signals[signal] : 0), signal };
        }
        case 'exec-error':
          throw execError(event.file, event.code, event.message);
        case 'error':
          throw new RunError(event.message);
      }
    }
    // The stage died without saying how the command ended (killed, or crashed).
    if (commandPid !== undefined) killQuietly(commandPid, 'SIGKILL');
    const how = stageSignal ? `was killed by ${stageSignal}` : `exited with status ${stageCode}`;
    throw new RunError(`the stage process ${how} before the command finished`);
  }

  private forwardSignals(stage: ChildProcess, commandPid: () => number | undefined): () => void {
    let count = 0;
    const handlers = FORWARDED_SIGNALS.map((sig) => {
      const handler = () => {
        if ((sig === 'SIGINT' || sig === 'SIGTERM') && ++count >= FORCE_AFTER) {
          const pid = commandPid();
          if (pid !== undefined) killQuietly(pid, 'SIGKILL');
          return;
        }
        killQuietly(stage.pid, sig);
      };
      process.on(sig, handler);
      return () => process.off(sig, handler);
    });
    return () => {
      for (const off of handlers) off();
    };
  }
}

function waitExit(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve([child.exitCode, child.signalCode]);
      return;
    }
    child.once('error', (err) =>
      reject(new RunError(`cannot start the stage process: ${err.message}`, { cause: err })),
    );
    child.once('exit', (code, signal) => resolve([code, signal]));
  });
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function execError(file: string, code: string, message: string): ExecError {
  const name = `"${file}"`;
  switch (code) {
    case 'ENOENT':
      return new ExecError(
        file.includes('/') ? `${name}: no such file or directory` : `${name}: executable file not found in $PATH`,
        { exitCode: 127 },
      );
    case 'EACCES':
      return new ExecError(`${name}: permission denied (not an executable file)`, { exitCode: 126 });
    default:
      return new ExecError(`${name}: cannot execute: ${message}`, { exitCode: 126 });
  }
}
