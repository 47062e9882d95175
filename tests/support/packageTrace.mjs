// Preloaded with `node --import` by tests/cli.test.ts: prints "package <name>" on stderr for every npm
// package the program imports, once each, so a test can see which libraries a command loads.
import { register } from 'node:module';

const hooks = `
const seen = new Set();
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  const at = resolved.url.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const parts = resolved.url.slice(at + '/node_modules/'.length).split('/');
    const name = parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0];
    if (!seen.has(name)) {
      seen.add(name);
      process.stderr.write('package ' + name + '\\n');
    }
  }
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
