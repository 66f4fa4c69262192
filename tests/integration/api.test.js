'use strict'
// End-to-end tests of the HTTP contract (docs/api.md): the real
// sessiond binary over HTTP against dynalite, the table checked directly.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')

const { startDaemon, request, describeExchange, rawExchange, ROOT } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 30000 }
const DEFAULT_TTL = 86400
const MAX_TTL = 2592000
const ID_RE = /^[A-Za-z0-9_-]{32}$/ // 24 random bytes as base64url
const CLIENT_ID_RE = /^[A-Za-z0-9._~-]{1,256}$/
const ex = describeExchange
const now = () => Math.floor(Date.now() / 1000)
let seq = 0
const newId = (tag = 'x') => `it-${tag}-${process.pid}-${++seq}`

function assertRequestId(r) {
  const id = r.headers.get('x-request-id')
  assert.ok(id && id.length > 0, `X-Request-Id on every response: ${ex(r)}`)
}

// An RFC 9457 problem document with status = the HTTP status.
function assertProblem(r, status) {
  assert.equal(r.status, status, ex(r))
  assertRequestId(r)
  if (r.method === 'HEAD') return
  const ct = r.headers.get('content-type') || ''
  assert.match(ct, /^application\/problem\+json\b/i, `problem content type: ${ex(r)}`)
  assert.ok(r.json && typeof r.json === 'object', `problem body is JSON: ${ex(r)}`)
  assert.equal(typeof r.json.type, 'string', `problem.type: ${ex(r)}`)
  assert.ok(r.json.type.length > 0, `problem.type: ${ex(r)}`)
  assert.equal(typeof r.json.title, 'string', `problem.title: ${ex(r)}`)
  assert.equal(r.json.status, status, `problem.status: ${ex(r)}`)
}

// A session resource answer: JSON content type, ETag "<version>", the four
// members of api.md.
function assertResource(r, status, { id, data, version } = {}) {
  assert.equal(r.status, status, ex(r))
  assertRequestId(r)
  assert.match(r.headers.get('content-type') || '', /^application\/json\b/i, ex(r))
  assert.ok(r.json && typeof r.json === 'object', ex(r))
  assert.deepEqual(Object.keys(r.json).sort(), ['data', 'expires', 'id', 'version'], ex(r))
  assert.ok(Number.isInteger(r.json.expires), `expires is an integer: ${ex(r)}`)
  assert.ok(Number.isInteger(r.json.version), `version is an integer: ${ex(r)}`)
  assert.equal(r.headers.get('etag'), `"${r.json.version}"`, `ETag = "<version>": ${ex(r)}`)
  if (id !== undefined) assert.equal(r.json.id, id, ex(r))
  if (data !== undefined) assert.deepEqual(r.json.data, data, ex(r))
  if (version !== undefined) assert.equal(r.json.version, version, ex(r))
}

function assertExpiresNear(r, t0, ttl) {
  const e = r.json.expires
  assert.ok(e >= t0 + ttl && e <= now() + ttl + 1, `expires ${e} should be now+${ttl} (t0=${t0}): ${ex(r)}`)
}

// Checks the stored item of id against api.md's layout, exactly.
async function assertStored(ddb, table, id, { data, version, expires }) {
  const item = await ddb.getItem(table, ddb.key(id))
  assert.ok(item, `an item for ${id} is in the table`)
  assert.deepEqual(Object.keys(item).sort(), ['expires', 'id', 'sess', 'type', 'version'], JSON.stringify(item))
  assert.deepEqual(item.id, { S: 'sess:' + id })
  assert.deepEqual(item.type, { S: 'connect-session' })
  assert.ok(item.sess && typeof item.sess.S === 'string', JSON.stringify(item))
  assert.deepEqual(JSON.parse(item.sess.S), data, 'sess is the JSON text of data')
  assert.ok(item.expires && /^\d+$/.test(item.expires.N), `expires N integer: ${JSON.stringify(item)}`)
  if (expires !== undefined) assert.equal(Number(item.expires.N), expires)
  assert.deepEqual(item.version, { N: String(version) })
  return item
}

function allowSet(r) {
  return new Set(
    (r.headers.get('allow') || '')
      .split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean)
  )
}

// ---------------------------------------------------------------------------

