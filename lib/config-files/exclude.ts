/**
 * CONFIG_BACKUP_EXCLUDE: globs that leave paths out of a configuration backup. Pure.
 *  - a pattern without `/` matches the last segment (the name) of any path: `*.swp`, `*~`;
 *  - a pattern with `/` matches the whole absolute path: `/etc/app/cache/**`;
 *  - `*` and `?` stay within one segment, `**` crosses segments (also none: `/a/**` matches `/a`).
 * An excluded directory is skipped with everything below it.
 */

/** One glob as a regular expression over a name (no `/`) or an absolute path. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `/**` at the end matches the directory itself and everything below; `**/` any depth of directories.
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
      if (out.endsWith('/.*') && i === glob.length - 1) out = `${out.slice(0, -3)}(?:/.*)?`;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** `(absolutePath) => excluded?` for a list of globs (an empty list excludes nothing). */
export function excludeMatcher(globs: readonly string[]): (path: string) => boolean {
  const byName = globs.filter((g) => !g.includes('/')).map(globToRegExp);
  const byPath = globs.filter((g) => g.includes('/')).map(globToRegExp);
  return (path) => {
    const name = path.slice(path.lastIndexOf('/') + 1);
    return byName.some((r) => r.test(name)) || byPath.some((r) => r.test(path));
  };
}
