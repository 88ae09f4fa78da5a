// Loader setup for every deepscale process (the `ds` CLI, each rank that ds-launch starts):
// TypeScript through tsx, a resolve hook so tfjs-core's ESM gradient files load in Node, and one
// so that a user's own script runs wherever it lives (user_script_hook.js).
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./tfjs_resolve_hook.js', import.meta.url);
register('./user_script_hook.js', import.meta.url);
import './user_errors.js';
