// The three ways users write mounts: --mount, -v and mounts files, parsed or refused with one line.
import { MOUNT_WORDS } from '@builder/native/pure';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../src/errors.js';
import { parseMountFlag, parseMountsFile, parseVolumeFlag } from '../src/request/parse-mount.js';

/** The SpecError a call throws: exactly one line, exit status 125. */
function error(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).exitCode).toBe(125);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('expected a SpecError');
}

describe('parseMountFlag', () => {
  const ok: [string, unknown][] = [
    [
      'type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1777',
      { type: 'tmpfs', destination: '/t', options: ['tmpfs-size=64m', 'tmpfs-mode=1777'] },
    ],
    ['type=tmpfs,destination=/t', { type: 'tmpfs', destination: '/t' }],
    ['type=tmpfs,target=/t', { type: 'tmpfs', destination: '/t' }],
    ['dst=/t,type=tmpfs', { type: 'tmpfs', destination: '/t' }],
    ['type=bind,source=/a,destination=/b', { type: 'bind', source: '/a', destination: '/b' }],
    ['type=bind,src=/a,dst=/b,ro', { type: 'bind', source: '/a', destination: '/b', options: ['ro'] }],
    ['type=bind,src=/a,dst=/b,readonly', { type: 'bind', source: '/a', destination: '/b', options: ['ro'] }],
    ['type=bind,src=/a,dst=/b,readonly=true', { type: 'bind', source: '/a', destination: '/b', options: ['ro'] }],
    ['type=bind,src=/a,dst=/b,ro=1', { type: 'bind', source: '/a', destination: '/b', options: ['ro'] }],
    ['type=bind,src=/a,dst=/b,readonly=false', { type: 'bind', source: '/a', destination: '/b', options: ['rw'] }],
    ['type=bind,src=/a,dst=/b,ro=0', { type: 'bind', source: '/a', destination: '/b', options: ['rw'] }],
    // The read-only word keeps its place among the other options.
    [
      'type=bind,src=/a,nosuid,dst=/b,ro,bind-propagation=rslave',
      { type: 'bind', source: '/a', destination: '/b', options: ['nosuid', 'ro', 'bind-propagation=rslave'] },
    ],
    // Option words pass through unchanged: the kind checks and canonicalizes them.
    [
      'type=tmpfs,dst=/t,size=1m,mode=0700,rw',
      { type: 'tmpfs', destination: '/t', options: ['size=1m', 'mode=0700', 'rw'] },
    ],
    ['type=tmpfs,dst=/t,bogus', { type: 'tmpfs', destination: '/t', options: ['bogus'] }],
    ['type=tmpfs,dst=/t,a=b=c', { type: 'tmpfs', destination: '/t', options: ['a=b=c'] }],
    // The source may be relative: the kind decides what it means.
    ['type=bind,src=rel,dst=/b', { type: 'bind', source: 'rel', destination: '/b' }],
    ['type=proc,src=proc,dst=/proc', { type: 'proc', source: 'proc', destination: '/proc' }],
    // CSV quoting: a quoted field may hold commas and (doubled) quotes.
    ['type=tmpfs,"target=/a,b"', { type: 'tmpfs', destination: '/a,b' }],
    ['"type=tmpfs","dst=/t"', { type: 'tmpfs', destination: '/t' }],
    ['type=tmpfs,"dst=/say ""hi"""', { type: 'tmpfs', destination: '/say "hi"' }],
    [
      'type=bind,"src=/x,y",dst=/b,"opt=p,q"',
      { type: 'bind', source: '/x,y', destination: '/b', options: ['opt=p,q'] },
    ],
    // Keys that are not misspellings of given keys: `dev` is a flag word, `copy` is near `type` but type is there.
    ['type=bind,src=/a,dst=/b,dev,copy', { type: 'bind', source: '/a', destination: '/b', options: ['dev', 'copy'] }],
    ['type=tmpfs,dst=/t,rw', { type: 'tmpfs', destination: '/t', options: ['rw'] }],
    // A word near a key that is already given is an option of the kind, not a misspelling.
    ['type=tmpfs,dst=/t,dts=/x', { type: 'tmpfs', destination: '/t', options: ['dts=/x'] }],
    ['type=tmpfs,dst=/t,Z,U', { type: 'tmpfs', destination: '/t', options: ['Z', 'U'] }],
    [
      'type=bind,src=/a,dst=/b,rbind,rprivate',
      { type: 'bind', source: '/a', destination: '/b', options: ['rbind', 'rprivate'] },
    ],
    ['type=tmpfs,dst=/', { type: 'tmpfs', destination: '/' }],
  ];
  for (const [text, spec] of ok) it(`parses ${text}`, () => expect(parseMountFlag(text)).toEqual(spec));

  const bad: [string, string][] = [
    ['', 'mount "": type is required (type=bind, tmpfs, …)'],
    ['dst=/t', 'mount "dst=/t": type is required (type=bind, tmpfs, …)'],
    ['type=tmpfs', 'mount "type=tmpfs": destination is required (destination=/path/in/container)'],
    ['type=tmpfs,src=/a', 'mount "type=tmpfs,src=/a": destination is required (destination=/path/in/container)'],
    ['type=tmpfs,dst=t', 'mount "type=tmpfs,dst=t": destination "t" must be an absolute path'],
    ['type=tmpfs,dst=./t', 'mount "type=tmpfs,dst=./t": destination "./t" must be an absolute path'],
    ['type=tmpfs,dst=/a,dst=/b', 'mount "type=tmpfs,dst=/a,dst=/b": destination given twice ("dst=/a" and "dst=/b")'],
    [
      'type=tmpfs,dst=/a,target=/b',
      'mount "type=tmpfs,dst=/a,target=/b": destination given twice ("dst=/a" and "target=/b")',
    ],
    [
      'type=tmpfs,destination=/a,dst=/a',
      'mount "type=tmpfs,destination=/a,dst=/a": destination given twice ("destination=/a" and "dst=/a")',
    ],
    [
      'type=tmpfs,type=bind,dst=/a',
      'mount "type=tmpfs,type=bind,dst=/a": type given twice ("type=tmpfs" and "type=bind")',
    ],
    [
      'type=bind,src=/a,source=/b,dst=/c',
      'mount "type=bind,src=/a,source=/b,dst=/c": source given twice ("src=/a" and "source=/b")',
    ],
    [
      'type=tmpfs,dst=/t,ro,readonly',
      'mount "type=tmpfs,dst=/t,ro,readonly": readonly given twice ("ro" and "readonly")',
    ],
    [
      'type=tmpfs,dst=/t,ro=1,readonly=false',
      'mount "type=tmpfs,dst=/t,ro=1,readonly=false": readonly given twice ("ro=1" and "readonly=false")',
    ],
    ['type=tmpfs,dst=/t,ro=yes', 'mount "type=tmpfs,dst=/t,ro=yes": "ro" takes true or false, not "yes"'],
    ['type=tmpfs,dst=/t,readonly=', 'mount "type=tmpfs,dst=/t,readonly=": "readonly" takes true or false, not ""'],
    ['type,dst=/t', 'mount "type,dst=/t": "type" needs a value (type=…)'],
    ['type=,dst=/t', 'mount "type=,dst=/t": "type" needs a value (type=…)'],
    ['type=tmpfs,dst=', 'mount "type=tmpfs,dst=": "dst" needs a value (dst=…)'],
    ['type=bind,src=,dst=/b', 'mount "type=bind,src=,dst=/b": "src" needs a value (src=…)'],
    ['type=tmpfs,,dst=/t', 'mount "type=tmpfs,,dst=/t": empty field (two commas, or one at the end?)'],
    ['type=tmpfs,dst=/t,', 'mount "type=tmpfs,dst=/t,": empty field (two commas, or one at the end?)'],
    ['type=tmpfs,dst=/t,=x', 'mount "type=tmpfs,dst=/t,=x": field "=x" has no key'],
    // Misspelt keys (edit distance ≤ 2 from a key that is not given) are not passed through.
    [
      'type=tmpfs,destinaton=/x',
      'mount "type=tmpfs,destinaton=/x": unknown key "destinaton" (did you mean "destination"?)',
    ],
    ['type=tmpfs,dts=/x', 'mount "type=tmpfs,dts=/x": unknown key "dts" (did you mean "dst"?)'],
    ['type=tmpfs,trget=/x', 'mount "type=tmpfs,trget=/x": unknown key "trget" (did you mean "target"?)'],
    ['typ=tmpfs,dst=/x', 'mount "typ=tmpfs,dst=/x": unknown key "typ" (did you mean "type"?)'],
    ['Type=tmpfs,dst=/x', 'mount "Type=tmpfs,dst=/x": unknown key "Type" (did you mean "type"?)'],
    ['type=bind,sorce=/a,dst=/x', 'mount "type=bind,sorce=/a,dst=/x": unknown key "sorce" (did you mean "source"?)'],
    [
      'type=bind,src=/a,dst=/x,read-only',
      'mount "type=bind,src=/a,dst=/x,read-only": unknown key "read-only" (did you mean "readonly"?)',
    ],
    // CSV errors.
    ['type=tmpfs,"dst=/t', 'mount "type=tmpfs,\\"dst=/t": unterminated quote in "\\"dst=/t"'],
    ['type=tmpfs,"dst=/t"x', 'mount "type=tmpfs,\\"dst=/t\\"x": text after the closing quote of "\\"dst=/t\\""'],
    [
      'type=tmpfs,dst="/t"',
      'mount "type=tmpfs,dst=\\"/t\\"": a quote inside the field "dst=\\"/t\\"" (quote the whole field: "key=value")',
    ],
  ];
  for (const [text, message] of bad)
    it(`refuses ${JSON.stringify(text)}`, () => expect(error(() => parseMountFlag(text))).toBe(message));

  it('keeps a message with a newline in the input on one line', () => {
    expect(error(() => parseMountFlag('type=tmpfs,dst=a\nb'))).toBe(
      'mount "type=tmpfs,dst=a\\nb": destination "a\\nb" must be an absolute path',
    );
  });
});

