#!/usr/bin/env node
// Builds bench/out/dist-lean: a copy of dist/ standing for a supervising process that loads
// no YAML reader and no flag parser (docs/performance.md, "Ranked changes" 1), so its memory
// can be measured before src/ changes:
//   node bench/lean-prototype.mjs && node bench/profile-standalone.mjs --lean=bench/out/dist-lean
// Three edits to the copy, nothing else:
//   - process/environment.js takes ConfigError from a 5-line config/config-error.js instead of
//     config/run-yml.js (which loads `yaml`);
//   - native.js finds the addon in the repository (the copy is not beside build/);
//   - cli/immortal-lean.js: the config arrives parsed and checked, as JSON in
//     IMMORTAL_LEAN_CONFIG; it requires only supervise/standalone and cli/output.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(repoRoot, 'dist');
const to = path.join(repoRoot, 'bench', 'out', 'dist-lean');

function edit(file, before, after) {
  const full = path.join(to, file);
  const text = fs.readFileSync(full, 'utf8');
  if (!text.includes(before)) throw new Error(`${file}: "${before}" not found (dist/ changed: adapt this prototype)`);
  fs.writeFileSync(full, text.replace(before, after));
}

fs.rmSync(to, { recursive: true, force: true });
fs.cpSync(from, to, { recursive: true });

fs.writeFileSync(
  path.join(to, 'config', 'config-error.js'),
  `"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
class ConfigError extends Error { constructor(message) { super(message); this.name = 'ConfigError'; } }
exports.ConfigError = ConfigError;
`,
);
edit('process/environment.js', 'require("../config/run-yml")', 'require("../config/config-error")');
edit('native.js', "node_path_1.default.join(__dirname, '..')", JSON.stringify(repoRoot));
fs.writeFileSync(
  path.join(to, 'cli', 'immortal-lean.js'),
  `#!/usr/bin/env node
"use strict";
// The lean supervising process: the config arrives parsed and checked.
const { supervisorLogger } = require('./output');
const config = JSON.parse(process.env.IMMORTAL_LEAN_CONFIG);
delete process.env.IMMORTAL_LEAN_CONFIG;
const { runImmortal } = require('../supervise/standalone');
const log = supervisorLogger(config.name);
process.on('uncaughtException', (err) => log(\`internal error, still supervising: \${err.stack ?? err}\`));
runImmortal(config, { log }).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(\`immortal: \${err.message}\\n\`);
    process.exit(1);
  },
);
`,
);

// What the lean process loads: none of yaml, commander, config/run-yml, cli/flags.
const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);
require(path.join(to, 'supervise', 'standalone.js'));
require(path.join(to, 'cli', 'output.js'));
const loaded = Object.keys(require.cache).filter((file) => file.startsWith(to) || file.includes('node_modules'));
const heavy = loaded.filter((file) => /node_modules\/(yaml|commander)\/|run-yml|cli\/flags/.test(file));
process.stdout.write(`${to}: the supervising code loads ${loaded.length} files${heavy.length ? `, among them ${heavy.join(', ')}` : ', no yaml, commander, run-yml or flags'}\n`);
