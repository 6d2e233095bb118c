// Reads the PID file in a tight loop until the file named by its second argument appears, then
// prints every distinct content it saw, as JSON: what any reader (kill $(cat f)) could have seen.
import fs from 'node:fs';

const [file, stopFile] = process.argv.slice(2);
const seen = new Set();
process.stdout.write('ready\n');
for (let i = 0; ; i += 1) {
  try {
    seen.add(fs.readFileSync(file, 'latin1'));
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  if (i % 256 === 0 && fs.existsSync(stopFile)) break;
}
process.stdout.write(`${JSON.stringify([...seen])}\n`);
