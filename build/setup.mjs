// `npm run setup`: every install the tests need, once, so the fast loops (`npm run test:unit`,
// `test:pwsh`, `test:release`) start testing at once: Node 22, PowerShell 7 and Pester (npm
// registry, NuGet), the Debian packages of the release and Windows suites, and PowerShell for
// Windows under Wine. `npm test` does the same installs itself, as each phase needs them.
import { ensureDebianPackages, ensurePester, ensureTools } from './ensure-tools.mjs';
import { ensureWindowsPwsh } from './windows-pwsh.mjs';

const tools = ensureTools({ uses: ['release', 'emulate', 'windows'] });
const pester = ensurePester(tools.pwsh);
ensureDebianPackages(['emulate', 'windows']);
const windows = ensureWindowsPwsh();
process.stdout.write(`${JSON.stringify({ ...tools, pester, windowsPwsh: windows.pwshExe }, null, 2)}\n`);