describe('parseVolumeFlag', () => {
  const ok: [string, unknown][] = [
    ['/src:/dst', { type: 'bind', source: '/src', destination: '/dst' }],
    ['/src:/src:ro', { type: 'bind', source: '/src', destination: '/src', options: ['ro'] }],
    ['/a:/b:rw,rbind,rslave', { type: 'bind', source: '/a', destination: '/b', options: ['rw', 'rbind', 'rslave'] }],
    [
      '/a:/b:nobind,noexec,nodev,nosuid',
      { type: 'bind', source: '/a', destination: '/b', options: ['nobind', 'noexec', 'nodev', 'nosuid'] },
    ],
    [
      '/a:/b:exec,dev,suid,bind,private',
      { type: 'bind', source: '/a', destination: '/b', options: ['exec', 'dev', 'suid', 'bind', 'private'] },
    ],
    ['/a:/b:z', { type: 'bind', source: '/a', destination: '/b', options: ['z'] }],
    ['/a:/b:Z,ro', { type: 'bind', source: '/a', destination: '/b', options: ['Z', 'ro'] }],
    ['/a:/b:U', { type: 'bind', source: '/a', destination: '/b', options: ['U'] }],
    ['/a:/b:runbindable', { type: 'bind', source: '/a', destination: '/b', options: ['runbindable'] }],
    // Escapes.
    ['/a\\:b:/c\\:d', { type: 'bind', source: '/a:b', destination: '/c:d' }],
    ['/a\\\\:/b', { type: 'bind', source: '/a\\', destination: '/b' }],
    ['/a\\b:/c', { type: 'bind', source: '/a\\b', destination: '/c' }],
    ['/a\\::/b\\\\\\::ro', { type: 'bind', source: '/a:', destination: '/b\\:', options: ['ro'] }],
    // Overlays.
    ['/src:/dst:O', { type: 'overlay', source: '/src', destination: '/dst', options: ['tmpfs-upper'] }],
    ['/src:/dst:O,ro', { type: 'overlay', source: '/src', destination: '/dst', options: ['tmpfs-upper', 'ro'] }],
    ['/src:/dst:ro,O', { type: 'overlay', source: '/src', destination: '/dst', options: ['tmpfs-upper', 'ro'] }],
    [
      '/src:/dst:O,upperdir=/u,workdir=/w',
      { type: 'overlay', source: '/src', destination: '/dst', options: ['upperdir=/u', 'workdir=/w'] },
    ],
    [
      '/src:/dst:workdir=/w,O,upperdir=/u',
      { type: 'overlay', source: '/src', destination: '/dst', options: ['upperdir=/u', 'workdir=/w'] },
    ],
    ['/src:/dst:O,U', { type: 'overlay', source: '/src', destination: '/dst', options: ['tmpfs-upper', 'U'] }],
    [
      '/src:/dst:O,upperdir=/u\\:x,workdir=/w',
      { type: 'overlay', source: '/src', destination: '/dst', options: ['upperdir=/u:x', 'workdir=/w'] },
    ],
  ];
  for (const [text, spec] of ok) it(`parses ${text}`, () => expect(parseVolumeFlag(text)).toEqual(spec));

  const bad: [string, string][] = [
    ['/a', 'volume "/a": expected SRC:DST[:OPTIONS]'],
    ['', 'volume "": expected SRC:DST[:OPTIONS]'],
    ['/a:/b:ro:x', 'volume "/a:/b:ro:x": too many ":" (write a colon inside a path as \\:)'],
    ['data:/x', 'volume "data:/x": source "data" must be an absolute path (named volumes are not supported)'],
    ['./a:/x', 'volume "./a:/x": source "./a" must be an absolute path (named volumes are not supported)'],
    [':/x', 'volume ":/x": the source is empty'],
    ['/a:', 'volume "/a:": the destination is empty'],
    ['/a:b', 'volume "/a:b": destination "b" must be an absolute path'],
    ['/a:/b:', 'volume "/a:/b:": empty option (two commas, or one at an end?)'],
    ['/a:/b:ro,,nodev', 'volume "/a:/b:ro,,nodev": empty option (two commas, or one at an end?)'],
    ['/a:/b:rbnd', 'volume "/a:/b:rbnd": unknown option "rbnd" (did you mean "rbind"?)'],
    ['/a:/b:size=1m', 'volume "/a:/b:size=1m": unknown option "size"'],
    ['/a:/b:uperdir=/u', 'volume "/a:/b:uperdir=/u": unknown option "uperdir" (did you mean "upperdir"?)'],
    ['/a:/b:ro=1', 'volume "/a:/b:ro=1": option "ro" takes no value'],
    ['/a:/b:ro,rw', 'volume "/a:/b:ro,rw": options "ro" and "rw" cannot be combined'],
    ['/a:/b:ro,ro', 'volume "/a:/b:ro,ro": option "ro" given twice'],
    ['/a:/b:z,Z', 'volume "/a:/b:z,Z": options "z" and "Z" cannot be combined'],
    ['/a:/b:Z,O', 'volume "/a:/b:Z,O": options "Z" and "O" cannot be combined'],
    ['/a:/b:shared,rslave', 'volume "/a:/b:shared,rslave": options "shared" and "rslave" cannot be combined'],
    ['/a:/b:bind,rbind', 'volume "/a:/b:bind,rbind": options "bind" and "rbind" cannot be combined'],
    ['/a:/b:noexec,exec', 'volume "/a:/b:noexec,exec": options "noexec" and "exec" cannot be combined'],
    ['/a:/b:dev,nodev', 'volume "/a:/b:dev,nodev": options "dev" and "nodev" cannot be combined'],
    ['/a:/b:suid,nosuid', 'volume "/a:/b:suid,nosuid": options "suid" and "nosuid" cannot be combined'],
    ['/a:/b:O,upperdir=/u', 'volume "/a:/b:O,upperdir=/u": upperdir and workdir must be given together'],
    ['/a:/b:O,workdir=/w', 'volume "/a:/b:O,workdir=/w": upperdir and workdir must be given together'],
    [
      '/a:/b:upperdir=/u,workdir=/w',
      'volume "/a:/b:upperdir=/u,workdir=/w": upperdir and workdir need the overlay option O',
    ],
    ['/a:/b:O,upperdir=u,workdir=/w', 'volume "/a:/b:O,upperdir=u,workdir=/w": upperdir "u" must be an absolute path'],
    [
      '/a:/b:O,upperdir,workdir=/w',
      'volume "/a:/b:O,upperdir,workdir=/w": option "upperdir" needs a value (upperdir=DIR)',
    ],
    [
      '/a:/b:O,upperdir=/u,upperdir=/v,workdir=/w',
      'volume "/a:/b:O,upperdir=/u,upperdir=/v,workdir=/w": option "upperdir" given twice',
    ],
  ];
  for (const [text, message] of bad)
    it(`refuses ${JSON.stringify(text)}`, () => expect(error(() => parseVolumeFlag(text))).toBe(message));

  it('takes every word of the mount word table that has a -v class, and no other', () => {
    for (const [word, row] of Object.entries(MOUNT_WORDS)) {
      if (row.volume === undefined)
        expect(
          error(() => parseVolumeFlag(`/a:/b:${word}`)),
          word,
        ).toMatch(/unknown option/);
      else expect(parseVolumeFlag(`/a:/b:${word}`).type, word).toBe(word === 'O' ? 'overlay' : 'bind');
    }
  });
});

