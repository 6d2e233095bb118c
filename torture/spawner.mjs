// A holder that starts processes while it takes and gives up the lock: a worker thread spawns
// `sleep` children as fast as it can while this thread runs acquire/release cycles (`cycles` of
// them, and on until the worker has started one child per ten cycles), so that children are
// forked during every step of both. Prints the children's PIDs as JSON.
import { spawn } from 'node:child_process';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

if (isMainThread) {
  const { acquireSync } = await import('pidguard');
  const [file, cyclesText] = process.argv.slice(2);
  const cycles = Number(cyclesText);
  // Shared, because this thread stays busy in its loop while the worker counts.
  const started = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL(import.meta.url), { workerData: started });
  const children = [];
  worker.on('message', (pid) => children.push(pid));
  await new Promise((resolve) => worker.once('online', resolve));
  for (let i = 0; i < cycles || Atomics.load(started, 0) < cycles / 10; i += 1) acquireSync(file).release();
  await worker.terminate();
  process.stdout.write(`${JSON.stringify(children)}\n`);
} else {
  for (;;) {
    const child = spawn('sleep', ['5'], { stdio: 'ignore', detached: true });
    child.unref();
    parentPort.postMessage(child.pid);
    Atomics.add(workerData, 0, 1);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
