// Takes the PID file and gives it back; run with PIDGUARD_FAILPOINT set, it stops itself at that
// step of acquire or release, for torture/steps.mjs to SIGKILL it there.
import { acquireSync } from 'pidguard';

acquireSync(process.argv[2]).release();
process.stdout.write('done\n');
