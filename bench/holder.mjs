// A process that takes the lock with the named library, says "held", and keeps it until killed:
// the holder the crash-recovery benchmark SIGKILLs.
import { peers } from './peers.mjs';

const [name, file] = process.argv.slice(2);
peers[name].hold(file);
process.stdout.write('held\n');
setInterval(() => {}, 1 << 30);
