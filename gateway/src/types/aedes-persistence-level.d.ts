// aedes-persistence-level ships no types (dependencies notes §1).
declare module 'aedes-persistence-level' {
  import type { AbstractLevel } from 'abstract-level'

  // biome-ignore lint/suspicious/noExplicitAny: the persistence object is opaque to us; aedes consumes it
  const factory: (db: AbstractLevel<any, any, any>) => any
  export default factory
}
