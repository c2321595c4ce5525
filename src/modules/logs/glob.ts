/**
 * Shell-style globs for log paths: `*`, `?` and `[...]` (with `!`/`^` negation and ranges) inside
 * one path segment; a wildcard never crosses `/` and never matches a leading dot, as in sh.
 * Node 20's path.matchesGlob is experimental (it warns at runtime), hence this small matcher.
 */

export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** One segment pattern as an anchored regular expression. */
export function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i]!;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      const cls = body.replace(/[\\\]^]/g, '\\$&');
      source += negated ? `[^/${cls}]` : `[${cls}]`;
      i = close;
    } else source += escapeRegExp(char);
  }
  // A wildcard at the start must not match hidden files (our own temp files start with a dot).
  const guard = hasMagic(segment[0] ?? '') ? '(?!\\.)' : '';
  return new RegExp(`^${guard}${source}$`);
}

export function matchesSegment(name: string, segment: string): boolean {
  return hasMagic(segment) ? segmentRegExp(segment).test(name) : name === segment;
}

/** Whether an absolute path matches an absolute glob, segment by segment. */
export function matchesGlob(path: string, pattern: string): boolean {
  const parts = path.split('/');
  const patternParts = pattern.split('/');
  if (parts.length !== patternParts.length) return false;
  return parts.every((part, i) => matchesSegment(part, patternParts[i]!));
}

export function matchesAnyGlob(path: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => matchesGlob(path, pattern));
}
