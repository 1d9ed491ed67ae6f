/** Time comes from one injected place so pure logic and tests can use a fake clock. */
export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
