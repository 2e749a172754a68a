#!/usr/bin/env node
// Bundles dist/workflows into dist/workflow-bundle.js at build time, so workers start without
// webpack (faster start, about 90 MB less peak memory). Run after tsc; workers fall back to
// bundling at start when the file is missing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { bundleWorkflowCode } = require('@temporalio/worker');

const dist = path.join(__dirname, '..', 'dist');
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
bundleWorkflowCode({ workflowsPath: path.join(dist, 'workflows'), logger: quiet })
  .then(({ code }) => {
    const target = path.join(dist, 'workflow-bundle.js');
    fs.writeFileSync(`${target}.tmp`, code);
    fs.renameSync(`${target}.tmp`, target);
  })
  .catch((error) => {
    process.stderr.write(`lifeboat: bundling workflows failed: ${error.message}\n`);
    process.exit(1);
  });
