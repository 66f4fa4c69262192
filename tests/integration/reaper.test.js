'use strict'
// The reaper inside the running daemon: with a short interval, expired
// sessions (also connect-dynamodb's fractional ones) disappear from the
// table while live ones and other applications' items stay, the metrics
// count them, and SIGTERM still stops the daemon with exit 0.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const now = () => Math.floor(Date.now() / 1000)

// Polls check() until it returns true or the deadline passes.
async function eventually(check, ms, what) {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('reaper in the daemon', () => {
  let d
  const ddb = ddbLib.client()
  before(async () => {
    d = await startDaemon({ reaper: { enabled: true, interval: 1, max_deletes_per_second: 0, segments: 2 } })
  })
  after(async () => { if (d) assert.equal(await d.stop(), 0) })

  it('deletes expired sessions only', { timeout: 30000 }, async () => {
    const t = now()
    await ddb.putItem(d.table, ddbLib.sessionItem('old', { expires: t - 5, version: 2 }))
    await ddb.putItem(d.table, ddbLib.sessionItem('node-old', { data: { cookie: {} }, expires: `${t - 5}.25` }))
    await ddb.putItem(d.table, ddbLib.sessionItem('live', { expires: t + 3600, version: 1 }))
    await ddb.putItem(d.table, { id: { S: 'other-app:1' }, expires: { N: String(t - 5) } })
    await eventually(async () => {
      const old = await ddb.getItem(d.table, { id: { S: 'sess:old' } })
      const nodeOld = await ddb.getItem(d.table, { id: { S: 'sess:node-old' } })
      return !old && !nodeOld
    }, 15000, 'expired sessions reaped')
    assert.ok(await ddb.getItem(d.table, { id: { S: 'sess:live' } }), 'the live session stays')
    assert.ok(await ddb.getItem(d.table, { id: { S: 'other-app:1' } }), 'another app\'s item stays')
    const metrics = await (await fetch(`${d.url}/metrics`)).text()
    const deleted = Number((metrics.match(/^sessiond_reaper_deleted_total (\d+)$/m) || [])[1])
    assert.ok(deleted >= 2, `sessiond_reaper_deleted_total counts them:\n${metrics}`)
  })
})