describe('sessiond HTTP API', () => {
  const ddb = ddbLib.client()
  let d
  const api = (method, p, opts) => request(d.url, method, p, opts)
  const merge = (p, json, opts = {}) => api('PATCH', p, { json, type: 'application/merge-patch+json', ...opts })
  const create = async (data = { a: 1 }, ttl = 3600) => {
    const r = await api('POST', '/v1/sessions', { json: { data, ttl } })
    assertResource(r, 201)
    return r.json
  }
  const put = async (id, data = { a: 1 }, ttl = 3600) => {
    const r = await api('PUT', `/v1/sessions/${id}`, { json: { data, ttl } })
    assert.ok(r.status === 201 || r.status === 200, ex(r))
    return r.json
  }

  before(async () => {
    d = await startDaemon()
  }, T)
  after(async () => {
    if (d) assert.equal(await d.stop(), 0, 'exit 0 after SIGTERM')
  }, T)

  // --- POST /v1/sessions --------------------------------------------------

  describe('POST /v1/sessions', () => {
    it('creates with the given ttl: 201, Location, ETag "1", the resource, stored as api.md says', T, async () => {
      const data = { cookie: { maxAge: 86400000 }, user: 42, s: 'é ✓ "q" \\', n: null, arr: [1, { b: false }] }
      const t0 = now()
      const r = await api('POST', '/v1/sessions', { json: { data, ttl: 600 } })
      assertResource(r, 201, { data, version: 1 })
      assert.match(r.json.id, ID_RE, `generated id: 32 base64url characters: ${ex(r)}`)
      const loc = r.headers.get('location')
      assert.ok(loc, `Location: ${ex(r)}`)
      assert.equal(new URL(loc, d.url).pathname, `/v1/sessions/${r.json.id}`, ex(r))
      assert.equal(r.headers.get('etag'), '"1"')
      assertExpiresNear(r, t0, 600)
      await assertStored(ddb, d.table, r.json.id, { data, version: 1, expires: r.json.expires })
      const g = await api('GET', new URL(loc, d.url).pathname)
      assertResource(g, 200, { id: r.json.id, data, version: 1 })
    })

    it('uses session.default_ttl when no ttl is given', T, async () => {
      const t0 = now()
      const r = await api('POST', '/v1/sessions', { json: { data: { x: 1 } } })
      assertResource(r, 201, { data: { x: 1 }, version: 1 })
      assertExpiresNear(r, t0, DEFAULT_TTL)
    })

    it('accepts ttl = 1 and ttl = max_ttl', T, async () => {
      for (const ttl of [1, MAX_TTL]) {
        const t0 = now()
        const r = await api('POST', '/v1/sessions', { json: { data: {}, ttl } })
        assertResource(r, 201, { data: {}, version: 1 })
        assertExpiresNear(r, t0, ttl)
      }
    })

    it('generates a new, different id each time', T, async () => {
      const ids = new Set()
      for (let i = 0; i < 20; i++) {
        const s = await create({ i })
        assert.match(s.id, ID_RE)
        ids.add(s.id)
      }
      assert.equal(ids.size, 20)
    })

    it('accepts application/json; charset=utf-8', T, async () => {
      const r = await api('POST', '/v1/sessions', {
        body: JSON.stringify({ data: { c: 1 } }),
        type: 'application/json; charset=utf-8',
      })
      assertResource(r, 201, { data: { c: 1 }, version: 1 })
    })
  })

  // --- GET / HEAD ---------------------------------------------------------

  describe('GET and HEAD /v1/sessions/{id}', () => {
    it('GET: 200, ETag and the resource', T, async () => {
      const s = await create({ k: 'v' }, 900)
      const r = await api('GET', `/v1/sessions/${s.id}`)
      assertResource(r, 200, { id: s.id, data: { k: 'v' }, version: 1 })
      assert.equal(r.json.expires, s.expires)
    })

    it('GET: 404 problem for an absent id', T, async () => {
      const r = await api('GET', `/v1/sessions/${newId('absent')}`)
      assertProblem(r, 404)
    })

    it('GET: 404 for an item whose expires is in the past or now (the reaper has not run)', T, async () => {
      for (const expires of [now() - 3600, now() - 1, now()]) {
        const id = newId('expired')
        await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: { a: 1 }, expires, version: 3 }))
        const r = await api('GET', `/v1/sessions/${id}`)
        assertProblem(r, 404)
        const h = await api('HEAD', `/v1/sessions/${id}`)
        assert.equal(h.status, 404, ex(h))
        assert.equal(h.text, '')
      }
    })

    it('GET: 404 for an expired connect-dynamodb item (fractional expires, no version)', T, async () => {
      const id = newId('expired-frac')
      await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: { cookie: {} }, expires: `${now() - 2}.375` }))
      const r = await api('GET', `/v1/sessions/${id}`)
      assertProblem(r, 404)
    })

    it('GET: a live connect-dynamodb item (fractional expires, no version) is version 0 with an integer expires', T, async () => {
      const id = newId('live-frac')
      const exp = `${now() + 3600}.625`
      await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: { cookie: { maxAge: 5 }, u: 1 }, expires: exp }))
      const r = await api('GET', `/v1/sessions/${id}`)
      assertResource(r, 200, { id, data: { cookie: { maxAge: 5 }, u: 1 }, version: 0 })
      assert.ok(Math.abs(r.json.expires - Number(exp)) <= 1, ex(r))
    })

    it('HEAD: same status and headers as GET, no body', T, async () => {
      const s = await create({ h: 1 })
      const g = await api('GET', `/v1/sessions/${s.id}`)
      const h = await api('HEAD', `/v1/sessions/${s.id}`)
      assert.equal(h.status, 200, ex(h))
      assert.equal(h.text, '', 'HEAD has no body')
      assert.equal(h.headers.get('etag'), g.headers.get('etag'), ex(h))
      assert.equal(h.headers.get('content-type'), g.headers.get('content-type'), ex(h))
      assertRequestId(h)
      if (h.headers.get('content-length') !== null && g.headers.get('content-length') !== null) {
        assert.equal(h.headers.get('content-length'), g.headers.get('content-length'), ex(h))
      }
    })

    it('HEAD: 404 for an absent id, no body', T, async () => {
      const h = await api('HEAD', `/v1/sessions/${newId('absent')}`)
      assert.equal(h.status, 404, ex(h))
      assert.equal(h.text, '')
      assertRequestId(h)
    })
  })

  // --- PUT ----------------------------------------------------------------

  describe('PUT /v1/sessions/{id}', () => {
    it('201 when it creates, 200 when it replaces; data is replaced, not merged', T, async () => {
      const id = newId('put')
      const t0 = now()
      let r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { a: 1, b: 2 }, ttl: 300 } })
      assertResource(r, 201, { id, data: { a: 1, b: 2 }, version: 1 })
      assertExpiresNear(r, t0, 300)
      await assertStored(ddb, d.table, id, { data: { a: 1, b: 2 }, version: 1, expires: r.json.expires })
      r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { c: 3 }, ttl: 400 } })
      assertResource(r, 200, { id, data: { c: 3 }, version: 2 })
      assert.equal(r.headers.get('etag'), '"2"')
      await assertStored(ddb, d.table, id, { data: { c: 3 }, version: 2, expires: r.json.expires })
      const g = await api('GET', `/v1/sessions/${id}`)
      assertResource(g, 200, { id, data: { c: 3 }, version: 2 })
    })

    it('without ttl or expires uses the default ttl', T, async () => {
      const id = newId('put-default')
      const t0 = now()
      const r = await api('PUT', `/v1/sessions/${id}`, { json: { data: {} } })
      assertResource(r, 201, { id, data: {}, version: 1 })
      assertExpiresNear(r, t0, DEFAULT_TTL)
    })

    it('with expires: stored and answered as given', T, async () => {
      const id = newId('put-expires')
      const expires = now() + 1234
      const r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { e: 1 }, expires } })
      assertResource(r, 201, { id, data: { e: 1 }, version: 1 })
      assert.equal(r.json.expires, expires, ex(r))
      await assertStored(ddb, d.table, id, { data: { e: 1 }, version: 1, expires })
    })

    it('If-Match with the current version replaces; a stale one is 412 and changes nothing', T, async () => {
      const id = newId('ifmatch')
      await put(id, { v: 1 })
      let r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { v: 2 } }, headers: { 'If-Match': '"1"' } })
      assertResource(r, 200, { id, data: { v: 2 }, version: 2 })
      r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { v: 'stale' } }, headers: { 'If-Match': '"1"' } })
      assertProblem(r, 412)
      const g = await api('GET', `/v1/sessions/${id}`)
      assertResource(g, 200, { id, data: { v: 2 }, version: 2 })
      await assertStored(ddb, d.table, id, { data: { v: 2 }, version: 2 })
    })

    it('If-Match on an absent id is 412 and creates nothing', T, async () => {
      const id = newId('ifmatch-absent')
      const r = await api('PUT', `/v1/sessions/${id}`, { json: { data: {} }, headers: { 'If-Match': '"1"' } })
      assertProblem(r, 412)
      assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    })

    it('If-None-Match: * creates an absent one (201) and is 412 on an existing one', T, async () => {
      const id = newId('ifnonematch')
      let r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { n: 1 } }, headers: { 'If-None-Match': '*' } })
      assertResource(r, 201, { id, data: { n: 1 }, version: 1 })
      r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { n: 2 } }, headers: { 'If-None-Match': '*' } })
      assertProblem(r, 412)
      await assertStored(ddb, d.table, id, { data: { n: 1 }, version: 1 })
    })

    it('accepts a 256-character id', T, async () => {
      const id = ('A-z0.9_~' + 'x'.repeat(256)).slice(0, 256)
      const r = await api('PUT', `/v1/sessions/${id}`, { json: { data: { long: true } } })
      assertResource(r, 201, { id, data: { long: true }, version: 1 })
      await assertStored(ddb, d.table, id, { data: { long: true }, version: 1 })
    })
  })

  // --- Body validation (POST and PUT) -------------------------------------

  describe('request body validation: 400', () => {
    const badBodies = () => {
      const t = now()
      return [
        ['malformed JSON', '{"data": {"a": 1}'],
        ['trailing garbage', '{"data": {}} x'],
        ['empty body', ''],
        ['body is an array', '[]'],
        ['body is a string', '"data"'],
        ['data is an array', JSON.stringify({ data: [1, 2] })],
        ['data is a string', JSON.stringify({ data: 'x' })],
        ['data is null', JSON.stringify({ data: null })],
        ['data is a number', JSON.stringify({ data: 5 })],
        ['ttl 0', JSON.stringify({ data: {}, ttl: 0 })],
        ['ttl -1', JSON.stringify({ data: {}, ttl: -1 })],
        ['ttl 1.5', JSON.stringify({ data: {}, ttl: 1.5 })],
        ['ttl "5"', JSON.stringify({ data: {}, ttl: '5' })],
        ['ttl null', JSON.stringify({ data: {}, ttl: null })],
        ['ttl true', JSON.stringify({ data: {}, ttl: true })],
        ['ttl over max_ttl', JSON.stringify({ data: {}, ttl: MAX_TTL + 1 })],
        ['ttl huge', '{"data": {}, "ttl": 1e300}'],
        ['ttl and expires both', JSON.stringify({ data: {}, ttl: 60, expires: t + 60 })],
        ['expires in the past', JSON.stringify({ data: {}, expires: t - 10 })],
        ['expires 0', JSON.stringify({ data: {}, expires: 0 })],
        ['expires over max_ttl ahead', JSON.stringify({ data: {}, expires: t + MAX_TTL + 120 })],
        ['expires fractional', JSON.stringify({ data: {}, expires: t + 60.5 })],
        ['expires a string', JSON.stringify({ data: {}, expires: String(t + 60) })],
      ]
    }

    it('PUT: every bad body is a 400 problem and writes nothing', T, async () => {
      for (const [what, body] of badBodies()) {
        const id = newId('bad-put')
        const r = await api('PUT', `/v1/sessions/${id}`, { body, type: 'application/json' })
        assertProblem(r, 400)
        assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined, `${what}: nothing stored`)
      }
    })

    it('PUT: a bad body does not change an existing session', T, async () => {
      const id = newId('bad-put-existing')
      await put(id, { keep: 1 })
      for (const [, body] of badBodies()) {
        const r = await api('PUT', `/v1/sessions/${id}`, { body, type: 'application/json' })
        assertProblem(r, 400)
      }
      await assertStored(ddb, d.table, id, { data: { keep: 1 }, version: 1 })
    })

    it('POST: every bad body is a 400 problem', T, async () => {
      const before = (await ddb.scan(d.table)).length
      for (const [, body] of badBodies()) {
        const r = await api('POST', '/v1/sessions', { body, type: 'application/json' })
        assertProblem(r, 400)
      }
      assert.equal((await ddb.scan(d.table)).length, before, 'no item was created')
    })
  })

  // --- PATCH --------------------------------------------------------------

  describe('PATCH /v1/sessions/{id}', () => {
    it('merges RFC 7386 into data: null deletes, objects merge, the rest replaces; version +1', T, async () => {
      const id = newId('patch')
      const orig = { a: 1, b: { c: 2, d: 3 }, e: 5, arr: [1, 2, 3], keep: 'k' }
      await put(id, orig, 3600)
      const before = (await api('GET', `/v1/sessions/${id}`)).json
      const r = await merge(`/v1/sessions/${id}`, { b: { c: null, x: 1 }, e: null, arr: [9], f: { g: [1] }, absent: null })
      const expected = { a: 1, b: { d: 3, x: 1 }, arr: [9], keep: 'k', f: { g: [1] } }
      assertResource(r, 200, { id, data: expected, version: 2 })
      assert.equal(r.json.expires, before.expires, 'expires untouched without ?ttl')
      await assertStored(ddb, d.table, id, { data: expected, version: 2, expires: before.expires })
    })

    it('?ttl=N also sets expires to now + N', T, async () => {
      const id = newId('patch-ttl')
      await put(id, { a: 1 }, 60)
      const t0 = now()
      const r = await merge(`/v1/sessions/${id}?ttl=7200`, { b: 2 })
      assertResource(r, 200, { id, data: { a: 1, b: 2 }, version: 2 })
      assertExpiresNear(r, t0, 7200)
      await assertStored(ddb, d.table, id, { data: { a: 1, b: 2 }, version: 2, expires: r.json.expires })
    })

    it('bad ?ttl is 400 and changes nothing', T, async () => {
      const id = newId('patch-badttl')
      await put(id, { a: 1 })
      for (const q of ['0', '-1', '1.5', 'abc', '', String(MAX_TTL + 1), '1e3', '5x']) {
        const r = await merge(`/v1/sessions/${id}?ttl=${q}`, { b: 2 })
        assertProblem(r, 400)
      }
      await assertStored(ddb, d.table, id, { data: { a: 1 }, version: 1 })
    })

    it('404 on an absent id, and no item is created', T, async () => {
      const id = newId('patch-absent')
      const r = await merge(`/v1/sessions/${id}`, { a: 1 })
      assertProblem(r, 404)
      assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    })

    it('404 on an expired item, which stays as it was', T, async () => {
      const id = newId('patch-expired')
      const item = ddbLib.sessionItem(id, { data: { a: 1 }, expires: now() - 10, version: 4 })
      await ddb.putItem(d.table, item)
      const r = await merge(`/v1/sessions/${id}`, { a: 2 })
      assertProblem(r, 404)
      assert.deepEqual(await ddb.getItem(d.table, ddb.key(id)), item)
    })

    it('If-Match: current version applies, stale is 412 and changes nothing', T, async () => {
      const id = newId('patch-ifmatch')
      await put(id, { a: 1 })
      let r = await merge(`/v1/sessions/${id}`, { b: 1 }, { headers: { 'If-Match': '"1"' } })
      assertResource(r, 200, { id, data: { a: 1, b: 1 }, version: 2 })
      r = await merge(`/v1/sessions/${id}`, { c: 1 }, { headers: { 'If-Match': '"1"' } })
      assertProblem(r, 412)
      await assertStored(ddb, d.table, id, { data: { a: 1, b: 1 }, version: 2 })
    })

    it('content type must be application/merge-patch+json: else 415', T, async () => {
      const id = newId('patch-415')
      await put(id, { a: 1 })
      for (const type of ['application/json', 'text/plain', 'application/x-www-form-urlencoded']) {
        const r = await api('PATCH', `/v1/sessions/${id}`, { body: '{"b": 1}', type })
        assertProblem(r, 415)
      }
      // no Content-Type at all (a Uint8Array body makes fetch send none)
      const r = await api('PATCH', `/v1/sessions/${id}`, { body: new TextEncoder().encode('{"b": 1}') })
      assertProblem(r, 415)
      await assertStored(ddb, d.table, id, { data: { a: 1 }, version: 1 })
    })

    it('malformed JSON or a patch that is not an object is 400', T, async () => {
      const id = newId('patch-400')
      await put(id, { a: 1 })
      for (const body of ['{"b": ', '[1, 2]', '"str"', '42', 'null', '']) {
        const r = await api('PATCH', `/v1/sessions/${id}`, { body, type: 'application/merge-patch+json' })
        assertProblem(r, 400)
      }
      await assertStored(ddb, d.table, id, { data: { a: 1 }, version: 1 })
    })

    it('two clients × 200 PATCHes of distinct keys: no lost update, version 401', { timeout: 180000 }, async () => {
      const s = await create({}, 3600)
      const N = 200
      const failures = []
      const client = async (c) => {
        for (let i = 0; i < N; i++) {
          const r = await merge(`/v1/sessions/${s.id}`, { [`c${c}_${i}`]: i })
          if (r.status !== 200) failures.push(ex(r))
        }
      }
      await Promise.all([client(0), client(1)])
      assert.deepEqual(failures, [], 'every PATCH answered 200')
      const g = await api('GET', `/v1/sessions/${s.id}`)
      assert.equal(g.status, 200, ex(g))
      const missing = []
      for (let c = 0; c < 2; c++) for (let i = 0; i < N; i++) if (g.json.data[`c${c}_${i}`] !== i) missing.push(`c${c}_${i}`)
      assert.deepEqual(missing, [], 'every key survived')
      assert.equal(Object.keys(g.json.data).length, 2 * N)
      assert.equal(g.json.version, 2 * N + 1)
      assert.equal(g.headers.get('etag'), `"${2 * N + 1}"`)
      await assertStored(ddb, d.table, s.id, { data: g.json.data, version: 2 * N + 1 })
    })
  })

  // --- touch --------------------------------------------------------------

  describe('POST /v1/sessions/{id}/touch', () => {
    it('extends expires by ttl; data and version untouched; answers {id, expires, version}', T, async () => {
      const s = await create({ t: 1 }, 60)
      const t0 = now()
      const r = await api('POST', `/v1/sessions/${s.id}/touch`, { json: { ttl: 5000 } })
      assert.equal(r.status, 200, ex(r))
      assertRequestId(r)
      assert.match(r.headers.get('content-type') || '', /^application\/json\b/i, ex(r))
      assert.deepEqual(Object.keys(r.json).sort(), ['expires', 'id', 'version'], ex(r))
      assert.equal(r.json.id, s.id)
      assert.equal(r.json.version, 1)
      assertExpiresNear(r, t0, 5000)
      const g = await api('GET', `/v1/sessions/${s.id}`)
      assertResource(g, 200, { id: s.id, data: { t: 1 }, version: 1 })
      assert.equal(g.json.expires, r.json.expires)
      await assertStored(ddb, d.table, s.id, { data: { t: 1 }, version: 1, expires: r.json.expires })
    })

    it('without a body uses the default ttl', T, async () => {
      const s = await create({ t: 2 }, 60)
      const t0 = now()
      const r = await api('POST', `/v1/sessions/${s.id}/touch`)
      assert.equal(r.status, 200, ex(r))
      assertExpiresNear(r, t0, DEFAULT_TTL)
      assert.equal(r.json.version, 1)
    })

    it('bad ttl is 400', T, async () => {
      const s = await create({ t: 3 }, 60)
      for (const body of ['{"ttl": 0}', '{"ttl": -1}', '{"ttl": 1.5}', '{"ttl": "5"}', `{"ttl": ${MAX_TTL + 1}}`, '{"ttl": ', '[]']) {
        const r = await api('POST', `/v1/sessions/${s.id}/touch`, { body, type: 'application/json' })
        assertProblem(r, 400)
      }
      await assertStored(ddb, d.table, s.id, { data: { t: 3 }, version: 1, expires: s.expires })
    })

    it('never creates: 404 for an id never seen, and the table holds no item', T, async () => {
      const id = newId('touch-never')
      const r = await api('POST', `/v1/sessions/${id}/touch`, { json: { ttl: 60 } })
      assertProblem(r, 404)
      assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    })

    it('never creates: 404 after DELETE, and the table holds no item', T, async () => {
      const s = await create({ t: 4 })
      const del = await api('DELETE', `/v1/sessions/${s.id}`)
      assert.equal(del.status, 204, ex(del))
      const r = await api('POST', `/v1/sessions/${s.id}/touch`, { json: { ttl: 60 } })
      assertProblem(r, 404)
      assert.equal(await ddb.getItem(d.table, ddb.key(s.id)), undefined)
      const r2 = await api('POST', `/v1/sessions/${s.id}/touch`)
      assertProblem(r2, 404)
      assert.equal(await ddb.getItem(d.table, ddb.key(s.id)), undefined)
    })

    it('404 on an expired item, which is not revived', T, async () => {
      const id = newId('touch-expired')
      const item = ddbLib.sessionItem(id, { data: { a: 1 }, expires: now() - 5, version: 2 })
      await ddb.putItem(d.table, item)
      const r = await api('POST', `/v1/sessions/${id}/touch`, { json: { ttl: 600 } })
      assertProblem(r, 404)
      assert.deepEqual(await ddb.getItem(d.table, ddb.key(id)), item)
      const g = await api('GET', `/v1/sessions/${id}`)
      assertProblem(g, 404)
    })
  })

  // --- DELETE -------------------------------------------------------------

  describe('DELETE /v1/sessions/{id}', () => {
    it('204 without a body; gone from the table; 204 again (idempotent)', T, async () => {
      const s = await create({ del: 1 })
      let r = await api('DELETE', `/v1/sessions/${s.id}`)
      assert.equal(r.status, 204, ex(r))
      assert.equal(r.text, '')
      assertRequestId(r)
      assert.equal(await ddb.getItem(d.table, ddb.key(s.id)), undefined)
      assertProblem(await api('GET', `/v1/sessions/${s.id}`), 404)
      r = await api('DELETE', `/v1/sessions/${s.id}`)
      assert.equal(r.status, 204, ex(r))
      r = await api('DELETE', `/v1/sessions/${newId('never')}`)
      assert.equal(r.status, 204, ex(r))
    })
  })

  // --- versions and ETags ---------------------------------------------------

  it('version increases by one with every write of data; touch does not; ETag follows', T, async () => {
    const s = await create({ n: 0 })
    assert.equal(s.version, 1)
    const steps = [
      ['PUT', () => api('PUT', `/v1/sessions/${s.id}`, { json: { data: { n: 1 } } }), 2],
      ['PATCH', () => merge(`/v1/sessions/${s.id}`, { m: 1 }), 3],
      ['touch', () => api('POST', `/v1/sessions/${s.id}/touch`, { json: { ttl: 100 } }), 3],
      ['PATCH', () => merge(`/v1/sessions/${s.id}?ttl=100`, { m: 2 }), 4],
      ['PUT If-Match', () => api('PUT', `/v1/sessions/${s.id}`, { json: { data: { n: 5 } }, headers: { 'If-Match': '"4"' } }), 5],
    ]
    for (const [what, step, version] of steps) {
      const r = await step()
      assert.equal(r.status, 200, `${what}: ${ex(r)}`)
      assert.equal(r.json.version, version, `${what}: ${ex(r)}`)
      const g = await api('GET', `/v1/sessions/${s.id}`)
      assertResource(g, 200, { version })
      assert.equal(g.headers.get('etag'), `"${version}"`)
      const item = await ddb.getItem(d.table, ddb.key(s.id))
      assert.deepEqual(item.version, { N: String(version) }, what)
    }
  })

  // --- ids ----------------------------------------------------------------

  it('invalid ids are 400 on every method, and nothing reaches the table', T, async () => {
    const bad = [
      'x'.repeat(257),
      'a%2Fb',
      '%00',
      'a%00b',
      'a%0Ab',
      'a%20b',
      'a+b',
      'a*b',
      'a:b',
      'a@b',
      "a'b",
      '%C3%A9',
      'a%25b',
      'a!b',
    ]
    const body = { data: { bad: true } }
    for (const id of bad) {
      const rs = [
        await api('PUT', `/v1/sessions/${id}`, { json: body }),
        await api('GET', `/v1/sessions/${id}`),
        await api('DELETE', `/v1/sessions/${id}`),
        await merge(`/v1/sessions/${id}`, { a: 1 }),
        await api('POST', `/v1/sessions/${id}/touch`, { json: { ttl: 60 } }),
      ]
      for (const r of rs) assertProblem(r, 400)
    }
    const items = await ddb.scan(d.table)
    for (const it of items) {
      assert.match(it.id.S, /^sess:/, JSON.stringify(it.id))
      assert.match(it.id.S.slice(5), CLIENT_ID_RE, `stored id ${JSON.stringify(it.id.S)}`)
      assert.notEqual(it.sess && it.sess.S, JSON.stringify(body.data))
    }
  })

  // --- probes ---------------------------------------------------------------

  describe('probes', () => {
    it('GET /healthz: 200 {"status":"ok"}', T, async () => {
      const r = await api('GET', '/healthz')
      assert.equal(r.status, 200, ex(r))
      assert.deepEqual(r.json, { status: 'ok' }, ex(r))
      assert.match(r.headers.get('content-type') || '', /^application\/json\b/i, ex(r))
      assertRequestId(r)
    })

    it('GET /readyz: 200 with dynalite answering', T, async () => {
      const r = await api('GET', '/readyz')
      assert.equal(r.status, 200, ex(r))
      assertRequestId(r)
    })

    it('GET /metrics: 200 Prometheus text', T, async () => {
      await api('GET', '/healthz')
      const r = await api('GET', '/metrics')
      assert.equal(r.status, 200, ex(r))
      assert.match(r.headers.get('content-type') || '', /^text\/plain\b/i, ex(r))
      assert.ok(r.text.length > 0, 'metrics text is not empty')
      // Exposition format: every line is a comment or "name{labels} value".
      for (const line of r.text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?\s+\S+(\s+\d+)?$/, `metrics line: ${line}`)
      }
    })
  })

  // --- methods and paths ----------------------------------------------------

  describe('routing', () => {
    it('405 with Allow for other methods on known paths', T, async () => {
      const id = newId('routing')
      const cases = [
        ['GET', '/v1/sessions', ['POST']],
        ['PUT', '/v1/sessions', ['POST']],
        ['DELETE', '/v1/sessions', ['POST']],
        ['PATCH', '/v1/sessions', ['POST']],
        ['POST', `/v1/sessions/${id}`, ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']],
        ['GET', `/v1/sessions/${id}/touch`, ['POST']],
        ['PUT', `/v1/sessions/${id}/touch`, ['POST']],
        ['DELETE', `/v1/sessions/${id}/touch`, ['POST']],
        ['POST', '/healthz', ['GET']],
        ['DELETE', '/readyz', ['GET']],
        ['PUT', '/metrics', ['GET']],
      ]
      for (const [method, p, allowed] of cases) {
        const r = await api(method, p, method === 'GET' || method === 'DELETE' ? {} : { json: { data: {} } })
        assertProblem(r, 405)
        const allow = allowSet(r)
        for (const m of allowed) assert.ok(allow.has(m), `Allow has ${m}: ${ex(r)}`)
        assert.ok(!allow.has(method), `Allow lacks ${method}: ${ex(r)}`)
      }
      assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    })

    it('404 for unknown paths', T, async () => {
      for (const p of ['/', '/v1', '/v2/sessions', '/v1/session', '/v1/sessions/abc/untouch', '/v1/sessions/abc/touch/x', '/healthz/x', '/nope']) {
        const r = await api('GET', p)
        assertProblem(r, 404)
      }
    })
  })

  // --- content types --------------------------------------------------------

  it('415 for a wrong content type on POST, PUT and touch; nothing written', T, async () => {
    const id = newId('415')
    const body = JSON.stringify({ data: { a: 1 } })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json', 'application/xml']) {
      assertProblem(await api('POST', '/v1/sessions', { body, type }), 415)
      assertProblem(await api('PUT', `/v1/sessions/${id}`, { body, type }), 415)
    }
    assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    const s = await create({ a: 1 }, 60)
    const r = await api('POST', `/v1/sessions/${s.id}/touch`, { body: '{"ttl": 100}', type: 'text/plain' })
    assertProblem(r, 415)
    await assertStored(ddb, d.table, s.id, { data: { a: 1 }, version: 1, expires: s.expires })
  })

  // --- X-Request-Id -----------------------------------------------------------

  describe('X-Request-Id', () => {
    it('is echoed when the request sent a sane one', T, async () => {
      const rid = 'b7c4f0de-3f0a-4a59-9d3c-1e0f5e2d7a61'
      for (const [m, p] of [['GET', '/healthz'], ['GET', `/v1/sessions/${newId('rid')}`], ['GET', '/nope']]) {
        const r = await api(m, p, { headers: { 'X-Request-Id': rid } })
        assert.equal(r.headers.get('x-request-id'), rid, ex(r))
      }
    })

    it('is generated when absent, a new one per request', T, async () => {
      const a = await api('GET', '/healthz')
      const b = await api('GET', '/healthz')
      const ia = a.headers.get('x-request-id')
      const ib = b.headers.get('x-request-id')
      assert.match(ia || '', /^[\x21-\x7e]{1,128}$/, ex(a))
      assert.notEqual(ia, ib)
    })

    it('a 1000-character id is not echoed raw; one is generated instead', T, async () => {
      const rid = 'r'.repeat(1000)
      const r = await api('GET', '/healthz', { headers: { 'X-Request-Id': rid } })
      const got = r.headers.get('x-request-id')
      assert.ok(got, ex(r))
      assert.notEqual(got, rid)
      assert.ok(got.length <= 128, `generated id is short: ${got.length}`)
    })

    it('an id with control characters is not echoed raw', T, async () => {
      const res = await rawExchange(d.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ab\x01cd\x7fef\r\nConnection: close\r\n\r\n')
      assert.ok(res.status > 0 && res.status < 500, `answered: ${JSON.stringify(res.raw)}`)
      const got = res.headers['x-request-id']
      assert.ok(got && got.length === 1, `one X-Request-Id: ${JSON.stringify(res.raw)}`)
      assert.doesNotMatch(got[0], /[\x00-\x1f\x7f]/, `no control characters: ${JSON.stringify(res.raw)}`)
      assert.notEqual(got[0], 'ab\x01cd\x7fef')
    })
  })
})

