// A user's mistake (a DeepscaleError: bad config, missing file, bad input) ends the process with
// its message and exit code 1, not a stack trace. Anything else is a bug and keeps its stack.
function isDeepscale(err) {
  if (!err || typeof err !== 'object') return false;
  for (let p = Object.getPrototypeOf(err); p; p = Object.getPrototypeOf(p)) if (p.constructor?.name === 'DeepscaleError') return true;
  return false;
}

process.on('uncaughtException', (err) => {
  process.stderr.write(isDeepscale(err) ? `error: ${err.message}\n` : `${err?.stack ?? String(err)}\n`);
  process.exit(1);
});
