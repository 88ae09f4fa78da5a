/**
 * `ds-launch [flags] script.ts [script args]`: parses the flags (everything after the script
 * belongs to the script) and runs the job. A LaunchError prints one line, no stack.
 */
import yargs from 'yargs';
import { DeepscaleError, LaunchError } from '../../errors.ts';
import { LAUNCHERS, type LauncherName } from './env.ts';
import { launch, type LaunchOptions } from './launch.ts';

/** Parses ds-launch's argv into options; throws LaunchError on a usage mistake. */
export function parseLaunchArgs(argv: readonly string[]): LaunchOptions {
  const args = yargs([...argv])
    .scriptName('ds-launch')
    .usage('$0 [flags] script.ts [script args]')
    .parserConfiguration({ 'halt-at-non-option': true, 'parse-positional-numbers': false })
    .option('num_procs', { alias: 'num_gpus', type: 'number', describe: 'ranks per node (default 1 locally, every slot with a hostfile)' })
    .option('num_nodes', { type: 'number', describe: 'use the first N nodes of the hostfile' })
    .option('hostfile', { alias: 'H', type: 'string', describe: 'lines of "host slots=N"' })
    .option('include', { alias: 'i', type: 'string', describe: 'hosts/slots to use: worker-0@worker-1:0,2' })
    .option('exclude', { alias: 'e', type: 'string', describe: 'hosts/slots to leave out: worker-1:0' })
    .option('master_addr', { type: 'string', describe: 'rendezvous host (default 127.0.0.1, or the first host)' })
    .option('master_port', { type: 'number', default: 29500, describe: 'rendezvous port' })
    .option('launcher', { choices: LAUNCHERS, describe: 'default local, or ssh with a hostfile' })
    .option('launcher_args', { type: 'string', default: '', describe: 'extra arguments for mpirun/srun; write --launcher_args="--bind-to none" when they start with a dash' })
    .option('ssh_cmd', { type: 'string', default: 'ssh', describe: 'ssh program and options' })
    .option('config', { type: 'string', describe: 'config file, passed to the script as --config PATH and DS_CONFIG' })
    .option('kill_grace_s', { type: 'number', default: 5, describe: 'seconds between SIGTERM and SIGKILL when stopping ranks' })
    .option('node_rank', { type: 'number', hidden: true })
    .option('world_info', { type: 'string', hidden: true })
    .strict()
    .help()
    .version(false)
    .fail((msg, err) => {
      throw err ?? new LaunchError(msg);
    })
    .parseSync();

  const [script, ...scriptArgs] = args._.map(String);
  if (script === undefined) throw new LaunchError('name the script to run: ds-launch [flags] script.ts [script args]');
  const port = args.master_port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LaunchError(`--master_port must be an integer in 1..65535, got ${port}`);
  if (!(args.kill_grace_s >= 0)) throw new LaunchError(`--kill_grace_s must be >= 0, got ${args.kill_grace_s}`);
  return {
    script,
    scriptArgs,
    numProcs: args.num_procs,
    numNodes: args.num_nodes,
    hostfile: args.hostfile,
    include: args.include,
    exclude: args.exclude,
    masterAddr: args.master_addr,
    masterPort: port,
    launcher: args.launcher as LauncherName | undefined,
    launcherArgs: args.launcher_args.split(/\s+/).filter((s) => s !== ''),
    sshCmd: args.ssh_cmd,
    config: args.config,
    graceMs: args.kill_grace_s * 1000,
    nodeRank: args.node_rank,
    worldInfo: args.world_info,
  };
}

/** The bin entry: runs the job and sets the exit code; never throws a user's mistake. */
export async function runLaunchCli(argv: string[]): Promise<void> {
  try {
    const result = await launch(parseLaunchArgs(argv));
    if (result.failure !== null) process.stderr.write(`ds-launch: error: ${result.failure}\n`);
    process.exitCode = result.exitCode;
  } catch (err) {
    if (!(err instanceof DeepscaleError)) throw err;
    process.stderr.write(`ds-launch: error: ${err.message}\n`);
    process.exitCode = 1;
  }
}