// ---------------------------------------------------------------------------

describe('limits.max_body: 413', () => {
  const ddb = ddbLib.client()
  const MAX = 1024
  let d
  const api = (method, p, opts) => request(d.url, method, p, opts)

  before(async () => {
    d = await startDaemon({ limits: { max_body: MAX } })
  }, T)
  after(async () => {
    if (d) await d.stop()
  }, T)

  const sized = (n) => {
    const base = JSON.stringify({ data: { pad: '' } })
    return JSON.stringify({ data: { pad: 'p'.repeat(n - base.length) } })
  }

  it('a body at the limit is accepted', T, async () => {
    const body = sized(MAX)
    assert.equal(Buffer.byteLength(body), MAX)
    const r = await api('POST', '/v1/sessions', { body, type: 'application/json' })
    assert.equal(r.status, 201, ex(r))
  })

  it('a body over the limit is 413 on POST, PUT, PATCH and touch; nothing written', T, async () => {
    const id = newId('413')
    const body = sized(MAX + 1)
    assert.equal(Buffer.byteLength(body), MAX + 1)
    const before = (await ddb.scan(d.table)).length
    assertProblem(await api('POST', '/v1/sessions', { body, type: 'application/json' }), 413)
    assertProblem(await api('PUT', `/v1/sessions/${id}`, { body, type: 'application/json' }), 413)
    assertProblem(await api('PUT', `/v1/sessions/${id}`, { body: sized(100000), type: 'application/json' }), 413)
    assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined)
    const s = await api('PUT', `/v1/sessions/${id}`, { json: { data: { a: 1 } } })
    assert.equal(s.status, 201, ex(s))
    const patch = JSON.stringify({ pad: 'p'.repeat(2 * MAX) })
    assertProblem(await api('PATCH', `/v1/sessions/${id}`, { body: patch, type: 'application/merge-patch+json' }), 413)
    assertProblem(await api('POST', `/v1/sessions/${id}/touch`, { body: JSON.stringify({ ttl: 60, pad: 'x'.repeat(2 * MAX) }), type: 'application/json' }), 413)
    const item = await ddb.getItem(d.table, ddb.key(id))
    assert.deepEqual(JSON.parse(item.sess.S), { a: 1 })
    assert.equal(item.version.N, '1')
    assert.equal((await ddb.scan(d.table)).length, before + 1)
  })
})

