// The run's seccomp filter, compiled once per profile, capability set, architecture and kernel, and
// cached as classic BPF under the runroot (`<runroot>/seccomp/<sha256>.bpf`). A run that hits the
// cache reads one small file: libseccomp (through @builder/native, with koffi) is loaded only to
// compile on a miss.

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type CapabilityName, parseSeccompProfile, resolveSeccompProfile, type StagePlan } from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { DEFAULT_SECCOMP_PROFILE } from '../plan/security.js';

/** Part of every cache key: bump it when the compiled output of the same inputs changes. */
const FORMAT_VERSION = 'builder-seccomp-1';

/** The file of a plan's `seccomp.profile`. */
export function seccompProfileFile(profile: string): string {
  return profile === DEFAULT_SECCOMP_PROFILE
    ? fileURLToPath(import.meta.resolve('@builder/native/seccomp/default.json'))
    : profile;
}

/**
 * The plan with its seccomp filter filled in (plan.security.seccomp.bpf, base64), from the cache or
 * compiled now. A plan without a filter is returned as it is.
 */
export async function withSeccompFilter(plan: StagePlan, log: Logger): Promise<StagePlan> {
  const seccomp = plan.security.seccomp;
  if (seccomp === undefined || seccomp.bpf !== undefined) return plan;
  const file = seccompProfileFile(seccomp.profile);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpecError(`seccomp profile ${seccomp.profile}: ${(err as Error).message}`);
  }
  const { capabilities } = plan.security;
  const kernel = release();
  const key = createHash('sha256')
    .update([FORMAT_VERSION, process.arch, kernel, capabilities.join(','), text].join('\0'))
    .digest('hex');
  const dir = `${plan.runroot}/seccomp`;
  const cached = `${dir}/${key}.bpf`;
  let bpf: Buffer;
  try {
    bpf = readFileSync(cached);
    log.debug('seccomp filter from the cache', { profile: seccomp.profile, file: cached });
  } catch {
    let profile: ReturnType<typeof parseSeccompProfile>;
    try {
      profile = parseSeccompProfile(text, seccomp.profile);
    } catch (err) {
      throw new SpecError((err as Error).message);
    }
    const resolved = resolveSeccompProfile(profile, {
      capabilities: capabilities as CapabilityName[],
      arch: process.arch,
      kernel,
    });
    bpf = await compile(resolved, dir, cached);
    log.debug('seccomp filter compiled', { profile: seccomp.profile, file: cached, bytes: bpf.length });
  }
  return { ...plan, security: { ...plan.security, seccomp: { ...seccomp, bpf: bpf.toString('base64') } } };
}

/** Compile into a temp file of `dir`, renamed to `target` when whole (a reader never sees a part). */
async function compile(
  resolved: ReturnType<typeof resolveSeccompProfile>,
  dir: string,
  target: string,
): Promise<Buffer> {
  const { exportSeccompBpf } = await import('@builder/native');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${target}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      exportSeccompBpf(resolved, fd);
    } finally {
      closeSync(fd);
    }
    const bpf = readFileSync(tmp);
    renameSync(tmp, target);
    return bpf;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
