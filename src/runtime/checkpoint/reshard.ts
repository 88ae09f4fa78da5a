/**
 * Loading one rank's files of a checkpoint saved at a different world size. loadCheckpoint
 * hands back files exactly as one saved rank wrote them, so it cannot answer for a rank that
 * did not exist; the state is re-cut from the whole instead: consolidateCheckpoint
 * (consolidate.ts) reads every rank's shards into full float32 buffers, and a ZeRO stage of any
 * world size takes its shard from those (Engine.loadCheckpoint does this).
 */
import { InputError } from '../../errors.ts';
import type { Manifest } from './layout.ts';

export function reshard(manifest: Manifest, worldSize: number, manifestPath: string): never {
  throw new InputError(
    `loadCheckpoint: checkpoint "${manifest.tag}" (${manifestPath}) was saved by world size ${manifest.worldSize}, asked for world size ${worldSize}: `
      + 'read it whole with consolidateCheckpoint (Engine.loadCheckpoint reshards this way)',
  );
}
