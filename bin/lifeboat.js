#!/usr/bin/env node
// The `lifeboat` command: runs the compiled CLI (npm run build, or npm start/npm test, builds it).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'client', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('lifeboat: not built yet\nhint: run `npm run build` (or `npm start`) in ' + path.join(__dirname, '..') + '\n');
  process.exit(4);
}
require(entry)
  .main(process.argv)
  .then((code) => process.exit(code));
