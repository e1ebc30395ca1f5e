/**
 * Thrown by a processor that stopped at a safe point because its process is shutting down (see
 * `ShutdownNotice`), before the grace ran out: the delivery goes back to the queue without using
 * up an attempt, as one aborted at the end of the grace does.
 */
export class ShutdownHandBack extends Error {
  constructor(message = 'stopped at a safe point for the shutdown') {
    super(message);
    this.name = 'ShutdownHandBack';
  }
}
