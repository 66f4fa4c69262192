'use strict'
// End-to-end tests of the sessions of a user (docs/api.md, "Sessions of a
// user"): the owner in POST/PUT, the users' index at start-up, GET and
// DELETE /v1/users/{uid}/sessions, against dynalite (whose index is
// consistent at once; DynamoDB's is not, see docs/api.md).

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')

const { startDaemon, runDaemon, request, describeExchange, uniqueTable } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 120000 }
const ex = describeExchange
const now = () => Math.floor(Date.now() / 1000)
const INDEX = 'sessions-by-user'

// Runs fn over items with at most n at once; resolves with the results.
// dynalite keys an index entry by the index's keys (here owner and
// expires) and only the first 6 hex digits of an MD5 of the item's own key
// (node_modules/dynalite/db/index.js, hashPrefix), so two sessions of one
// owner with the same expires collide one time in 2^24, and the later
// entry replaces the earlier: among 1,000 such sessions, a run in about 30
// loses one from the index (a revoke then deletes 999). DynamoDB keeps
// every entry. Tests that make hundreds of sessions for one owner give
// each its own ttl, DISTINCT_TTL + i seconds.
const DISTINCT_TTL = 3600

async function pool(items, n, fn) {
  const out = new Array(items.length)
  let next = 0
  async function worker() {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return out
}

function assertProblem(r, status) {
  assert.equal(r.status, status, ex(r))
  assert.match(r.headers.get('content-type') || '', /^application\/problem\+json\b/i, ex(r))
  assert.equal(r.json.status, status, ex(r))
}

// Every page of a user's sessions, following next.
async function listAll(d, uid, limit) {
  const pages = []
  let cursor = null
  for (let i = 0; i < 100; i++) {
    const q = `?limit=${limit}` + (cursor ? `&cursor=${cursor}` : '')
    const r = await request(d.url, 'GET', `/v1/users/${encodeURIComponent(uid)}/sessions${q}`)
    assert.equal(r.status, 200, ex(r))
    assert.deepEqual(Object.keys(r.json).sort(), ['next', 'sessions'], ex(r))
    pages.push(r.json.sessions)
    cursor = r.json.next
    if (cursor === null) return pages
    assert.match(cursor, /^[A-Za-z0-9_-]+$/, 'a cursor is base64url')
  }
  throw new Error('too many pages')
}

async function create(d, user, { ttl, data = {} } = {}) {
  const body = { data }
  if (user !== undefined) body.user = user
  if (ttl) body.ttl = ttl
  const r = await request(d.url, 'POST', '/v1/sessions', { json: body })
  assert.equal(r.status, 201, ex(r))
  return r.json
}

describe('sessions of a user', () => {
  let d
  let ddb
  before(async () => {
    d = await startDaemon({ users: { index: INDEX } })
    ddb = ddbLib.client()
  })
  after(async () => {
    if (d) await d.stop()
  })

  it('creates the table with the index (hash uid, range expires, keys only)', T, async () => {
    const t = await ddb.call('DescribeTable', { TableName: d.table })
    const gsi = (t.Table.GlobalSecondaryIndexes || []).find((g) => g.IndexName === INDEX)
    assert.ok(gsi, JSON.stringify(t.Table))
    assert.deepEqual(gsi.KeySchema, [
      { AttributeName: 'uid', KeyType: 'HASH' },
      { AttributeName: 'expires', KeyType: 'RANGE' },
    ])
    assert.equal(gsi.Projection.ProjectionType, 'KEYS_ONLY')
    assert.equal(gsi.IndexStatus, 'ACTIVE')
  })

  it('keeps the owner through POST, GET, PATCH, touch; PUT replaces it', T, async () => {
    const s = await create(d, 'alice@example.com', { data: { a: 1 } })
    assert.equal(s.user, 'alice@example.com')
    assert.equal(s.version, 1)
    const item = await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + s.id } }, ConsistentRead: true })
    assert.deepEqual(item.Item.uid, { S: 'alice@example.com' })
    let r = await request(d.url, 'GET', `/v1/sessions/${s.id}`)
    assert.equal(r.json.user, 'alice@example.com', ex(r))
    r = await request(d.url, 'PATCH', `/v1/sessions/${s.id}`, { json: { b: 2 }, type: 'application/merge-patch+json' })
    assert.equal(r.status, 200, ex(r))
    assert.equal(r.json.user, 'alice@example.com', ex(r))
    r = await request(d.url, 'POST', `/v1/sessions/${s.id}/touch`, { json: { ttl: 600 } })
    assert.equal(r.status, 200, ex(r))
    r = await request(d.url, 'GET', `/v1/sessions/${s.id}`)
    assert.equal(r.json.user, 'alice@example.com', ex(r))
    // PUT with another owner moves it; PUT without one makes it ownerless.
    r = await request(d.url, 'PUT', `/v1/sessions/${s.id}`, { json: { data: { c: 3 }, user: 'bob' } })
    assert.equal(r.status, 200, ex(r))
    assert.equal(r.json.user, 'bob', ex(r))
    r = await request(d.url, 'PUT', `/v1/sessions/${s.id}`, { json: { data: { c: 4 } } })
    assert.equal(r.status, 200, ex(r))
    assert.deepEqual(Object.keys(r.json).sort(), ['data', 'expires', 'id', 'version'], ex(r))
    const after = await ddb.call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + s.id } }, ConsistentRead: true })
    assert.equal(after.Item.uid, undefined, JSON.stringify(after.Item))
    // A PUT that creates, with If-None-Match and with If-Match, carries it too.
    const id = `put-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
    r = await request(d.url, 'PUT', `/v1/sessions/${id}`, { json: { data: {}, user: 'carol' }, headers: { 'If-None-Match': '*' } })
    assert.equal(r.status, 201, ex(r))
    assert.equal(r.json.user, 'carol', ex(r))
    r = await request(d.url, 'PUT', `/v1/sessions/${id}`, { json: { data: { x: 1 }, user: 'dave' }, headers: { 'If-Match': '"1"' } })
    assert.equal(r.status, 200, ex(r))
    assert.equal(r.json.user, 'dave', ex(r))
    const pages = await listAll(d, 'dave', 10)
    assert.deepEqual(pages.flat().map((x) => x.id), [id])
  })

  it('refuses a bad user with 400 and sends nothing to DynamoDB', T, async () => {
    const bad = ['', 'x'.repeat(257), 'a\u0001b', 'tab\there', 'del\u007f', 'c1\u0085', 'nul\u0000', 42, null, true, ['a'], { a: 1 }]
    let n = 0
    for (const user of bad) {
      for (const [method, path] of [['POST', '/v1/sessions'], ['PUT', `/v1/sessions/bad-user-${process.pid}`]]) {
        const rid = `baduser${process.pid}x${++n}`
        const r = await request(d.url, method, path, { json: { data: {}, user }, headers: { 'X-Request-Id': rid } })
        assertProblem(r, 400)
        assert.ok(await d.logged(new RegExp(`rid=${rid} .*ddb_attempts=0\\b`)), `nothing sent for ${JSON.stringify(user)}`)
      }
    }
    // user is not part of a touch.
    const s = await create(d, 'erin')
    const r = await request(d.url, 'POST', `/v1/sessions/${s.id}/touch`, { json: { user: 'x' } })
    assertProblem(r, 400)
    // The edges that are fine: 256 characters, multi-byte ones, spaces.
    for (const user of ['x'.repeat(256), 'ü'.repeat(256), '😀'.repeat(256), 'Jane Doe', '42']) {
      const ok = await create(d, user)
      assert.equal(ok.user, user)
      const pages = await listAll(d, user, 5)
      assert.ok(pages.flat().some((x) => x.id === ok.id), `listed under ${user.slice(0, 8)}…`)
    }
    // A path uid with a control character or too long: 400.
    for (const p of ['/v1/users/a%01b/sessions', `/v1/users/${'x'.repeat(257)}/sessions`, '/v1/users/%C2%85/sessions', '/v1/users/%FF/sessions']) {
      assertProblem(await request(d.url, 'GET', p), 400)
      assertProblem(await request(d.url, 'DELETE', p), 400)
    }
  })

  it('pages through 250 sessions with limit 100, soonest expiry first', T, async () => {
    const uid = `pager-${process.pid}`
    const made = await pool(Array.from({ length: 250 }, (_, i) => i), 16, (i) => create(d, uid, { ttl: 1000 + ((i * 7919) % 5000) }))
    // Expired sessions of the user never appear, whatever the reaper did.
    await ddb.call('PutItem', {
      TableName: d.table,
      Item: { id: { S: 'sess:expired-' + process.pid }, uid: { S: uid }, expires: { N: String(now() - 5) }, type: { S: 'connect-session' }, sess: { S: '{}' } },
    })
    const pages = await listAll(d, uid, 100)
    assert.ok(pages.length >= 3 && pages.length <= 4, `pages: ${pages.map((p) => p.length)}`)
    assert.deepEqual(pages.slice(0, 3).map((p) => p.length), [100, 100, 50])
    const all = pages.flat()
    assert.equal(all.length, 250)
    assert.deepEqual(new Set(all.map((x) => x.id)), new Set(made.map((s) => s.id)))
    for (const x of all) assert.deepEqual(Object.keys(x).sort(), ['expires', 'id'])
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].expires <= all[i].expires, 'soonest expiry first')
    const byId = new Map(made.map((s) => [s.id, s.expires]))
    for (const x of all) assert.equal(x.expires, byId.get(x.id))
    // Default limit 100; no sessions: [] and null.
    let r = await request(d.url, 'GET', `/v1/users/${uid}/sessions`)
    assert.equal(r.json.sessions.length, 100, ex(r))
    r = await request(d.url, 'GET', `/v1/users/nobody-${process.pid}/sessions`)
    assert.deepEqual(r.json, { sessions: [], next: null }, ex(r))
  })

  it('refuses a bad limit and every forged cursor with 400', T, async () => {
    const uid = `cursor-${process.pid}`
    await pool([1, 2, 3], 3, () => create(d, uid))
    for (const limit of ['0', '1001', '-1', 'abc', '1.5', '', '1e2', ' 5', '99999999999999999999']) {
      assertProblem(await request(d.url, 'GET', `/v1/users/${uid}/sessions?limit=${encodeURIComponent(limit)}`), 400)
    }
    let r = await request(d.url, 'GET', `/v1/users/${uid}/sessions?limit=1`)
    const real = r.json.next
    assert.ok(real, ex(r))
    const key = JSON.parse(Buffer.from(real, 'base64url').toString())
    const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url')
    const forged = [
      'not a cursor',
      'abc',
      real + '=',
      real + 'A',
      real.slice(0, -1),
      '%00',
      b64('[]'),
      b64({}),
      b64({ ...key, extra: { S: 'x' } }),
      b64({ id: key.id, uid: key.uid }),
      b64({ ...key, uid: { S: 'someone-else' } }),
      b64({ ...key, id: { S: 'sess:bad id!' } }),
      b64({ ...key, id: { S: 'other:' + key.id.S.slice(5) } }),
      b64({ ...key, id: { N: '1' } }),
      b64({ ...key, expires: { S: key.expires.N } }),
      b64({ ...key, expires: { N: 'abc' } }),
      b64({ ...key, expires: { N: key.expires.N, S: 'x' } }),
      b64(JSON.stringify(key).replace('{', '{"id":{"S":"sess:dup"},')),
      'x'.repeat(5000),
    ]
    for (const c of forged) {
      r = await request(d.url, 'GET', `/v1/users/${uid}/sessions?cursor=${encodeURIComponent(c)}`)
      assertProblem(r, 400)
    }
    // Another user's cursor is not this user's.
    await create(d, uid + '-b')
    assertProblem(await request(d.url, 'GET', `/v1/users/${uid}-b/sessions?cursor=${real}`), 400)
    // A well-formed cursor at a place where no session is: a page, not an error.
    r = await request(d.url, 'GET', `/v1/users/${uid}/sessions?cursor=${b64({ ...key, id: { S: 'sess:nowhere' } })}`)
    assert.equal(r.status, 200, ex(r))
  })

  it('revokes every session of a user, or all but one', T, async () => {
    const uid = `revoke-${process.pid}`
    const other = await create(d, `${uid}-other`)
    const mine = await pool(Array.from({ length: 30 }, (_, i) => i), 10, () => create(d, uid))
    let r = await request(d.url, 'DELETE', `/v1/users/${uid}/sessions?except=${mine[0].id}`)
    assert.equal(r.status, 200, ex(r))
    assert.deepEqual(r.json, { deleted: 29 })
    assert.equal((await request(d.url, 'GET', `/v1/sessions/${mine[0].id}`)).status, 200)
    for (const s of mine.slice(1)) assert.equal((await request(d.url, 'GET', `/v1/sessions/${s.id}`)).status, 404)
    assert.equal((await request(d.url, 'GET', `/v1/sessions/${other.id}`)).status, 200, "another user's session stays")
    r = await request(d.url, 'DELETE', `/v1/users/${uid}/sessions`)
    assert.deepEqual(r.json, { deleted: 1 }, ex(r))
    assert.equal((await request(d.url, 'GET', `/v1/sessions/${mine[0].id}`)).status, 404)
    r = await request(d.url, 'DELETE', `/v1/users/${uid}/sessions`)
    assert.deepEqual(r.json, { deleted: 0 }, ex(r))
    for (const bad of ['bad%20id', 'x'.repeat(257), '', '%2F']) {
      assertProblem(await request(d.url, 'DELETE', `/v1/users/${uid}/sessions?except=${bad}`), 400)
    }
  })

  it('revokes 1,000 sessions in one request', T, async (t) => {
    const uid = `thousand-${process.pid}`
    // Distinct expiries: see DISTINCT_TTL.
    const made = await pool(Array.from({ length: 1000 }, (_, i) => i), 32, (i) => create(d, uid, { ttl: DISTINCT_TTL + i }))
    const ids = made.map((m) => m.id)
    assert.equal(new Set(ids).size, 1000, 'every create answered a distinct id')
    const t0 = process.hrtime.bigint()
    const r = await request(d.url, 'DELETE', `/v1/users/${uid}/sessions`, { timeoutMs: 60000 })
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    assert.equal(r.status, 200, ex(r))
    t.diagnostic(`revoke of 1000 sessions: ${ms.toFixed(0)} ms`)
    // Left first, then the count: a miscount then says whether a session
    // was missed (still listed) or deleted but not counted; the daemon's
    // request line says how many DynamoDB attempts the revoke made.
    const left = await request(d.url, 'GET', `/v1/users/${uid}/sessions`)
    const rid = r.headers.get('x-request-id')
    let line = d.stderr().split('\n').filter((l) => l.includes(rid)).join('\n')
    if (left.json.sessions.length || r.json.deleted !== 1000) {
      // Which created sessions still answer, and as what (owner, expiry)?
      const alive = []
      await pool(ids, 32, async (id) => {
        const g = await request(d.url, 'GET', `/v1/sessions/${id}`)
        if (g.status !== 404) alive.push(`${g.status} ${g.text}`)
      })
      line += `\nstill readable after the revoke: ${alive.length ? alive.join('\n') : 'none'}`
    }
    assert.deepEqual(left.json, { sessions: [], next: null }, line)
    assert.deepEqual(r.json, { deleted: 1000 }, line)
    const m = await request(d.url, 'GET', '/metrics')
    assert.match(m.text, /^sessiond_user_sessions_revoked_total \d+$/m)
    assert.match(m.text, /^sessiond_user_revoke_passes_total \d+$/m)
    assert.match(m.text, /^sessiond_http_requests_total\{route="user_revoke",code="200"\} \d+$/m)
  })

  it('a revoke racing creates of the same user: no error, and what survives is listed', T, async () => {
    const uid = `race-${process.pid}`
    const before_ = await pool(Array.from({ length: 200 }, (_, i) => i), 16, (i) => create(d, uid, { ttl: DISTINCT_TTL + i }))
    const [rev, racing] = await Promise.all([
      request(d.url, 'DELETE', `/v1/users/${uid}/sessions`, { timeoutMs: 60000 }),
      pool(Array.from({ length: 30 }, (_, i) => i), 4, (i) => create(d, uid, { ttl: DISTINCT_TTL + 200 + i })),
    ])
    assert.equal(rev.status, 200, ex(rev))
    for (const s of before_) assert.equal((await request(d.url, 'GET', `/v1/sessions/${s.id}`)).status, 404, 'made before the revoke: gone')
    const alive = []
    for (const s of racing) if ((await request(d.url, 'GET', `/v1/sessions/${s.id}`)).status === 200) alive.push(s.id)
    assert.equal(rev.json.deleted, 200 + racing.length - alive.length, 'every deleted session is counted once')
    const listed = (await listAll(d, uid, 1000)).flat().map((x) => x.id)
    assert.deepEqual(new Set(listed), new Set(alive))
  })

  it('deletes a listed session only while it still belongs to the user', T, async () => {
    // A session that changed owner after the index listed it keeps living:
    // seeded so that the index (dynalite: consistent) lists it for the
    // old owner while the item says another one is impossible here, so the
    // condition is checked through a PUT to another owner instead.
    const uid = `owner-${process.pid}`
    const s = await create(d, uid)
    const r = await request(d.url, 'PUT', `/v1/sessions/${s.id}`, { json: { data: {}, user: uid + '-new' } })
    assert.equal(r.status, 200, ex(r))
    assert.deepEqual((await request(d.url, 'DELETE', `/v1/users/${uid}/sessions`)).json, { deleted: 0 })
    assert.equal((await request(d.url, 'GET', `/v1/sessions/${s.id}`)).status, 200)
  })
})

describe('sessions of a user: off, and the index at start-up', () => {
  it('without users.index, /v1/users/ is 404 and user is 400', T, async () => {
    const d = await startDaemon()
    try {
      assertProblem(await request(d.url, 'GET', '/v1/users/alice/sessions'), 404)
      assertProblem(await request(d.url, 'DELETE', '/v1/users/alice/sessions'), 404)
      assertProblem(await request(d.url, 'POST', '/v1/sessions', { json: { data: {}, user: 'alice' } }), 400)
      const r = await request(d.url, 'POST', '/v1/sessions', { json: { data: {} } })
      assert.equal(r.status, 201, ex(r))
      assert.equal(r.json.user, undefined)
    } finally {
      await d.stop()
    }
  })

  async function plainTable() {
    const ddb = ddbLib.client()
    const table = uniqueTable('noidx')
    await ddb.call('CreateTable', {
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    })
    for (let i = 0; i < 100; i++) {
      const t = await ddb.call('DescribeTable', { TableName: table })
      if (t.Table.TableStatus === 'ACTIVE') break
      await new Promise((r) => setTimeout(r, 100))
    }
    return table
  }

  function settingsText(table, createTable, extra = '') {
    return `listen = { port = 0; };
