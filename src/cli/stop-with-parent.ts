/**
 * A service started by a parent that may die without stopping it (`streamedge demo` killed with
 * SIGKILL, or crashing) stops itself as a SIGTERM would stop it: the parent starts it with an IPC
 * channel and `STREAMEDGE_STOP_WITH_PARENT=1`, and the channel closing (the kernel closes the
 * parent's end when it exits, however it exits) is taken as the parent gone.
 */

/** The variable a parent sets on a child it starts with an IPC channel for this. */
export const STOP_WITH_PARENT_ENV = 'STREAMEDGE_STOP_WITH_PARENT';

/**
 * Call once at start: when asked for, a lost parent sends this process SIGTERM (its own graceful
 * stop). The channel does not keep the process alive, and the request is not passed on to the
 * processes this one starts (they have their own stop: workers, encoders).
 */
export function stopWithParent(onGone: () => void = () => process.kill(process.pid, 'SIGTERM')): boolean {
  const asked = process.env[STOP_WITH_PARENT_ENV] === '1';
  delete process.env[STOP_WITH_PARENT_ENV];
  if (!asked || !process.channel) return false;
  process.once('disconnect', onGone);
  process.channel.unref();
  return true;
}
