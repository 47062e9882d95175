// The Node.js version check the `lookalike` command makes before loading anything else, so that an old
// Node gets one clear line instead of a failure deep in a dependency. Plain JavaScript: it must run on
// any Node, before the build is even looked at.

/** The lowest version a ">=X.Y.Z" range (package.json's engines.node) allows. */
export function minimumOf(range) {
  const m = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(String(range).trim());
  if (!m) throw new Error(`engines.node must read ">=X.Y.Z", got "${range}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** null when `version` (e.g. "20.14.0") meets the range; otherwise the line to print. */
export function nodeVersionProblem(version, range) {
  const want = minimumOf(range);
  const have = String(version).replace(/^v/, '').split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > want[i]) return null;
    if ((have[i] ?? 0) < want[i]) {
      return `lookalike needs Node.js ${want.join('.')} or newer (package.json engines: ${range}); this is ${version}. Install a newer Node.js 20 or 22.`;
    }
  }
  return null;
}
