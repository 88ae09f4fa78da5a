/**
 * Peak RSS of loading a GGUF and placing it in a model runner (1 MiB of KV cache), against the
 * file size and the RSS of this process before the load: `node --import ./bin/register.js
 * scripts/peak_rss.ts M.gguf` prints one JSON line. Run in its own process (maxRSS is per process).
 */
import { readFileSync, statSync } from 'node:fs';
import { loadGguf } from '../src/inference/loaders/gguf/load.ts';
import { ModelRunner } from '../src/inference/runner/index.ts';

/** This process's peak RSS in bytes (VmHWM: unlike getrusage's maxrss it starts afresh at exec, not at the parent's peak). */
const hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
const path = process.argv[2]!;
const before = hwm();
const model = loadGguf(path);
const afterLoad = hwm();
const runner = new ModelRunner(model, { numBlocks: 4, blockSize: 16, maxNumBatchedTokens: 64 });
const peak = hwm();
const arena = runner.arena.allocatedBytes;
runner.dispose();
process.stdout.write(`${JSON.stringify({ file: statSync(path).size, before, afterLoad, peak, arena })}\n`);
