/**
 * `npm ci` refuses a lock file once a dependency declared by a dist-tag (`latest`, `next`) gets
 * a new release, so one such declaration anywhere in the tree breaks every fresh install. Each
 * one must be pinned to an exact version by the root `overrides`, which `npm ci` checks the lock
 * against instead of the tag.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/app.js';

interface LockPackage {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
interface Lock {
  packages: Record<string, LockPackage>;
}

const DECLARATIONS = ['dependencies', 'optionalDependencies', 'peerDependencies'] as const;

/** A bare word that is not a range (`x` and `*` match any version) nor a protocol is a dist-tag. */
export function isDistTag(spec: string): boolean {
  return /^[a-z][\w.-]*$/i.test(spec) && !/^[xX]$/.test(spec);
}

/** Every dist-tag declaration in the lock that the root overrides do not pin exactly. */
export function unpinnedTags(lock: Lock, overrides: Record<string, unknown>): string[] {
  const bad: string[] = [];
  for (const [path, pkg] of Object.entries(lock.packages)) {
    for (const kind of DECLARATIONS) {
      for (const [name, spec] of Object.entries(pkg[kind] ?? {})) {
        if (!isDistTag(spec)) continue;
        const pin = overrides[name];
        const installed = lock.packages[`node_modules/${name}`]?.version;
        const pinned = typeof pin === 'string' && /^\d+\.\d+\.\d+$/.test(pin) && installed === pin;
        if (!pinned) bad.push(`${path || '(root)'} declares ${name}@${spec}`);
      }
    }
  }
  return bad;
}

describe('package-lock.json', () => {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lock;
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { overrides?: Record<string, unknown> };

  it('holds no dependency declared by a dist-tag that overrides do not pin to the locked version', () => {
    expect(unpinnedTags(lock, pkg.overrides ?? {})).toEqual([]);
  });

  it('names the package when a dist-tag comes back unpinned', () => {
    const tagged: Lock = {
      packages: {
        '': { dependencies: { a: '^1.0.0' } },
        'node_modules/a': { version: '1.0.0', dependencies: { b: 'latest', c: '*', d: 'x', e: 'npm:f@1.0.0' } },
        'node_modules/b': { version: '2.0.0' },
      },
    };
    expect(unpinnedTags(tagged, {})).toEqual(['node_modules/a declares b@latest']);
    expect(unpinnedTags(tagged, { b: '2.0.0' })).toEqual([]);
    // A pin that no longer matches what is locked, or a range, does not count.
    expect(unpinnedTags(tagged, { b: '1.9.0' })).toHaveLength(1);
    expect(unpinnedTags(tagged, { b: '^2.0.0' })).toHaveLength(1);
  });
});
