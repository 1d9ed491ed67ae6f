// Started by startModuleWorker in the module-worker tests: reports the nice value of the thread it
// runs on, as the kernel sees it.
import { parentPort } from 'node:worker_threads'
import { niceOf } from './thread-nice.js'

parentPort?.postMessage(niceOf('/proc/thread-self/stat'))
