import { describe, expect, it } from 'vitest';
import { escapeOverlayPath, overlayData } from '../src/overlay.js';

describe('escapeOverlayPath', () => {
  it('escapes backslash, colon and comma', () => {
    expect(escapeOverlayPath('/a\\b:c,d')).toBe('/a\\\\b\\:c\\,d');
    expect(escapeOverlayPath('a,,b::')).toBe('a\\,\\,b\\:\\:');
  });

  it('leaves other characters alone', () => {
    expect(escapeOverlayPath('/var/lib/x y=z')).toBe('/var/lib/x y=z');
  });
});

describe('overlayData', () => {
  it('joins escaped lowers with ":" without an upper', () => {
    expect(overlayData(['/l/top', '/l/a:b', '/l/bottom'])).toBe('lowerdir=/l/top:/l/a\\:b:/l/bottom');
  });

  it('adds upperdir and workdir, escaped', () => {
    expect(overlayData(['/'], { upperdir: '/run/x/upper,1', workdir: '/run/x/work' })).toBe(
      'lowerdir=/,upperdir=/run/x/upper\\,1,workdir=/run/x/work',
    );
  });
});
