import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ruleEngineRig, ruleReading } from '../../_support/rule-engine-rig.js'

const T0 = Date.parse('2026-11-27T12:00:00Z')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const motion = (deviceId: string, at: number, on = true) => ruleReading(deviceId, 'motion', { on }, at)

// A review found an inactivity rule firing although a reading had arrived before its deadline (it
// did not, as a replay shows), when the rules evaluated readings on the turn after their commit and
// a timer ran in between. They now evaluate inside the commit; a timer due right after it must
// still not pass the reading.
test('a reading that arrived before a deadline counts, even when it commits after it and the timer runs right after the commit', async () => {
  let now = T0
  const fired: number[] = []
  const rig = ruleEngineRig({
    devices: ['hall', 'kitchen'],
    rules: [
      {
        id: 'quiet',
        name: 'Quiet hall',
        when: { inactivity: { device: 'hall', for: '1s' } },
        actions: [{ alert: { severity: 'warning', title: 'Quiet' } }],
      },
    ],
    clock: { now: () => now },
    record: (_tx, batch) => {
      for (const r of batch.results) for (const e of r.effects) if (e.type === 'fire') fired.push(e.at)
      return []
    },
    // The rest of a busy turn (parsing more of a socket's chunk): the engine's timer comes due meanwhile.
    afterEngine: () => {
      const until = performance.now() + 5
      while (performance.now() < until);
    },
  })
  await rig.start()
  try {
    await rig.committer.submit({ reading: motion('hall', T0) })
    await sleep(50)
    now = T0 + 999
    await rig.committer.submit({ reading: motion('kitchen', now) }) // any evaluation re-arms the timer, 1 ms before the deadline
    await sleep(30)
    now = T0 + 1003
    await rig.committer.submit({ reading: motion('hall', T0 + 998) }) // arrived before the deadline, committed after it
    await sleep(50)
    assert.deepEqual(fired, [], 'the hall was not quiet for 1 s')
    now = T0 + 2100
    await rig.committer.submit({ reading: motion('kitchen', now) })
    await sleep(50)
    assert.deepEqual(fired, [T0 + 1998], 'and the rule does fire, 1 s after the last movement')
  } finally {
    await rig.stop()
  }
})

test('while recording fails, new readings do not restart the catch-up at once: it waits for its retry', async () => {
  let attempts = 0
  const rig = ruleEngineRig({
    devices: ['hall'],
    rules: [
      {
        id: 'moved',
        name: 'Moved',
        when: { change: { device: 'hall', measurement: 'motion', field: 'on', to: true } },
        actions: [{ alert: { severity: 'info', title: 'Moved' } }],
      },
    ],
    record: () => {
      attempts++
      throw new Error('disk I/O error')
    },
  })
  await rig.start()
  try {
    await rig.committer.submit({ reading: motion('hall', Date.now(), false) })
    for (let i = 0; i < 40; i++) {
      await rig.committer.submit({ reading: motion('hall', Date.now(), i % 2 === 0) })
      await sleep(5)
    }
    // 40 commits in ~300 ms, each a gap for an engine that fell back: one attempt, then the 1 s retry.
    assert.ok(attempts >= 1 && attempts <= 2, `recording attempted ${attempts} times`)
  } finally {
    await rig.stop()
  }
})
