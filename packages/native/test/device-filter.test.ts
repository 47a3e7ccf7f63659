// The device rules on cgroup v2: the eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to a run
// cgroup made by the driver in this machine's empty cgroup v2 hierarchy (/sys/fs/cgroup/unified: a
// cgroup2 mount, so the kernel runs the program for its processes), with real processes in it opening
// real device nodes. The same script in a cgroup without the program shows the host lets them open.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachDeviceFilter } from '@builder/native';
import {
  DEFAULT_DEVICE_RULES,
  detectCgroups,
  makeRunCgroup,
  planRunCgroup,
  removeRunCgroup,
  runCgroupName,
} from '@builder/native/pure';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tool } from '../../../test/helpers/tools.js';

const UNIFIED = '/sys/fs/cgroup/unified';
let dir: string;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the device filter test needs root');
  if (tool('stat', ['-f', '-c', '%T', UNIFIED]).trim() !== 'cgroup2fs')
    throw new Error(`${UNIFIED} is not a cgroup2 mount: this test needs one`);
  dir = mkdtempSync(join(tmpdir(), 'builder-device-filter-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * In a new process moved into `cgroup`: try to open each device node for reading (and /dev/null for
 * writing), make a node with mknod and open it. One line each: `PATH open` or `PATH denied`.
 */
function tryDevices(cgroup: string): string[] {
  const node = join(dir, `kmsg-${Math.random().toString(16).slice(2)}`);
  const script = [
    `echo $$ > ${cgroup}/cgroup.procs`,
    'for d in /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/kmsg /dev/loop0; do',
    '  if (exec 3<$d) 2>/dev/null; then echo "$d open"; else echo "$d denied"; fi',
    'done',
    'if (echo x > /dev/null) 2>/dev/null; then echo "write /dev/null open"; else echo "write /dev/null denied"; fi',
    // kmsg's numbers: mknod is allowed for every node (c *:* m), opening it is not.
    `if mknod ${node} c 1 11 2>/dev/null; then echo "mknod open"; else echo "mknod denied"; fi`,
    `if (exec 3<${node}) 2>/dev/null; then echo "node open"; else echo "node denied"; fi`,
    `rm -f ${node}`,
  ].join('\n');
  return execFileSync('sh', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
}

describe('device rules on cgroup v2 (eBPF)', () => {
  it("a process in the run's cgroup opens only the allowed devices; mknod works, the node it made does not open", () => {
    const created = planRunCgroup(
      { devices: [...DEFAULT_DEVICE_RULES] },
      runCgroupName('d0'),
      detectCgroups(UNIFIED),
      ['devices'],
      UNIFIED,
    );
    makeRunCgroup(created);
    const cgroup = created.plan.hierarchies[0].dir;
    // What the stage does when it opens the run's cgroup.
    attachDeviceFilter(cgroup, DEFAULT_DEVICE_RULES);
    try {
      expect(tryDevices(cgroup)).toEqual([
        '/dev/null open',
        '/dev/zero open',
        '/dev/full open',
        '/dev/random open',
        '/dev/urandom open',
        '/dev/kmsg denied',
        '/dev/loop0 denied',
        'write /dev/null open',
        'mknod open',
        'node denied',
      ]);
    } finally {
      expect(removeRunCgroup(created.plan)).toEqual([]);
    }
    expect(existsSync(cgroup)).toBe(false);
  });

  it('without the program the same processes open every one of them (the host allows it)', () => {
    const created = planRunCgroup({}, runCgroupName('d1'), detectCgroups(UNIFIED), [], UNIFIED);
    makeRunCgroup(created);
    try {
      expect(tryDevices(created.plan.hierarchies[0].dir).every((l) => l.endsWith(' open'))).toBe(true);
    } finally {
      expect(removeRunCgroup(created.plan)).toEqual([]);
    }
  });
});
