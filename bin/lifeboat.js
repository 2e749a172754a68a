#!/usr/bin/env node
// The `lifeboat` command: runs the compiled CLI (npm run build, or npm start/npm test, builds it).
// `wal archive` and `wal fetch` are PostgreSQL's archive_command/restore_command, run once per WAL
// file: they take a fast path that loads only what they need.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const dist = path.join(__dirname, '..', 'dist', 'client');
if (!fs.existsSync(path.join(dist, 'main.js'))) {
  process.stderr.write('lifeboat: not built yet\nhint: run `npm run build` (or `npm start`) in ' + path.join(__dirname, '..') + '\n');
  process.exit(4);
}
const [verb, sub] = process.argv.slice(2);
const run =
  verb === 'wal' && (sub === 'archive' || sub === 'fetch')
    ? require(path.join(dist, 'wal-cli.js')).runWalCli(process.argv.slice(3))
    : require(path.join(dist, 'main.js')).main(process.argv);
run.then((code) => process.exit(code));
