// Run in a directory where the packed pidguard is installed: loads it as a user would, takes the
// lock, has a second process refused with the holder's PID, releases. Prints one JSON line.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const nodeGypBuild = require(require.resolve('node-gyp-build', { paths: [require.resolve('pidguard')] }));
const { acquireSync } = require('pidguard');

const packageDir = path.dirname(require.resolve('pidguard/package.json'));
const file = path.join(process.cwd(), 'smoke.pid');
const lock = acquireSync(file);
const recorded = fs.readFileSync(file, 'utf8');
const refusal = execFileSync(process.execPath, ['-e', `
  try { require('pidguard').acquireSync(${JSON.stringify(file)}); console.log('acquired'); }
  catch (error) { console.log(JSON.stringify({ code: error.code, pid: error.pid })); }`], { encoding: 'utf8' }).trim();
lock.release();
console.log(JSON.stringify({
  platform: process.platform,
  addon: path.relative(packageDir, nodeGypBuild.resolve(packageDir)).split(path.sep).join('/'),
  built: fs.existsSync(path.join(packageDir, 'build')),
  recorded: recorded === `${process.pid}\n`,
  refusal: JSON.parse(refusal),
  holder: process.pid,
  removed: !fs.existsSync(file),
}));
