'use strict'
// Issue 15: sliding reads (GET /v1/sessions/{id}?touch=1[&ttl=N]) and touch
// throttling (session.touch_after), end to end. Each daemon talks to dynalite
// through lib/faultproxy.js with no fault set, only to count the DynamoDB
// calls each request makes (session ids carry the proxy's cell tag
// "fc<n>x"); the stored item is then read from dynalite directly, so "no
// write" is checked both by the calls made and by the item (expires and
// version unchanged).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon, request, ddbEndpoint } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')
const { startFaultProxy } = require('./lib/faultproxy')

let cellSeq = 0
const newId = (what) => `touch-${what}-fc${++cellSeq}x`
const cellOf = (id) => /fc\d+x/.exec(id)[0]
const now = () => Math.floor(Date.now() / 1000)

// The DynamoDB calls of one cell made while fn ran: { GetItem: 1, ... }.
async function callsDuring(proxy, id, fn) {
  const before = proxy.counts(cellOf(id))
  const r = await fn()
  const after = proxy.counts(cellOf(id))
  const delta = {}
  for (const [op, n] of Object.entries(after)) if (n - (before[op] || 0)) delta[op] = n - (before[op] || 0)
  return { r, calls: delta }
}

async function setup(touchAfter) {
  const proxy = await startFaultProxy(ddbEndpoint())
  const d = await startDaemon({
    dynamodb: { endpoint: proxy.url },
    session: { touch_after: touchAfter },
    log: { level: 'info' },
  })
  const ddb = ddbLib.client()
  const stored = async (id) => {
    const r = await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + id } }, ConsistentRead: true })
    return r.Item
  }
  const put = async (id, ttl, data = { n: 1 }) => {
    const r = await request(d.url, 'PUT', `/v1/sessions/${id}`, { json: { data, ttl } })
    assert.equal(r.status, 201, r.text)
    return r.json
  }
  const expired = async (id) => {
    await ddb.call('PutItem', { TableName: d.table, Item: ddbLib.sessionItem(id, { data: { old: true }, expires: now() - 5, version: 3 }) })
  }
  return { proxy, d, stored, put, expired }
}

