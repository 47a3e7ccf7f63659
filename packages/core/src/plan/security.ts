// plan.security from a RunSpec: the capabilities the command keeps, the seccomp profile it runs
// under, no_new_privs (docs/confinement.md). The profile is compiled later, by the runner
// (run/seccomp-filter.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CAPABILITIES,
  DEFAULT_CAPABILITIES,
  mergeCapabilities,
  parseSeccompProfile,
  type SecurityPlan,
} from '@builder/native/pure';
import { SpecError } from '../errors.js';
import type { RunSpec } from '../request/run-spec.js';

/** plan.security.seccomp.profile of the built-in profile (@builder/native's seccomp/default.json). */
export const DEFAULT_SECCOMP_PROFILE = 'default';

export function planSecurity(spec: RunSpec): SecurityPlan {
  const privileged = spec.privileged === true;
  let capabilities: string[];
  try {
    capabilities = mergeCapabilities(DEFAULT_CAPABILITIES, spec.capAdd, spec.capDrop);
  } catch (err) {
    throw new SpecError((err as Error).message);
  }
  // As podman and docker: --privileged is every capability, whatever --cap-add and --cap-drop say.
  if (privileged) capabilities = [...CAPABILITIES];
  const seccomp = privileged ? undefined : seccompProfile(spec.seccomp);
  return {
    ...(privileged ? { privileged: true } : {}),
    capabilities,
    ...(seccomp === undefined ? {} : { seccomp: { profile: seccomp } }),
    ...(spec.noNewPrivileges ? { noNewPrivileges: true } : {}),
  };
}

/** The profile to use: 'default', an absolute file path (checked now), or undefined for none. */
function seccompProfile(seccomp: string | undefined): string | undefined {
  if (seccomp === undefined) return DEFAULT_SECCOMP_PROFILE;
  if (seccomp === 'unconfined') return undefined;
  if (seccomp === '') throw new SpecError('seccomp: give "unconfined" or a profile file');
  const path = resolve(seccomp);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SpecError(`seccomp profile ${seccomp}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    parseSeccompProfile(text, seccomp);
  } catch (err) {
    throw new SpecError((err as Error).message);
  }
  return path;
}
