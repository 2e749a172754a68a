#!/usr/bin/env node
// The two commands a newcomer runs, with nothing but Node.js installed:
//   npm start [-- --once]  install dependencies, build, then `lifeboat start` (stack + worker + main job)
//   npm test               install dependencies, build, lint, typecheck, ensure the servers' tools,
//                          then the unit and integration tests (vitest writes .vitest-report.json)
// Plain CommonJS with no dependencies, because it runs before `npm ci`.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const [mode, ...rest] = process.argv.slice(2);

function step(title, command, args, options = {}) {
  const started = Date.now();
  process.stdout.write(`\n> ${title}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) {
    process.stderr.write(`lifeboat: ${title} could not run: ${result.error.message}\n`);
    process.exit(4);
  }
  if (result.status !== 0) {
    process.stderr.write(`lifeboat: ${title} failed (exit ${result.status})\n`);
    process.exit(result.status || 1);
  }
  process.stdout.write(`  (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
}

function ensureDependencies() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  const stale = !fs.existsSync(marker) || fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs;
  if (stale) step('installing npm dependencies (npm ci)', 'npm', ['ci', '--no-audit', '--no-fund']);
}

function build() {
  step('building (tsc)', process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  step('bundling workflows', process.execPath, [path.join(root, 'scripts', 'bundle-workflows.js')]);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 3)) {
  process.stderr.write(`lifeboat: Node.js >= 20.3 is required, this is ${process.versions.node}\nhint: install Node.js 20 LTS or newer\n`);
  process.exit(4);
}

ensureDependencies();
build();
const cli = path.join(root, 'dist', 'client', 'main.js');

if (mode === 'start') {
  const result = spawnSync(process.execPath, [cli, 'start', ...rest], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
} else if (mode === 'test') {
  step('lint (eslint)', process.execPath, [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.']);
  step('typecheck (tsc --noEmit)', process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--noEmit']);
  // --production: also the real Temporal server of test/integration/production-topology.test.ts
  // (a ~10 min build on 2 cores, once; cached outside the clone). --browser: Debian's chromium for
  // the tests that open the Temporal UI. `npm start` needs neither.
  step('tools (temporal, minio, postgresql-15, gpg, zstd, bind9, bind9-dnsutils, chromium, temporal server 1.29.1)', process.execPath, [cli, 'tools', 'ensure', '--production', '--browser']);
  const report = path.join(root, '.vitest-report.json');
  fs.rmSync(report, { force: true });
  step('tests (vitest: unit + integration)', process.execPath, [
    path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...rest,
  ]);
} else {
  process.stderr.write('usage: node scripts/bootstrap.js start|test [args]\n');
  process.exit(2);
}