describe('parseMountsFile', () => {
  const parse = (value: unknown) => parseMountsFile(JSON.stringify(value), 'm.json');

  it('parses OCI mounts entries', () => {
    expect(
      parse([
        { destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1777'] },
        { destination: '/a', type: 'bind', source: '/srv/a', options: ['rbind', 'ro'] },
        { destination: '/p', type: 'proc' },
        { destination: '/e', type: 'tmpfs', options: [] },
      ]),
    ).toEqual([
      { type: 'tmpfs', source: 'tmpfs', destination: '/t', options: ['size=1m', 'mode=1777'] },
      { type: 'bind', source: '/srv/a', destination: '/a', options: ['rbind', 'ro'] },
      { type: 'proc', destination: '/p' },
      { type: 'tmpfs', destination: '/e' },
    ]);
  });

  it('makes an entry without a type but with bind or rbind a bind mount', () => {
    expect(
      parse([
        { destination: '/a', source: '/x', options: ['bind'] },
        { destination: '/b', source: '/y', options: ['ro', 'rbind'] },
      ]),
    ).toEqual([
      { type: 'bind', source: '/x', destination: '/a', options: ['bind'] },
      { type: 'bind', source: '/y', destination: '/b', options: ['ro', 'rbind'] },
    ]);
  });

  it('accepts an empty array', () => {
    expect(parse([])).toEqual([]);
    expect(parseMountsFile(' [ ]\n', 'm.json')).toEqual([]);
  });

  const bad: [string, string][] = [
    ['[', 'mounts file "m.json": not valid JSON ('],
    ['', 'mounts file "m.json": not valid JSON ('],
    ['{"mounts": []}', 'mounts file "m.json": expected a JSON array of mounts ([{"destination": …, "type": …}, …])'],
    ['[1]', 'mounts file "m.json": mounts[0]: expected an object ({"destination": …, "type": …})'],
    [
      '[{"type":"tmpfs","destination":"/t"}, null]',
      'mounts file "m.json": mounts[1]: expected an object ({"destination": …, "type": …})',
    ],
    ['[{"type":"tmpfs"}]', 'mounts file "m.json": mounts[0]: "destination" is required'],
    [
      '[{"type":"tmpfs","destination":"t"}]',
      'mounts file "m.json": mounts[0]: destination "t" must be an absolute path',
    ],
    [
      '[{"type":"tmpfs","destination":""}]',
      'mounts file "m.json": mounts[0]: "destination" must be a non-empty string',
    ],
    ['[{"type":"tmpfs","destination":7}]', 'mounts file "m.json": mounts[0]: "destination" must be a non-empty string'],
    ['[{"type":1,"destination":"/t"}]', 'mounts file "m.json": mounts[0]: "type" must be a non-empty string'],
    [
      '[{"type":"bind","source":["/a"],"destination":"/t"}]',
      'mounts file "m.json": mounts[0]: "source" must be a non-empty string',
    ],
    [
      '[{"type":"tmpfs","destination":"/t","options":"ro"}]',
      'mounts file "m.json": mounts[0]: "options" must be an array of strings',
    ],
    [
      '[{"type":"tmpfs","destination":"/t","options":[1]}]',
      'mounts file "m.json": mounts[0]: "options" must be an array of strings',
    ],
    [
      '[{"destination":"/t","source":"/a"}]',
      'mounts file "m.json": mounts[0]: "type" is required (a mount without one must have a "bind" or "rbind" option)',
    ],
    [
      '[{"destination":"/t","options":["ro"]}]',
      'mounts file "m.json": mounts[0]: "type" is required (a mount without one must have a "bind" or "rbind" option)',
    ],
    [
      '[{"type":"tmpfs","destination":"/t"},{"type":"bind","source":"/a","destination":"/b","uidMappings":[]}]',
      'mounts file "m.json": mounts[1]: unknown key "uidMappings" (not supported)',
    ],
    [
      '[{"type":"bind","destination":"/b","gidMappings":[]}]',
      'mounts file "m.json": mounts[0]: unknown key "gidMappings" (not supported)',
    ],
    [
      '[{"type":"tmpfs","destinaton":"/t"}]',
      'mounts file "m.json": mounts[0]: unknown key "destinaton" (did you mean "destination"?)',
    ],
    [
      '[{"type":"tmpfs","destination":"/t","option":["ro"]}]',
      'mounts file "m.json": mounts[0]: unknown key "option" (did you mean "options"?)',
    ],
  ];
  for (const [text, message] of bad)
    it(`refuses ${text || 'an empty file'}`, () => {
      const got = error(() => parseMountsFile(text, 'm.json'));
      if (message.endsWith('(')) expect(got.startsWith(message) && got.endsWith(')')).toBe(true);
      else expect(got).toBe(message);
    });

  it('names the file it was given', () => {
    expect(error(() => parseMountsFile('nope', '/etc/x/mounts.json'))).toMatch(
      /^mounts file "\/etc\/x\/mounts.json": not valid JSON \(/,
    );
  });
});
