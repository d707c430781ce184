// Preloaded (node -r) into the bundle by build.mjs to check that `--version` does not evaluate the
// Azure SDK: @azure/logger reads AZURE_LOG_LEVEL when its module body runs, and nothing else does.
/* global process */
'use strict';
const real = process.env;
process.env = new Proxy(real, {
  get(target, key, receiver) {
    if (key === 'AZURE_LOG_LEVEL') process.stderr.write('AZKVB_PROBE_SDK_EVALUATED\n');
    return Reflect.get(target, key, receiver);
  },
});
