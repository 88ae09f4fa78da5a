/**
 * Where an export is written before it takes its name. A model dir is built in a hidden sibling
 * folder and renamed into place when complete; a file is written to a temp name and renamed
 * (loaders/atomic_write.ts). Either way a failure leaves nothing under the output name.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';

/** Refuses an existing output unless `overwrite`; creates the parent folder. */
export function checkTarget(out: string, overwrite: boolean): void {
  if (existsSync(out) && !overwrite) throw new InputError(`ds export: ${out} already exists (pass --force to replace it)`);
  mkdirSync(dirname(out), { recursive: true });
}

const sibling = (out: string, what: string): string => join(dirname(out), `.${basename(out)}.${what}-${process.pid}-${randomBytes(4).toString('hex')}`);

/** A fresh hidden folder beside `out` to build the export in. */
export function stagingDir(out: string, overwrite: boolean): string {
  checkTarget(out, overwrite);
  const tmp = sibling(out, 'tmp');
  mkdirSync(tmp);
  return tmp;
}

/** Runs `build` to fill `tmp`, then moves `tmp` to `out` (replacing it); on failure removes `tmp`. */
export function commitDir<T>(tmp: string, out: string, build: () => T): T {
  let result: T;
  try {
    result = build();
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  if (!existsSync(out)) {
    renameSync(tmp, out);
    return result;
  }
  // Replacing: the old export steps aside, the new one takes the name, then the old one goes.
  const old = sibling(out, 'old');
  renameSync(out, old);
  renameSync(tmp, out);
  rmSync(old, { recursive: true, force: true });
  return result;
}
