#!/usr/bin/env node
// The AWS SDK warns at start-up that its 2027 releases need Node 22; Sluice works on Node 20 and 22
// and users should not see that notice on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
try {
  const { main } = await import('../dist/src/cli/main.js');
  await main(process.argv);
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/cli')) {
    process.stderr.write('sluice: not built yet — run "npm run build" (or "npm start", which builds first)\n');
    process.exitCode = 1;
  } else {
    throw err;
  }
}
