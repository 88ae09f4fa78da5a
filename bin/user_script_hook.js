// Lets ds-launch run a user's own script wherever it lives, as DeepSpeed's launcher runs any
// train.py:
//  - `import ... from 'deepscale'` resolves to this package when the script's folder has no
//    node_modules/deepscale (a script beside a clone, or a global install);
//  - a `.ts` file outside node_modules whose nearest package.json sets no "type" (or that has
//    none at all) loads as an ES module. Node would load it as CommonJS, and a script with
//    top-level await then fails with ERR_REQUIRE_CYCLE_MODULE.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const exportsMap = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).exports ?? {};

/** The "type" of the nearest package.json: its value, null when it sets none, undefined when there is none. */
function nearestPackageType(file) {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        return JSON.parse(readFileSync(pkg, 'utf8')).type ?? null;
      } catch {
        return null;
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function ownExport(specifier) {
  const sub = specifier === 'deepscale' ? '.' : `./${specifier.slice('deepscale/'.length)}`;
  const target = exportsMap[sub];
  return typeof target === 'string' ? pathToFileURL(join(root, target)).href : null;
}

export async function resolve(specifier, context, next) {
  let r;
  try {
    r = await next(specifier, context);
  } catch (err) {
    const own = specifier === 'deepscale' || specifier.startsWith('deepscale/') ? ownExport(specifier) : null;
    if (own === null) throw err;
    r = await next(own, context);
  }
  if (r.url.startsWith('file:') && /\.tsx?$/.test(r.url) && !r.url.includes('/node_modules/') && r.format !== 'module') {
    const type = nearestPackageType(fileURLToPath(r.url));
    if (type === null || type === undefined) return { ...r, format: 'module' };
  }
  return r;
}
