'use strict'
// End-to-end tests of POST /v1/sessions/{id}/regenerate (docs/api.md,
// "Regenerate"): a new id with the same data and owner, the old id 404 at
// once, no write to the old id silently lost, and no orphan items, against
// dynalite. The daemon uses the same portable sequence on every engine (no
// TransactWriteItems, which dynalite lacks), so there is one path to test.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon, request, describeExchange } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 120000 }
const ex = describeExchange
const now = () => Math.floor(Date.now() / 1000)
const ID_RE = /^[A-Za-z0-9_-]{32}$/
const MP = 'application/merge-patch+json'

function assertProblem(r, status) {
  assert.equal(r.status, status, ex(r))
  assert.match(r.headers.get('content-type') || '', /^application\/problem\+json\b/i, ex(r))
}

async function scanAll(ddb, table) {
  const items = []
  let start
  do {
    const r = await ddb.call('Scan', { TableName: table, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) })
    items.push(...(r.Items || []))
    start = r.LastEvaluatedKey
  } while (start)
  return items.filter((i) => i.id && i.id.S.startsWith('sess:'))
}

describe('regenerate', () => {
  let d
  let ddb
  before(async () => {
    d = await startDaemon({ users: { index: 'by-user' } })
    ddb = ddbLib.client()
  })
  after(async () => {
    if (d) await d.stop()
  })

  it('moves the session to a new id: 201, Location, ETag "1", same data and user; the old id is 404 at once', T, async () => {
    let r = await request(d.url, 'POST', '/v1/sessions', { json: { data: { cart: [1, 2], n: { deep: true } }, user: 'alice', ttl: 3600 } })
    const old = r.json
    r = await request(d.url, 'PATCH', `/v1/sessions/${old.id}`, { json: { x: 1 }, type: MP })
    assert.equal(r.json.version, 2)
    r = await request(d.url, 'POST', `/v1/sessions/${old.id}/regenerate`)
    assert.equal(r.status, 201, ex(r))
    const fresh = r.json
    assert.match(fresh.id, ID_RE)
    assert.notEqual(fresh.id, old.id)
    assert.equal(r.headers.get('location'), `/v1/sessions/${fresh.id}`)
    assert.equal(r.headers.get('etag'), '"1"')
    assert.deepEqual(fresh, { id: fresh.id, data: { cart: [1, 2], n: { deep: true }, x: 1 }, expires: old.expires, version: 1, user: 'alice' })
    // The old id is gone for every method, at once.
    assertProblem(await request(d.url, 'GET', `/v1/sessions/${old.id}`), 404)
    assertProblem(await request(d.url, 'PATCH', `/v1/sessions/${old.id}`, { json: { y: 1 }, type: MP }), 404)
    assertProblem(await request(d.url, 'POST', `/v1/sessions/${old.id}/touch`), 404)
    assertProblem(await request(d.url, 'POST', `/v1/sessions/${old.id}/regenerate`), 404)
    r = await request(d.url, 'GET', `/v1/sessions/${fresh.id}`)
    assert.deepEqual(r.json, fresh, ex(r))
    const listed = await request(d.url, 'GET', '/v1/users/alice/sessions')
    assert.ok(listed.json.sessions.some((s) => s.id === fresh.id) && !listed.json.sessions.some((s) => s.id === old.id), ex(listed))
  })

  it('takes an optional ttl; else keeps expires; refuses a bad body', T, async () => {
    let r = await request(d.url, 'POST', '/v1/sessions', { json: { data: {}, ttl: 100 } })
    const id = r.json.id
    const t0 = now()
    r = await request(d.url, 'POST', `/v1/sessions/${id}/regenerate`, { json: { ttl: 5000 } })
    assert.equal(r.status, 201, ex(r))
    assert.ok(r.json.expires >= t0 + 5000 && r.json.expires <= now() + 5001, ex(r))
    assert.equal(r.json.user, undefined)
    for (const body of [{ ttl: 0 }, { ttl: 'x' }, { data: {} }, { user: 'x' }, { ttl: 1, expires: now() + 5 }, [1]]) {
      assertProblem(await request(d.url, 'POST', `/v1/sessions/${r.json.id}/regenerate`, { json: body }), 400)
    }
    assertProblem(await request(d.url, 'POST', `/v1/sessions/${r.json.id}/regenerate`, { body: '{"ttl":5}', type: 'text/plain' }), 415)
  })

  it('is 404 for an absent or expired session, and reads connect-dynamodb items', T, async () => {
    assertProblem(await request(d.url, 'POST', '/v1/sessions/never-was/regenerate'), 404)
    await ddb.call('PutItem', { TableName: d.table, Item: ddbLib.sessionItem('expired-r', { data: { a: 1 }, expires: now() - 1 }) })
    assertProblem(await request(d.url, 'POST', '/v1/sessions/expired-r/regenerate'), 404)
    // connect-dynamodb wrote it: no version attribute (version 0).
    await ddb.call('PutItem', { TableName: d.table, Item: ddbLib.sessionItem('cdb-r', { data: { cookie: {} }, expires: now() + 600 }) })
    const r = await request(d.url, 'POST', '/v1/sessions/cdb-r/regenerate')
    assert.equal(r.status, 201, ex(r))
    assert.deepEqual(r.json.data, { cookie: {} })
    assertProblem(await request(d.url, 'GET', '/v1/sessions/cdb-r'), 404)
  })

  it('under 20 concurrent PATCHes of the old id: every 2xx change is in the new session, every 404/409 change nowhere; no orphans', T, async (t) => {
    const rounds = 5
    let conflicts = 0
    for (let round = 0; round < rounds; round++) {
      const own = await startDaemon({ users: { index: 'by-user' } })
      try {
        let r = await request(own.url, 'POST', '/v1/sessions', { json: { data: { base: true }, user: 'racer' } })
        const old = r.json
        const patches = Array.from({ length: 20 }, (_, i) =>
          (async () => {
            // Spread the PATCHes around the regenerate.
            await new Promise((res) => setTimeout(res, i * 4))
            const p = await request(own.url, 'PATCH', `/v1/sessions/${old.id}`, { json: { [`k${i}`]: i }, type: MP })
            return { i, status: p.status, r: p }
          })()
        )
        const regen = (async () => {
          await new Promise((res) => setTimeout(res, 8))
          return request(own.url, 'POST', `/v1/sessions/${old.id}/regenerate`)
        })()
        const results = await Promise.all(patches)
        r = await regen
        assert.equal(r.status, 201, ex(r))
        const fresh = await request(own.url, 'GET', `/v1/sessions/${r.json.id}`)
        assert.equal(fresh.status, 200, ex(fresh))
        for (const { i, status, r: p } of results) {
          if (status === 200) assert.equal(fresh.json.data[`k${i}`], i, `PATCH ${i} answered 200: its change is in the new session (${ex(p)})`)
          else {
            assert.ok(status === 404 || status === 409, ex(p))
            assert.equal(fresh.json.data[`k${i}`], undefined, `PATCH ${i} answered ${status}: its change is nowhere`)
          }
        }
        // The old id is gone and only the new item is left: no orphan.
        assertProblem(await request(own.url, 'GET', `/v1/sessions/${old.id}`), 404)
        const items = await scanAll(ddb, own.table)
        assert.deepEqual(items.map((i) => i.id.S), ['sess:' + r.json.id], 'exactly one item left')
        assert.equal(fresh.json.user, 'racer')
        const m = await request(own.url, 'GET', '/metrics')
        const c = /^sessiond_regenerate_conflicts_total (\d+)$/m.exec(m.text)
        assert.ok(c, 'the conflicts counter is exported')
        conflicts += Number(c[1])
        t.diagnostic(`round ${round}: ${results.filter((x) => x.status === 200).length} PATCHes 200, ${results.filter((x) => x.status === 404).length} 404, ${results.filter((x) => x.status === 409).length} 409; regenerate conflicts ${c[1]}`)
      } finally {
        await own.stop()
      }
    }
    t.diagnostic(`regenerate rounds started over in all: ${conflicts}`)
  })

  it('two regenerates of one id: one 201, the other 404 (or 409); one item left', T, async () => {
    const own = await startDaemon()
    try {
      const r = await request(own.url, 'POST', '/v1/sessions', { json: { data: { a: 1 } } })
      const answers = await Promise.all(Array.from({ length: 4 }, () => request(own.url, 'POST', `/v1/sessions/${r.json.id}/regenerate`)))
      const ok = answers.filter((a) => a.status === 201)
      assert.equal(ok.length, 1, answers.map(ex).join('\n'))
      for (const a of answers) assert.ok([201, 404, 409].includes(a.status), ex(a))
      const items = await scanAll(ddb, own.table)
      assert.deepEqual(items.map((i) => i.id.S), ['sess:' + ok[0].json.id])
    } finally {
      await own.stop()
    }
  })
})

