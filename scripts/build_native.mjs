// Builds deepscale's optional native kernels (native/*.c → native/build/ds_native.node), run by
// `npm install` (postinstall). It never fails the install: with no C compiler or no Node headers
// it says so and training keeps to the wasm kernels (`ds report` names which are live).
// Compiled directly with cc rather than node-gyp, which would download Node's headers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'native', 'build', 'ds_native.node');
const require = createRequire(import.meta.url);

function nodeHeaders() {
  const candidates = [path.join(path.dirname(process.execPath), '..', 'include', 'node')];
  try {
    candidates.push(require('node-api-headers').include_dir);
  } catch {
    // optional
  }
  return candidates.find((d) => existsSync(path.join(d, 'node_api.h')));
}

const cc = process.env.CC ?? 'cc';
const include = nodeHeaders();
if (!include) {
  console.log('deepscale: native kernels not built (no node_api.h found); training uses the wasm kernels');
} else {
  try {
    mkdirSync(path.dirname(out), { recursive: true });
    // Every native/*.c; the vector kernels carry their own target attributes (chosen at run time),
    // so the addon is built for the baseline ISA and still runs on an older CPU.
    const sources = readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(root, 'native', f));
    execFileSync(cc, ['-O3', '-fPIC', '-shared', '-std=gnu11', '-fno-trapping-math', '-fno-math-errno', `-I${include}`, '-DNODE_GYP_MODULE_NAME=ds_native',
      ...sources, '-o', out, '-lpthread', '-lm'], { stdio: 'pipe' });
    console.log(`deepscale: built ${path.relative(root, out)}`);
  } catch (err) {
    const msg = (err.stderr?.toString() || err.message).split('\n')[0];
    console.log(`deepscale: native kernels not built (${cc}: ${msg}); training uses the wasm kernels`);
  }
}
