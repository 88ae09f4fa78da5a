import { describe, expect, it } from 'vitest';
import { readDistEnv } from '../../../src/runtime/comm/index.ts';

describe('readDistEnv', () => {
  it('reads the torch-style variables', () => {
    expect(readDistEnv({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '29600' })).toEqual({
      rank: 3, worldSize: 4, localRank: 1, localSize: 2, masterAddr: 'node0', masterPort: 29600, source: 'torch',
    });
  });

  it('reads Open MPI, Slurm and PMI variables', () => {
    expect(readDistEnv({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' }))
      .toMatchObject({ rank: 1, worldSize: 2, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500, source: 'openmpi' });
    expect(readDistEnv({ SLURM_PROCID: '5', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_NTASKS_PER_NODE: '4(x2)', MASTER_ADDR: 'n1' }))
      .toMatchObject({ rank: 5, worldSize: 8, localRank: 1, localSize: 4, masterAddr: 'n1', source: 'slurm' });
    expect(readDistEnv({ PMI_RANK: '0', PMI_SIZE: '3' })).toMatchObject({ rank: 0, worldSize: 3, localSize: 3, source: 'pmi' });
  });

  it('prefers RANK over MPI variables that are also present', () => {
    expect(readDistEnv({ RANK: '0', WORLD_SIZE: '1', OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4' }).source).toBe('torch');
  });

  it('says clearly what is missing or inconsistent', () => {
    expect(() => readDistEnv({})).toThrow(/none of RANK\/WORLD_SIZE, OMPI_COMM_WORLD_RANK\/OMPI_COMM_WORLD_SIZE, SLURM_PROCID\/SLURM_NTASKS, PMI_RANK\/PMI_SIZE is set/);
    expect(readDistEnv({}, { allowSingle: true })).toMatchObject({ rank: 0, worldSize: 1, source: 'single' });
    expect(() => readDistEnv({ RANK: '1' })).toThrow(/RANK is set but WORLD_SIZE is not/);
    expect(() => readDistEnv({ RANK: '4', WORLD_SIZE: '4' })).toThrow(/RANK=4 is out of range for WORLD_SIZE=4/);
    expect(() => readDistEnv({ RANK: 'x', WORLD_SIZE: '4' })).toThrow(/RANK="x" is not a non-negative integer/);
    expect(() => readDistEnv({ RANK: '0', WORLD_SIZE: '4', LOCAL_SIZE: '2' })).toThrow(/MASTER_ADDR is not set and the 4 ranks span several nodes/);
    expect(() => readDistEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '70000' })).toThrow(/MASTER_PORT=70000 is not a TCP port/);
  });
});
