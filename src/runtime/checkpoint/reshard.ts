/**
 * Loading a checkpoint into a different world size. With ZeRO the flat buffers are cut
 * into world-size shards, so going from N to M ranks means re-cutting them along the
 * layout in the manifest. Not built yet: this is the one place it will go.
 */
import { NotImplementedError } from '../../errors.ts';
import type { Manifest } from './layout.ts';

export function reshard(manifest: Manifest, worldSize: number, manifestPath: string): never {
  throw new NotImplementedError(
    `loading checkpoint "${manifest.tag}" (${manifestPath}) saved by world size ${manifest.worldSize} into world size ${worldSize} (ZeRO resharding)`,
  );
}
