/** Lifeboat's own version, recorded in every artifact's metadata. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function readVersion(): string {
  // Works from sources (lib/) and from the build (dist/lib/).
  for (const candidate of [join(__dirname, '..', 'package.json'), join(__dirname, '..', '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'lifeboat' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}

export const LIFEBOAT_VERSION = readVersion();
