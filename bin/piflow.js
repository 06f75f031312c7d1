#!/usr/bin/env node
// Entry point of `npx piflow`: the compiled CLI (built by `npm install` through the prepare script).
import('../dist/src/cli/piflow.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('piflow: the CLI is not built yet; run `npm run build` first');
  } else {
    console.error(e);
  }
  process.exit(1);
});
