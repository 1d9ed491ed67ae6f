import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { clientIdProblem, maySubscribe, printable, publishTopic } from '../../../gateway/src/broker/identity.js'

const CN = 'dev_a'

describe('identity: clientIdProblem', () => {
  test('the CN itself is accepted, with or without clean session', () => {
    assert.equal(clientIdProblem(CN, CN, true), null)
    assert.equal(clientIdProblem(CN, CN, false), null)
  })

  test('CN:suffix is accepted for suffixes of [A-Za-z0-9_-]{1,32}, with clean session', () => {
    for (const suffix of ['diag', 'Sub-1', 'x', '_', 'a'.repeat(32)]) assert.equal(clientIdProblem(CN, `${CN}:${suffix}`, true), null, suffix)
  })

  test('only the plain CN may keep a persistent session (no unbounded stored sessions per device)', () => {
    assert.match(String(clientIdProblem(CN, `${CN}:diag`, false)), /only "dev_a" may keep a persistent session/)
  })

  test('a bad or too long suffix is refused, naming the CN and the expected forms', () => {
    for (const suffix of ['', 'a'.repeat(33), 'a b', 'a:b', 'a/b', 'a.b', 'é', '#', '+']) {
      const problem = clientIdProblem(CN, `${CN}:${suffix}`, true)
      assert.ok(problem !== null, `suffix "${suffix}" should be refused`)
      assert.match(problem, /certificate CN "dev_a"/)
      assert.match(problem, /use "dev_a" or "dev_a:<suffix>"/)
    }
  })

  test("another device's id, a prefix trick or a case change is refused", () => {
    for (const id of ['dev_b', 'dev_b:diag', 'dev_a2', 'dev_ab:x', 'dev_', 'DEV_A', ' dev_a', 'dev_a ', 'x:dev_a']) {
      assert.notEqual(clientIdProblem(CN, id, true), null, id)
    }
    // The suffix rule is anchored on the CN plus ':', so a shorter CN never matches a longer device.
    assert.notEqual(clientIdProblem('dev', 'dev_a', true), null)
    assert.equal(clientIdProblem('dev_a2', 'dev_a2', true), null)
  })

  test('an empty client id needs clean session', () => {
    assert.equal(clientIdProblem(CN, '', true), null)
    assert.match(clientIdProblem(CN, '', false) ?? '', /clean session/)
  })

  test('the refused client id is shown printable', () => {
    const problem = clientIdProblem(CN, 'evil\nid\u0000', true)
    assert.ok(problem?.includes('"evil?id?"'), problem ?? 'null')
  })
})

