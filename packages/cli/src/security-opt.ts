// --privileged, --cap-add, --cap-drop and --security-opt as RunSpec fields (docs/confinement.md).
import type * as Core from '@builder/core';
import type { RunFlags } from './run-flags.js';

type SecurityFields = Pick<Core.RunSpec, 'privileged' | 'capAdd' | 'capDrop' | 'seccomp' | 'noNewPrivileges'>;

/** The security fields of the run's spec; a --security-opt this engine does not know is a SpecError naming it. */
export function securityOptions(core: typeof Core, flags: RunFlags): SecurityFields {
  const fields: SecurityFields = {};
  if (flags.privileged) fields.privileged = true;
  if (flags['cap-add']?.length) fields.capAdd = flags['cap-add'];
  if (flags['cap-drop']?.length) fields.capDrop = flags['cap-drop'];
  for (const opt of flags['security-opt'] ?? []) {
    // docker also takes KEY:VALUE (its older form).
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(opt);
    const [key, value] = m ? [m[1], m[2]] : [opt, undefined];
    if (key === 'seccomp' && value) fields.seccomp = value;
    else if (key === 'no-new-privileges' && (value === undefined || value === 'true' || value === 'false'))
      fields.noNewPrivileges = value !== 'false';
    else if ((key === 'label' && value === 'disable') || (key === 'apparmor' && value === 'unconfined')) {
      // No SELinux label and no AppArmor profile is applied: turning them off changes nothing (as
      // podman on a machine without SELinux or AppArmor).
    } else throw new core.SpecError(`--security-opt "${opt}": ${unsupported(key)}`);
  }
  return fields;
}

function unsupported(key: string): string {
  switch (key) {
    case 'seccomp':
      return 'give seccomp=unconfined or seccomp=FILE';
    case 'no-new-privileges':
      return 'give no-new-privileges, no-new-privileges=true or no-new-privileges=false';
    case 'label':
      return 'SELinux labels are not supported (only label=disable is accepted)';
    case 'apparmor':
      return 'AppArmor profiles are not supported (only apparmor=unconfined is accepted)';
    default:
      return 'unknown option (known: seccomp=unconfined, seccomp=FILE, no-new-privileges[=true|false], label=disable, apparmor=unconfined)';
  }
}
