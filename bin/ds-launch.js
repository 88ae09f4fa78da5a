#!/usr/bin/env node
import './register.js';

const { runLaunchCli } = await import('../src/runtime/launcher/cli.ts');
await runLaunchCli(process.argv.slice(2));