describe('touch_after = 0 (v1 touch, sliding reads write)', () => {
  let t
  before(async () => {
    t = await setup(0)
  })
  after(async () => {
    await t.d.stop()
    await t.proxy.close()
  })

  it('the touch endpoint is one conditional UpdateItem, no read, Sessiond-Touch: written', async () => {
    const id = newId('t0')
    await t.put(id, 100)
    const { r, calls } = await callsDuring(t.proxy, id, () =>
      request(t.d.url, 'POST', `/v1/sessions/${id}/touch`, { json: { ttl: 1000 } })
    )
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'written')
    assert.deepEqual(calls, { UpdateItem: 1 })
    assert.ok(Math.abs(r.json.expires - (now() + 1000)) <= 2)
    assert.equal(r.json.version, 1)
    assert.equal((await t.stored(id)).expires.N, String(r.json.expires))
  })

  it('GET ?touch=1 reads and extends in one UpdateItem, same version and data', async () => {
    const id = newId('g0')
    await t.put(id, 100, { cart: [1, 2] })
    const { r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?touch=1&ttl=5000`))
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'written')
    assert.equal(r.headers.get('etag'), '"1"')
    assert.deepEqual(calls, { UpdateItem: 1 })
    assert.deepEqual(r.json.data, { cart: [1, 2] })
    assert.equal(r.json.version, 1)
    assert.ok(Math.abs(r.json.expires - (now() + 5000)) <= 2)
    const item = await t.stored(id)
    assert.equal(item.expires.N, String(r.json.expires))
    assert.equal(item.version.N, '1')
    // Without ttl: session.default_ttl (one day).
    const r2 = await request(t.d.url, 'GET', `/v1/sessions/${id}?touch=1`)
    assert.equal(r2.status, 200)
    assert.ok(Math.abs(r2.json.expires - (now() + 86400)) <= 2)
    // HEAD is as GET: the same touch, no body.
    const h = await request(t.d.url, 'HEAD', `/v1/sessions/${id}?touch=1&ttl=7000`)
    assert.equal(h.status, 200)
    assert.equal(h.headers.get('sessiond-touch'), 'written')
    assert.ok(Math.abs(Number((await t.stored(id)).expires.N) - (now() + 7000)) <= 2)
  })

  it('a plain GET has no Sessiond-Touch header and makes one GetItem', async () => {
    const id = newId('p0')
    await t.put(id, 100)
    const { r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?other=1`))
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('sessiond-touch'), null)
    assert.deepEqual(calls, { GetItem: 1 })
  })

  it('bad touch and ttl parameters are 400 before any DynamoDB call', async () => {
    const id = newId('b0')
    await t.put(id, 100)
    for (const q of ['touch=0', 'touch=true', 'touch', 'touch=', 'touch=1&touch=1', 'ttl=60', 'touch=1&ttl=0',
      'touch=1&ttl=abc', 'touch=1&ttl=99999999999', 'touch=1&ttl=-5', 'touch=1&ttl=60&ttl=61']) {
      const { r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?${q}`))
      assert.equal(r.status, 400, `${q}: ${r.text}`)
      assert.equal(r.headers.get('content-type'), 'application/problem+json')
      assert.deepEqual(calls, {}, q)
    }
  })

  it('an expired or absent session is 404 and nothing is written', async () => {
    const id = newId('e0')
    await t.expired(id)
    const before = await t.stored(id)
    const g = await request(t.d.url, 'GET', `/v1/sessions/${id}?touch=1&ttl=100`)
    assert.equal(g.status, 404)
    const p = await request(t.d.url, 'POST', `/v1/sessions/${id}/touch`)
    assert.equal(p.status, 404)
    assert.deepEqual(await t.stored(id), before)
    const absent = newId('a0')
    assert.equal((await request(t.d.url, 'GET', `/v1/sessions/${absent}?touch=1`)).status, 404)
    assert.equal(await t.stored(absent), undefined)
  })
})

describe('touch_after = 60 (throttled)', () => {
  let t
  before(async () => {
    t = await setup(60)
  })
  after(async () => {
    await t.d.stop()
    await t.proxy.close()
  })

  it('a touch that moves expires by 60 s or less reads once and writes nothing', async () => {
    const id = newId('t60')
    const created = await t.put(id, 1000)
    const before = await t.stored(id)
    const { r, calls } = await callsDuring(t.proxy, id, () =>
      request(t.d.url, 'POST', `/v1/sessions/${id}/touch`, { json: { ttl: 1030 } })
    )
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'skipped')
    assert.deepEqual(calls, { GetItem: 1 })
    assert.deepEqual(r.json, { id, expires: created.expires, version: 1 })
    assert.deepEqual(await t.stored(id), before)
  })

  it('a touch that moves it further writes (one read, one write)', async () => {
    const id = newId('w60')
    await t.put(id, 1000)
    const { r, calls } = await callsDuring(t.proxy, id, () =>
      request(t.d.url, 'POST', `/v1/sessions/${id}/touch`, { json: { ttl: 2000 } })
    )
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'written')
    assert.deepEqual(calls, { GetItem: 1, UpdateItem: 1 })
    assert.ok(Math.abs(r.json.expires - (now() + 2000)) <= 2)
    assert.equal(r.json.version, 1)
    assert.equal((await t.stored(id)).expires.N, String(r.json.expires))
  })

  it('sliding reads: skipped costs only the read, written adds one UpdateItem', async () => {
    const id = newId('g60')
    const created = await t.put(id, 1000, { user: 'ann' })
    const before = await t.stored(id)
    let { r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?touch=1&ttl=1000`))
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'skipped')
    assert.deepEqual(calls, { GetItem: 1 })
    assert.deepEqual(r.json, { id, data: { user: 'ann' }, expires: created.expires, version: 1 })
    assert.deepEqual(await t.stored(id), before)
    ;({ r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?ttl=3000&touch=1`)))
    assert.equal(r.status, 200, r.text)
    assert.equal(r.headers.get('sessiond-touch'), 'written')
    assert.deepEqual(calls, { GetItem: 1, UpdateItem: 1 })
    assert.deepEqual(r.json.data, { user: 'ann' })
    assert.equal(r.json.version, 1)
    assert.ok(Math.abs(r.json.expires - (now() + 3000)) <= 2)
    const item = await t.stored(id)
    assert.equal(item.expires.N, String(r.json.expires))
    assert.equal(item.version.N, '1')
  })

  it('expired or absent: 404, never a write', async () => {
    const id = newId('e60')
    await t.expired(id)
    const before = await t.stored(id)
    let { r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'GET', `/v1/sessions/${id}?touch=1`))
    assert.equal(r.status, 404)
    assert.deepEqual(calls, { GetItem: 1 })
    ;({ r, calls } = await callsDuring(t.proxy, id, () => request(t.d.url, 'POST', `/v1/sessions/${id}/touch`)))
    assert.equal(r.status, 404)
    // The eventually consistent read missed, so it asked again consistently.
    assert.deepEqual(calls, { GetItem: 2 })
    assert.deepEqual(await t.stored(id), before)
    const absent = newId('a60')
    ;({ r, calls } = await callsDuring(t.proxy, absent, () => request(t.d.url, 'POST', `/v1/sessions/${absent}/touch`)))
    assert.equal(r.status, 404)
    assert.equal(calls.UpdateItem, undefined)
    assert.equal(await t.stored(absent), undefined)
  })

  it('/metrics counts written and skipped touches', async () => {
    const m = await request(t.d.url, 'GET', '/metrics')
    const skipped = Number(/^sessiond_touches_total\{result="skipped"\} (\d+)$/m.exec(m.text)[1])
    const written = Number(/^sessiond_touches_total\{result="written"\} (\d+)$/m.exec(m.text)[1])
    assert.ok(skipped >= 1 && written >= 1, m.text)
  })
})

describe('sliding reads of encrypted sessions (encryption.keys)', () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const crypto = require('node:crypto')
  let dir
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-touch-enc-'))
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  for (const touchAfter of [0, 60]) {
    it(`touch_after = ${touchAfter}: the answer holds the plain data, the item stays sealed`, { timeout: 30000 }, async () => {
      const key = path.join(dir, `k${touchAfter}.key`)
      fs.writeFileSync(key, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
      const d = await startDaemon({ session: { touch_after: touchAfter }, encryption: { keys: [`k1:${key}`] }, log: { level: 'info' } })
      try {
        const ddb = ddbLib.client()
        const id = newId('enc')
        assert.equal((await request(d.url, 'PUT', `/v1/sessions/${id}`, { json: { data: { secret: 's3' }, ttl: 1000 } })).status, 201)
        const sealed = (await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + id } }, ConsistentRead: true })).Item.sess.S
        for (const ttl of [1000, 5000]) {
          const r = await request(d.url, 'GET', `/v1/sessions/${id}?touch=1&ttl=${ttl}`)
          assert.equal(r.status, 200, r.text)
          assert.deepEqual(r.json.data, { secret: 's3' })
          assert.equal(r.headers.get('sessiond-touch'), touchAfter && ttl === 1000 ? 'skipped' : 'written')
        }
        const item = (await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + id } }, ConsistentRead: true })).Item
        assert.equal(item.sess.S, sealed, 'the touch wrote only expires')
        assert.ok(Math.abs(Number(item.expires.N) - (now() + 5000)) <= 2)
      } finally {
        assert.equal(await d.stop(), 0)
      }
    })
  }
})