// ---------------------------------------------------------------------------

describe('auth.tokens', () => {
  let d
  const api = (method, p, opts) => request(d.url, method, p, opts)
  const bearer = (tok) => ({ Authorization: `Bearer ${tok}` })

  before(async () => {
    d = await startDaemon({ auth: { tokens: ['t0k3n'] } })
  }, T)
  after(async () => {
    if (d) await d.stop()
  }, T)

  function assert401(r) {
    assertProblem(r, 401)
    assert.match(r.headers.get('www-authenticate') || '', /^Bearer\b/i, ex(r))
  }

  it('a /v1/ request without a token is 401 with WWW-Authenticate: Bearer', T, async () => {
    assert401(await api('POST', '/v1/sessions', { json: { data: {} } }))
    assert401(await api('GET', `/v1/sessions/${newId('auth')}`))
    assert401(await api('PUT', `/v1/sessions/${newId('auth')}`, { json: { data: {} } }))
    assert401(await api('DELETE', `/v1/sessions/${newId('auth')}`))
  })

  it('a wrong token is 401', T, async () => {
    for (const h of [bearer('t0k3m'), bearer('t0k3'), bearer('t0k3nX'), bearer(''), { Authorization: 't0k3n' }, { Authorization: 'Basic dDBrM246' }]) {
      assert401(await api('POST', '/v1/sessions', { json: { data: {} }, headers: h }))
    }
  })

  it('the right token is served', T, async () => {
    const c = await api('POST', '/v1/sessions', { json: { data: { a: 1 } }, headers: bearer('t0k3n') })
    assertResource(c, 201, { data: { a: 1 }, version: 1 })
    const g = await api('GET', `/v1/sessions/${c.json.id}`, { headers: bearer('t0k3n') })
    assertResource(g, 200, { data: { a: 1 }, version: 1 })
    assert401(await api('GET', `/v1/sessions/${c.json.id}`))
  })

  it('/healthz, /readyz and /metrics need no token', T, async () => {
    const h = await api('GET', '/healthz')
    assert.equal(h.status, 200, ex(h))
    const r = await api('GET', '/readyz')
    assert.equal(r.status, 200, ex(r))
    const m = await api('GET', '/metrics')
    assert.equal(m.status, 200, ex(m))
  })
})

