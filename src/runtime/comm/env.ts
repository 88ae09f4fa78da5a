/**
 * Where a rank learns who it is: the variables set by ds-launch / torchrun, Open MPI's
 * mpirun, Slurm's srun or a PMI launcher (MPICH, Intel MPI). Only the launcher should call
 * this; everything else gets the resulting DistEnv.
 */
import { CommError } from '../../errors.ts';

export type DistEnvSource = 'torch' | 'openmpi' | 'slurm' | 'pmi' | 'single';

export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  localSize: number;
  masterAddr: string;
  masterPort: number;
  /** Which family of variables it was read from. */
  source: DistEnvSource;
}

export const DEFAULT_MASTER_PORT = 29500;

type Env = Readonly<Record<string, string | undefined>>;

interface Family {
  source: DistEnvSource;
  rank: string;
  size: string;
  localRank?: string;
  localSize?: string;
}

// Checked in this order: a launcher that sets RANK explicitly wins over the MPI/Slurm
// variables that may also be present (torchrun inside an salloc, for instance).
const FAMILIES: readonly Family[] = [
  { source: 'torch', rank: 'RANK', size: 'WORLD_SIZE', localRank: 'LOCAL_RANK', localSize: 'LOCAL_SIZE' },
  { source: 'openmpi', rank: 'OMPI_COMM_WORLD_RANK', size: 'OMPI_COMM_WORLD_SIZE', localRank: 'OMPI_COMM_WORLD_LOCAL_RANK', localSize: 'OMPI_COMM_WORLD_LOCAL_SIZE' },
  { source: 'slurm', rank: 'SLURM_PROCID', size: 'SLURM_NTASKS', localRank: 'SLURM_LOCALID', localSize: 'SLURM_NTASKS_PER_NODE' },
  { source: 'pmi', rank: 'PMI_RANK', size: 'PMI_SIZE', localRank: 'MPI_LOCALRANKID', localSize: 'MPI_LOCALNRANKS' },
];

function intVar(env: Env, name: string, min: number): number {
  const raw = env[name] ?? '';
  // Slurm writes SLURM_NTASKS_PER_NODE as "4(x2)" on uniform allocations.
  const text = name === 'SLURM_NTASKS_PER_NODE' ? raw.replace(/\(x\d+\)$/, '') : raw;
  if (!/^\d+$/.test(text.trim())) throw new CommError(`${name}=${JSON.stringify(raw)} is not a non-negative integer`);
  const v = Number(text.trim());
  if (v < min) throw new CommError(`${name}=${v} must be at least ${min}`);
  return v;
}

/**
 * Reads rank, world size, local rank/size and the rendezvous address from env.
 * With none of the families set: a CommError listing what was looked for, unless
 * `allowSingle`, which gives a world of one on 127.0.0.1.
 */
export function readDistEnv(env: Env, opts: { allowSingle?: boolean } = {}): DistEnv {
  const family = FAMILIES.find((f) => env[f.rank] !== undefined || env[f.size] !== undefined);
  if (!family) {
    if (opts.allowSingle) {
      return { rank: 0, worldSize: 1, localRank: 0, localSize: 1, masterAddr: env.MASTER_ADDR ?? '127.0.0.1', masterPort: DEFAULT_MASTER_PORT, source: 'single' };
    }
    const looked = FAMILIES.map((f) => `${f.rank}/${f.size}`).join(', ');
    throw new CommError(`no distributed environment found: none of ${looked} is set (start the ranks with ds-launch, mpirun or srun)`);
  }
  for (const name of [family.rank, family.size]) {
    if (env[name] === undefined) {
      const other = name === family.rank ? family.size : family.rank;
      throw new CommError(`${other} is set but ${name} is not; a ${family.source} launch sets both`);
    }
  }
  const rank = intVar(env, family.rank, 0);
  const worldSize = intVar(env, family.size, 1);
  if (rank >= worldSize) throw new CommError(`${family.rank}=${rank} is out of range for ${family.size}=${worldSize}`);
  const localRank = family.localRank && env[family.localRank] !== undefined ? intVar(env, family.localRank, 0) : rank;
  const localSize = family.localSize && env[family.localSize] !== undefined ? intVar(env, family.localSize, 1) : worldSize;
  if (localRank >= localSize) {
    throw new CommError(`${family.localRank}=${localRank} is out of range for ${family.localSize}=${localSize}`);
  }
  let masterAddr = env.MASTER_ADDR;
  if (masterAddr === undefined || masterAddr === '') {
    if (localSize < worldSize) {
      throw new CommError(`MASTER_ADDR is not set and the ${worldSize} ranks span several nodes (${localSize} per node); set MASTER_ADDR to rank 0's host`);
    }
    masterAddr = '127.0.0.1';
  }
  const masterPort = env.MASTER_PORT === undefined ? DEFAULT_MASTER_PORT : intVar(env, 'MASTER_PORT', 1);
  if (masterPort > 65535) throw new CommError(`MASTER_PORT=${masterPort} is not a TCP port (1-65535)`);
  return { rank, worldSize, localRank, localSize, masterAddr, masterPort, source: family.source };
}
