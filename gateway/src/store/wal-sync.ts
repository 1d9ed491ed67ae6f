import { closeSync, fdatasync, openSync } from 'node:fs'

/** fdatasync of the journal's -wal file; calls back when it is on disk. */
export type WalSync = (done: (err: Error | null) => void) => void

/** A WalSync that may run `slots` syncs at once (DurableAcks overlaps that many; absent: 1). */
export type WalSyncer = WalSync & { readonly slots?: number; close?(): void }

/**
 * The -wal file of the store at `dbPath`, synced on libuv's thread pool: the fsync that
 * synchronous=FULL would run inside COMMIT, on the event loop, happens here off it. SQLite keeps
 * the same -wal inode while the store is open (a checkpoint rewinds it, never replaces it), so the
 * descriptors serve for the process's life.
 *
 * One descriptor per sync that may run at once (`slots`, as many as DurableAcks overlaps), all
 * opened together on first use (the file exists once the store is in WAL mode and has been
 * written). Why not one shared: Linux reports a writeback error once per open file description
 * (errseq, since 4.13): of two fdatasyncs racing on one descriptor only the first to look sees it,
 * and the other would report success for pages the kernel dropped. With a descriptor each, every
 * sync that covers a failed write sees the failure, and none is opened after the error.
 */
export function walSyncer(dbPath: string, slots = 2): WalSyncer & { close(): void } {
  let free: number[] | null = null
  let opened: number[] = []
  const sync: WalSync = (done) => {
    try {
      if (free === null) {
        for (let i = 0; i < slots; i++) opened.push(openSync(`${dbPath}-wal`, 'r'))
        free = [...opened]
      }
    } catch (err) {
      for (const fd of opened) closeSync(fd)
      opened = []
      // Nothing was synced, and nothing the page cache holds was dropped: the next sync may succeed.
      done(Object.assign(err as Error, { transient: true }))
      return
    }
    const fd = free.pop()
    if (fd === undefined) throw new Error(`walSyncer: more than ${slots} syncs at once`)
    fdatasync(fd, (err) => {
      free?.push(fd)
      done(err)
    })
  }
  return Object.assign(sync, {
    slots,
    close() {
      for (const fd of opened) closeSync(fd)
      opened = []
      free = null
    },
  })
}
