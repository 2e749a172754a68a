#!/usr/bin/env node
// Bundles dist/workflows into dist/workflow-bundle.js (and workflow-bundle-codec.js) at build time, so workers start without
// webpack (faster start, about 90 MB less peak memory). Run after tsc; workers fall back to
// bundling at start when the file is missing.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { bundleWorkflowCode } = require('@temporalio/worker');

const dist = path.join(__dirname, '..', 'dist');
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
// Two bundles: the plain one, and one with the failure converter of payload encryption
// (LIFEBOAT_PAYLOAD_KEY), which Temporal bundles into the workflow code.
const bundles = [
  { target: 'workflow-bundle.js', options: {} },
  { target: 'workflow-bundle-codec.js', options: { failureConverterPath: path.join(dist, 'lib', 'codec', 'failure-converter.js') } },
];
Promise.all(bundles.map(({ target, options }) =>
  bundleWorkflowCode({ workflowsPath: path.join(dist, 'workflows'), logger: quiet, ...options }).then(({ code }) => {
    const file = path.join(dist, target);
    fs.writeFileSync(`${file}.tmp`, code);
    fs.renameSync(`${file}.tmp`, file);
  })))
  .catch((error) => {
    process.stderr.write(`lifeboat: bundling workflows failed: ${error.message}\n`);
    process.exit(1);
  });
