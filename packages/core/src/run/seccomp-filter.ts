// The run's seccomp filter, compiled once per profile, capability set, architecture and kernel, and
// cached as classic BPF under the runroot (`<runroot>/seccomp/<hash>.bpf`). A run that hits the cache
// reads the profile (a user's was also read and checked by the planner) and one small file:
// libseccomp (through @builder/native, with koffi) is loaded only to compile on a miss.
//
// The built-in profile's filters are also kept in memory, for the next runs of the same process.
//
// A cache file holds its key in full (the format version, the architecture, the kernel release, the
// capabilities and the profile's text) before the BPF, and only a byte-for-byte equal key is a hit.
// The file's name is a short hash of the key without the profile's text, but with the profile's
// path: a profile edited in place gets the same name, does not match, and is compiled again over
// it. Hashing the whole key instead (sha256) would cost ≈ 0.7 ms a run (OpenSSL's first use).
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { release } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type CapabilityName,
  parseSeccompProfile,
  processExists,
  resolveSeccompProfile,
  type StagePlan,
} from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { DEFAULT_SECCOMP_PROFILE } from '../plan/security.js';

/** Part of every cache key: bump it when the compiled output of the same inputs changes. */
const FORMAT_VERSION = 'builder-seccomp-2';

/** The file of a plan's `seccomp.profile`. */
function seccompProfileFile(profile: string): string {
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
  const withBpf = (bpf: string): StagePlan => ({
    ...plan,
    security: { ...plan.security, seccomp: { ...seccomp, bpf } },
  });
  const { capabilities } = plan.security;
  const kernel = release();
  const name = [FORMAT_VERSION, process.arch, kernel, capabilities.join(','), seccomp.profile].join('\0');
  const builtIn = seccomp.profile === DEFAULT_SECCOMP_PROFILE;
  const known = builtIn ? builtInFilters.get(name) : undefined;
  if (known) {
    log.debug('seccomp filter from memory', { profile: seccomp.profile });
    return withBpf(known);
  }
  const file = seccompProfileFile(seccomp.profile);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpecError(`seccomp profile ${seccomp.profile}: ${(err as Error).message}`);
  }
  const key = Buffer.from(`${name}\0${text}`);
  const dir = `${plan.runroot}/seccomp`;
  const cached = `${dir}/${hash64(name)}.bpf`;
  let bpf = readCached(cached, key);
  if (bpf) {
    log.debug('seccomp filter from the cache', { profile: seccomp.profile, file: cached });
  } else {
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
    bpf = await compile(resolved, key, dir, cached);
    log.debug('seccomp filter compiled', { profile: seccomp.profile, file: cached, bytes: bpf.length });
  }
  const encoded = bpf.toString('base64');
  if (builtIn) builtInFilters.set(name, encoded);
  return withBpf(encoded);
}

/**
 * The built-in profile's filters this process has read or compiled, in base64, by cache key (the key
 * without the profile's text, of which the cache file's name is a hash):
 * the profile is a file of the installed package, so a warm engine's next run reads no file at all.
 * (A profile of the user's is read on every run: it may have been edited.)
 */
const builtInFilters = new Map<string, string>();

/** Two FNV-style lanes over the UTF-16 code units, the second mixed with the first: 16 hex digits. */
function hash64(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 7);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** The BPF of a cache file whose key is `key`: [u32 LE key length][key][BPF]. */
function readCached(file: string, key: Buffer): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  if (data.length < 4 || data.readUInt32LE(0) !== key.length) return undefined;
  if (!data.subarray(4, 4 + key.length).equals(key)) return undefined;
  const bpf = data.subarray(4 + key.length);
  return bpf.length > 0 ? bpf : undefined;
}

/** Compile into a temp file of `dir`, renamed to `target` when whole (a reader never sees a part). */
async function compile(
  resolved: ReturnType<typeof resolveSeccompProfile>,
  key: Buffer,
  dir: string,
  target: string,
): Promise<Buffer> {
  const { exportSeccompBpf } = await import('@builder/native');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeDeadTemps(dir);
  const tmp = `${target}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(key.length, 0);
      writeSync(fd, length);
      writeSync(fd, key);
      exportSeccompBpf(resolved, fd);
    } finally {
      closeSync(fd);
    }
    const bpf = readCached(tmp, key);
    if (!bpf) throw new Error('libseccomp wrote no filter');
    renameSync(tmp, target);
    return bpf;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Remove the temp files of compiles whose process died before it renamed them (`kill -9` mid-compile). */
function removeDeadTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = Number(/\.(\d+)\.tmp$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processExists(pid)) rmSync(`${dir}/${name}`, { force: true });
  }
}
