// The server processes of this process's open pidguard sessions: how a refusal tells a lock held
// by this process from one held by another process with the same PID and host name (two
// containers started with one hostname, each its own PID 1), which the holder's row cannot.

/** Backend PID -> how many open sessions have it (two servers may each give one the same PID). */
const open = new Map<number, number>();

/** A session of this process, on server process `backend`, is open. */
export function addOwnSession(backend: number): void {
  open.set(backend, (open.get(backend) ?? 0) + 1);
}

/** That session has ended. */
export function removeOwnSession(backend: number): void {
  const count = open.get(backend) ?? 0;
  if (count <= 1) open.delete(backend);
  else open.set(backend, count - 1);
}

/** Whether server process `backend` runs one of this process's open sessions. */
export function isOwnSession(backend: number | null): boolean {
  return backend !== null && open.has(backend);
}