dynamodb = { endpoint = "${process.env.SESSIOND_TEST_DDB_ENDPOINT}"; table = "${table}"; create_table = ${createTable}; };
credentials = { access_key_id = "AKIDEXAMPLE"; secret_access_key = "x"; };
users = { index = "by-user"; ${extra} };
reaper = { enabled = false; };
`
  }

  it('a missing index stops start-up with one clear line', T, async () => {
    const table = await plainTable()
    const r = await runDaemon([], settingsText(table, 'false'))
    assert.equal(r.code, 1, r.stderr)
    const lines = r.stderr.trim().split('\n').filter((l) => / error /.test(l) || /index/.test(l))
    assert.ok(lines.some((l) => /has no index "by-user".*create_table/.test(l)), r.stderr)
  })

  it('create_table on an existing table asks for the index by UpdateTable (dynalite cannot: a clear line)', T, async () => {
    const table = await plainTable()
    const r = await runDaemon([], settingsText(table, 'true'))
    // dynalite 4 accepts UpdateTable and adds nothing; DynamoDB adds it.
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /adding index by-user/)
    assert.match(r.stderr, /has no index "by-user" \(this engine cannot add an index/)
  })

  it('an index with other keys stops start-up', T, async () => {
    const ddb = ddbLib.client()
    const table = uniqueTable('badidx')
    await ddb.call('CreateTable', {
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }, { AttributeName: 'owner', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: [{ IndexName: 'by-user', KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }],
    })
    const r = await runDaemon([], settingsText(table, 'true'))
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /index "by-user" of table .* has keys "owner"\/"\(none\)"/)
  })

  it('users.attribute names the owner attribute (connect-dynamodb specialKeys)', T, async () => {
    const d = await startDaemon({ users: { index: 'by-owner', attribute: 'owner' } })
    try {
      const r = await request(d.url, 'POST', '/v1/sessions', { json: { data: {}, user: 'zoe' } })
      assert.equal(r.status, 201, ex(r))
      const item = await ddbLib.client().call('GetItem', { TableName: d.table, Key: { id: { S: 'sess:' + r.json.id } }, ConsistentRead: true })
      assert.deepEqual(item.Item.owner, { S: 'zoe' })
      const l = await request(d.url, 'GET', '/v1/users/zoe/sessions')
      assert.deepEqual(l.json.sessions.map((x) => x.id), [r.json.id])
    } finally {
      await d.stop()
    }
  })

  it('-t refuses a bad users.attribute or index name', T, async () => {
    for (const extra of ['attribute = "expires";', 'attribute = "id";', 'attribute = "";']) {
      const r = await runDaemon(['-t'], settingsText('some-table', 'false', extra))
      assert.equal(r.code, 1, r.stderr)
      assert.match(r.stderr, /users\.attribute must be/)
    }
    const r = await runDaemon(['-t'], settingsText('some-table', 'false').replace('"by-user"', '"x"'))
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /users\.index must be/)
  })
})