describe('regenerate with encryption at rest', () => {
  it('opens the old item and seals the new one under its own id', T, async () => {
    const fs = require('node:fs')
    const os = require('node:os')
    const path = require('node:path')
    const crypto = require('node:crypto')
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-regen-key-'))
    const key = path.join(dir, 'k1.key')
    fs.writeFileSync(key, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
    fs.chmodSync(key, 0o600)
    const d = await startDaemon({ encryption: { keys: [`k1:${key}`] }, users: { index: 'by-user' } })
    try {
      const ddb = ddbLib.client()
      let r = await request(d.url, 'POST', '/v1/sessions', { json: { data: { secret: 'x' }, user: 'enc' } })
      const old = r.json
      r = await request(d.url, 'POST', `/v1/sessions/${old.id}/regenerate`)
      assert.equal(r.status, 201, ex(r))
      assert.deepEqual(r.json.data, { secret: 'x' })
      assert.equal(r.json.user, 'enc')
      const item = await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + r.json.id } }, ConsistentRead: true })
      assert.match(item.Item.sess.S, /^sessiond:enc:1:k1:/, 'sealed')
      assert.deepEqual(item.Item.uid, { S: 'enc' })
      r = await request(d.url, 'GET', `/v1/sessions/${r.json.id}`)
      assert.deepEqual(r.json.data, { secret: 'x' }, ex(r))
    } finally {
      await d.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