describe('identity: publishTopic', () => {
  test('care/{cn}/{measurement} is a reading, care/{cn}/status is the status', () => {
    assert.deepEqual(publishTopic(CN, 'care/dev_a/climate'), { kind: 'reading', measurement: 'climate' })
    assert.deepEqual(publishTopic(CN, 'care/dev_a/water_leak2'), { kind: 'reading', measurement: 'water_leak2' })
    assert.deepEqual(publishTopic(CN, `care/dev_a/${'m'.repeat(64)}`), { kind: 'reading', measurement: 'm'.repeat(64) })
    assert.deepEqual(publishTopic(CN, 'care/dev_a/status'), { kind: 'status' })
  })

  test('cmd is written by the box only', () => {
    assert.equal(publishTopic(CN, 'care/dev_a/cmd'), null)
    assert.equal(publishTopic(CN, 'care/dev_a/cmd/reboot'), null)
  })

  test('care/{cn}/cmd/{capability}/result is the device answering a command', () => {
    assert.deepEqual(publishTopic(CN, 'care/dev_a/cmd/reboot/result'), { kind: 'command-result', capability: 'reboot' })
    assert.deepEqual(publishTopic(CN, 'care/dev_a/cmd/light.set-level/result'), { kind: 'command-result', capability: 'light.set-level' })
    for (const topic of [
      'care/dev_b/cmd/reboot/result',
      'care/dev_a/cmd/+/result',
      'care/dev_a/cmd/#/result',
      'care/dev_a/cmd//result',
      'care/dev_a/cmd/Reboot/result',
      'care/dev_a/cmd/reboot/results',
      'care/dev_a/cmd/reboot/result/x',
      'care/dev_a/cmd/result',
      `care/dev_a/cmd/${'r'.repeat(65)}/result`,
    ]) {
      assert.equal(publishTopic(CN, topic), null, topic)
    }
  })

  test("another device's topics and prefix tricks are refused", () => {
    for (const topic of ['care/dev_b/climate', 'care/dev_b/status', 'care/dev_a2/climate', 'care/dev/climate', 'care/DEV_A/climate']) {
      assert.equal(publishTopic(CN, topic), null, topic)
    }
  })

  test('extra or missing levels, a wrong root and empty levels are refused', () => {
    for (const topic of [
      'care/dev_a/climate/extra',
      'care/dev_a/status/x',
      'care/dev_a',
      'care/dev_a/',
      'care//climate',
      '/care/dev_a/climate',
      'care/dev_a/climate/',
      'Care/dev_a/climate',
      'home/dev_a/climate',
      'care/dev_a//climate',
    ]) {
      assert.equal(publishTopic(CN, topic), null, topic)
    }
  })

  test("wildcards '+' and '#' are refused in every level", () => {
    for (const topic of ['care/dev_a/+', 'care/dev_a/#', 'care/+/climate', 'care/#', '+/dev_a/climate', '#', 'care/dev_a/clim+te', 'care/dev_a/c#']) {
      assert.equal(publishTopic(CN, topic), null, topic)
    }
  })

  test('a measurement must be lowercase, start with a letter and be at most 64 characters', () => {
    for (const leaf of ['Climate', 'CLIMATE', '1climate', '_climate', 'clim-ate', 'clim.ate', 'climaté', 'm'.repeat(65)]) {
      assert.equal(publishTopic(CN, `care/dev_a/${leaf}`), null, leaf)
    }
  })
})

describe('identity: maySubscribe', () => {
  test("the device's own cmd topic, cmd/# and levels below are allowed", () => {
    for (const filter of [
      'care/dev_a/cmd',
      'care/dev_a/cmd/#',
      'care/dev_a/cmd/reboot',
      'care/dev_a/cmd/+',
      'care/dev_a/cmd/+/x',
      'care/dev_a/cmd/a/+/#',
    ]) {
      assert.equal(maySubscribe(CN, filter), true, filter)
    }
  })

  test("'#' anywhere but the last level, empty or odd levels are refused", () => {
    for (const filter of [
      'care/dev_a/cmd/#/x',
      'care/dev_a/cmd/#/#',
      'care/dev_a/cmd/',
      'care/dev_a/cmd//x',
      'care/dev_a/cmd/a b',
      'care/dev_a/cmd/x#',
    ]) {
      assert.equal(maySubscribe(CN, filter), false, filter)
    }
  })

  test("another device's cmd, readings, status and broad wildcards are refused", () => {
    for (const filter of [
      'care/dev_b/cmd',
      'care/dev_b/cmd/#',
      'care/dev_a2/cmd/#',
      'care/+/cmd/#',
      'care/dev_a/+',
      'care/dev_a/#',
      'care/dev_a/climate',
      'care/dev_a/status',
      'care/dev_a/cmdx',
      'care/#',
      '#',
      '+/+/+',
      '$SYS/#',
    ]) {
      assert.equal(maySubscribe(CN, filter), false, filter)
    }
  })
})

describe('identity: printable', () => {
  test('control characters, DEL and U+FFFD become ?', () => {
    assert.equal(printable('a\u0000b\nc\td\u001be\u007ff\ufffdg'), 'a?b?c?d?e?f?g')
    assert.equal(printable(Buffer.from([0x61, 0xff, 0x62]).toString('utf8')), 'a?b')
  })

  test('ordinary text, including non-ASCII letters, is kept', () => {
    assert.equal(printable('Küche: 21 °C'), 'Küche: 21 °C')
  })

  test('long strings are cut at max and marked with an ellipsis', () => {
    assert.equal(printable('x'.repeat(80)), 'x'.repeat(80))
    assert.equal(printable('x'.repeat(81)), `${'x'.repeat(80)}…`)
    assert.equal(printable('abcdef', 3), 'abc…')
    assert.equal(printable(`${'\n'.repeat(100)}`, 5), '?????…')
  })
})
