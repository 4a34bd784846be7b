// Shell-style glob for device paths as Go's filepath.Match does it: `*` and `?` never cross `/`,
// `[abc]`, `[a-z]`, `[!a]` classes, `\` escapes. Built as a RegExp with every other character escaped.
export function matchesGlob(pattern: string, path: string): boolean {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < pattern.length) re += escape(pattern[++i]!);
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) return false; // malformed class: Go returns ErrBadPattern, which matches nothing
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]]/g, "\\$&")}]`;
      i = end;
    } else re += escape(c);
  }
  return new RegExp(re + "$").test(path);
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
