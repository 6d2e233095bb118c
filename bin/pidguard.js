#!/usr/bin/env node
'use strict';
// The pidguard command; see `pidguard --help` and README.md.
const { main } = require('../dist/cli/main.js');

main(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
});
