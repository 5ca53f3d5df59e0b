// Two rules of docs/architecture.md that the other tools do not check: no source file over 500 lines,
// and no service that loads code with `await import()` (a service's dependencies are in its imports).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const MAX_LINES = 500;
const problems = [];
function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (name.endsWith('.ts')) yield path;
  }
}
for (const file of files(join(root, 'src'))) {
  const rel = relative(root, file);
  if (rel === 'src/formats/wasm/checksum-wasm.ts') continue; // generated: the module as base64
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines (at most ${MAX_LINES}); split it by concern`);
  if (rel.startsWith('src/services/') && /await\s+import\s*\(/.test(text))
    problems.push(`${rel}: a service uses await import(); import its dependencies statically`);
}
for (const p of problems) console.error(`check-layout: ${p}`);
if (problems.length > 0) process.exit(1);
console.log('check-layout: every source file is at most 500 lines; no service uses await import()');