// ---------------------------------------------------------------------------

describe('DynamoDB unavailable: 503', () => {
  // A dynalite of this test's own, so it can be stopped under the daemon.
  const dynalite = require(path.join(ROOT, 'node_modules', 'dynalite'))
  let server
  let d
  const api = (method, p, opts) => request(d.url, method, p, opts)

  before(async () => {
    server = dynalite({ createTableMs: 50 })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    d = await startDaemon({
      dynamodb: { endpoint: `http://127.0.0.1:${server.address().port}`, max_attempts: 2, timeout_ms: 500 },
    })
  }, T)
  after(async () => {
    if (d) await d.stop()
    if (server && server.listening) {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }, T)

  it('after the engine goes away: 503 with Retry-After, never 2xx, no internals; /readyz 503', { timeout: 60000 }, async () => {
    const c = await api('POST', '/v1/sessions', { json: { data: { a: 1 } } })
    assert.equal(c.status, 201, ex(c))
    const ready = await api('GET', '/readyz')
    assert.equal(ready.status, 200, ex(ready))

    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))

    const rs = [
      await api('GET', `/v1/sessions/${c.json.id}`),
      await api('POST', '/v1/sessions', { json: { data: {} } }),
      await api('PUT', `/v1/sessions/${newId('down')}`, { json: { data: {} } }),
      await api('PATCH', `/v1/sessions/${c.json.id}`, { json: { b: 1 }, type: 'application/merge-patch+json' }),
      await api('POST', `/v1/sessions/${c.json.id}/touch`),
      await api('DELETE', `/v1/sessions/${c.json.id}`),
    ]
    for (const r of rs) {
      assertProblem(r, 503)
      assert.ok(r.headers.get('retry-after'), `Retry-After: ${ex(r)}`)
      assert.doesNotMatch(r.text, /wJalrXUtnFEMI|AKIDEXAMPLE|Signature=|127\.0\.0\.1/, `no internals: ${ex(r)}`)
    }
    // /readyz is cached "a few seconds": wait for it to notice.
    let last
    const until = Date.now() + 30000
    while (Date.now() < until) {
      last = await api('GET', '/readyz')
      if (last.status === 503) break
      await new Promise((r) => setTimeout(r, 250))
    }
    assert.equal(last.status, 503, ex(last))
    assert.doesNotMatch(last.text, /wJalrXUtnFEMI/, ex(last))
    const h = await api('GET', '/healthz')
    assert.equal(h.status, 200, ex(h))
  })
})
