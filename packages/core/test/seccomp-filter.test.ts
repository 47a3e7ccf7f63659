// plan.security from a RunSpec, and the compiled seccomp filter's cache under the runroot: compiled
// once per profile and capability set (the 'seccomp filter compiled' debug event), then read back
// ('from the cache'); a cache file whose key differs is never used. Compiles with the real
// libseccomp; runs no stage.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StagePlan } from '@builder/native/pure';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpecError } from '../src/errors.js';
import type { Logger } from '../src/logging/logger.js';
import { planSecurity } from '../src/plan/security.js';
import { withSeccompFilter } from '../src/run/seccomp-filter.js';

let dir: string;
let events: string[];
const logger: Logger = {
  error: () => {},
  warn: () => {},
  info: () => {},
  debug: (message) => events.push(message),
  child: () => logger,
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'builder-seccomp-cache-'));
  events = [];
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const planFor = (security: StagePlan['security']): StagePlan => ({
  security,
  namespaces: { pid: true, uts: true, ipc: true, net: false },
  runroot: join(dir, 'runroot'),
  rootfs: { type: 'dir', path: '/nonexistent' },
  ops: [],
  process: { argv: ['true'], env: [], cwd: '/' },
});

function profile(names: string[]): string {
  const file = join(dir, 'profile.json');
  writeFileSync(
    file,
    JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action: 'SCMP_ACT_ERRNO' }] }),
  );
  return file;
}

const cacheFiles = () => readdirSync(join(dir, 'runroot', 'seccomp'));

describe('planSecurity', () => {
  it("podman's default set and the default profile; --privileged: all, no filter, whatever the adds and drops", () => {
    expect(planSecurity({ argv: ['x'] })).toEqual({
      capabilities: expect.arrayContaining(['CAP_CHOWN', 'CAP_SYS_CHROOT', 'CAP_SETFCAP']),
      seccomp: { profile: 'default' },
    });
    expect(planSecurity({ argv: ['x'] }).capabilities).toHaveLength(11);
    const privileged = planSecurity({ argv: ['x'], privileged: true, capDrop: ['all'] });
    expect(privileged.capabilities).toHaveLength(41);
    expect(privileged.seccomp).toBeUndefined();
    expect(planSecurity({ argv: ['x'], seccomp: 'unconfined' }).seccomp).toBeUndefined();
    expect(planSecurity({ argv: ['x'], noNewPrivileges: true }).noNewPrivileges).toBe(true);
  });

  it('bad input is a SpecError naming it', () => {
    expect(() => planSecurity({ argv: ['x'], capAdd: ['fly'] })).toThrow(SpecError);
    expect(() => planSecurity({ argv: ['x'], seccomp: join(dir, 'missing.json') })).toThrow(
      `seccomp profile ${join(dir, 'missing.json')}: no such file`,
    );
    writeFileSync(join(dir, 'bad.json'), '{"defaultAction":1}');
    expect(() => planSecurity({ argv: ['x'], seccomp: join(dir, 'bad.json') })).toThrow(SpecError);
  });
});

describe('withSeccompFilter', () => {
  it('compiles on a miss, reads the same bytes back on a hit', async () => {
    const file = profile(['mkdir']);
    const plan = planFor(planSecurity({ argv: ['x'], seccomp: file }));
    const first = await withSeccompFilter(plan, logger);
    expect(events).toEqual(['seccomp filter compiled']);
    const [cached] = cacheFiles();
    const mtime = statSync(join(dir, 'runroot', 'seccomp', cached)).mtimeMs;
    const second = await withSeccompFilter(plan, logger);
    expect(events).toEqual(['seccomp filter compiled', 'seccomp filter from the cache']);
    expect(second.security.seccomp?.bpf).toBe(first.security.seccomp?.bpf);
    expect(Buffer.from(first.security.seccomp?.bpf ?? '', 'base64').length % 8).toBe(0);
    expect(statSync(join(dir, 'runroot', 'seccomp', cached)).mtimeMs).toBe(mtime);
    expect(plan.security.seccomp?.bpf).toBeUndefined(); // the plan given is left as it was
  });

  it('a compile removes the temp files of a compile killed before its rename, and only those', async () => {
    const seccompDir = join(dir, 'runroot', 'seccomp');
    mkdirSync(seccompDir, { recursive: true });
    // A pid that is surely dead: a child that has exited and been reaped.
    const dead = spawnSync('true').pid as number;
    const live = process.ppid;
    writeFileSync(join(seccompDir, `0123456789abcdef.bpf.${dead}.tmp`), 'half');
    writeFileSync(join(seccompDir, `0123456789abcdef.bpf.${live}.tmp`), 'in progress');
    await withSeccompFilter(planFor(planSecurity({ argv: ['x'], seccomp: profile(['mkdir']) })), logger);
    expect(cacheFiles().filter((f) => f.endsWith('.tmp'))).toEqual([`0123456789abcdef.bpf.${live}.tmp`]);
  });

  it('another capability set or an edited profile is another key; a damaged cache file is compiled again', async () => {
    const file = profile(['mkdir']);
    await withSeccompFilter(planFor(planSecurity({ argv: ['x'], seccomp: file })), logger);
    await withSeccompFilter(planFor(planSecurity({ argv: ['x'], seccomp: file, capAdd: ['SYS_ADMIN'] })), logger);
    expect(cacheFiles()).toHaveLength(2);
    profile(['rmdir']);
    const edited = await withSeccompFilter(planFor(planSecurity({ argv: ['x'], seccomp: file })), logger);
    expect(events).toEqual(['seccomp filter compiled', 'seccomp filter compiled', 'seccomp filter compiled']);
    const path = join(dir, 'runroot', 'seccomp', cacheFiles()[0]);
    for (const f of cacheFiles())
      writeFileSync(join(dir, 'runroot', 'seccomp', f), readFileSync(path).subarray(0, 100));
    const again = await withSeccompFilter(planFor(planSecurity({ argv: ['x'], seccomp: file })), logger);
    expect(events.at(-1)).toBe('seccomp filter compiled');
    expect(again.security.seccomp?.bpf).toBe(edited.security.seccomp?.bpf);
  });

  it('the built-in profile; a plan without a filter is left alone', async () => {
    const plan = planFor(planSecurity({ argv: ['x'] }));
    expect((await withSeccompFilter(plan, logger)).security.seccomp?.bpf).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const unconfined = planFor(planSecurity({ argv: ['x'], seccomp: 'unconfined' }));
    expect(await withSeccompFilter(unconfined, logger)).toBe(unconfined);
  });
});
