#!/usr/bin/env node
import { register } from 'tsx/esm/api';
register();
const { runLaunchCli } = await import('../src/runtime/launcher/cli.ts');
await runLaunchCli(process.argv.slice(2));
