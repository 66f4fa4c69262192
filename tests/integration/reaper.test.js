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

async function metric(d, name) {
  const text = await (await fetch(`${d.url}/metrics`)).text()
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'))
  return m ? Number(m[1]) : NaN
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

describe('reaper races and fleets', () => {
  const ddb = ddbLib.client()

  it('sessions rewritten through the API during a pass are never deleted', { timeout: 60000 }, async () => {
    const d = await startDaemon({ reaper: { enabled: true, interval: 1, max_deletes_per_second: 5, segments: 1 } })
    try {
      const t = now()
      const ids = Array.from({ length: 30 }, (_, i) => `race-${i}`)
      for (const id of ids) await ddb.putItem(d.table, ddbLib.sessionItem(id, { expires: t - 5, version: 1 }))
      // Once the slow pass has seen them (its first delete is done), rewrite
      // every one with a fresh ttl through the API.
      await eventually(async () => (await metric(d, 'sessiond_reaper_deleted_total')) >= 1, 20000, 'the pass started deleting')
      for (const id of ids) {
        const r = await fetch(`${d.url}/v1/sessions/${id}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ data: { kept: id }, ttl: 600 }),
        })
        assert.ok(r.status === 200 || r.status === 201, `PUT ${id}: ${r.status}`)
      }
      // Let the pass finish what it had queued, then check every session.
      await eventually(async () => (await metric(d, 'sessiond_reaper_passes_total')) >= 2, 30000, 'a later pass completed')
      for (const id of ids) {
        const r = await fetch(`${d.url}/v1/sessions/${id}`)
        assert.equal(r.status, 200, `${id} survived`)
        assert.deepEqual((await r.json()).data, { kept: id })
      }
      assert.ok((await metric(d, 'sessiond_reaper_conflicts_total')) >= 1, 'some deletes lost their condition')
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })

  it('two daemons on one table: one reaps at a time, the other takes over when it stops', { timeout: 60000 }, async () => {
    const a = await startDaemon({ reaper: { enabled: true, interval: 1, max_deletes_per_second: 0 } })
    let b
    try {
      b = await startDaemon({ dynamodb: { table: a.table }, reaper: { enabled: true, interval: 1, max_deletes_per_second: 0 } })
      const attempts = async (d) =>
        (await metric(d, 'sessiond_reaper_passes_total')) + (await metric(d, 'sessiond_reaper_skipped_passes_total'))
      await eventually(async () => (await attempts(a)) >= 3 && (await attempts(b)) >= 3, 20000, 'both daemons tried several passes')
      const passes = [await metric(a, 'sessiond_reaper_passes_total'), await metric(b, 'sessiond_reaper_passes_total')]
      const skips = [await metric(a, 'sessiond_reaper_skipped_passes_total'), await metric(b, 'sessiond_reaper_skipped_passes_total')]
      // The lease holder renews before it lapses: one daemon reaps, the other skips.
      assert.ok((passes[0] === 0) !== (passes[1] === 0), `exactly one reaps: passes ${passes}, skipped ${skips}`)
      const [holder, other] = passes[0] > 0 ? [a, b] : [b, a]
      assert.equal(await holder.stop(), 0)
      if (holder === b) b = undefined
      // The holder is gone; its lease lapses within two intervals.
      const t = now()
      await ddb.putItem(other.table, ddbLib.sessionItem('after-handover', { expires: t - 1, version: 1 }))
      await eventually(async () => !(await ddb.getItem(other.table, { id: { S: 'sess:after-handover' } })), 20000,
        'the other daemon reaps after the holder stopped')
      assert.ok((await metric(other, 'sessiond_reaper_passes_total')) >= 1)
    } finally {
      for (const d of [a, b]) if (d && !d.exited()) await d.stop().catch(() => {})
    }
  })
})
