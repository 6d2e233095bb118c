// A process that takes the fleet lock with the named peer, says "held", and keeps it until killed:
// the holder the crash-recovery benchmark SIGKILLs. Usage: fleet-holder.mjs <peer> <url> <lock name>
import { fleetPeers } from './fleet-peers.mjs';

const [peerName, url, name] = process.argv.slice(2);
await fleetPeers[peerName].hold(url, name);
process.stdout.write('held\n');
setInterval(() => {}, 1 << 30);
