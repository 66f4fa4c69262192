'use strict'
// Compatibility with the real npm packages express-session + connect-dynamodb
// (+ @aws-sdk/client-dynamodb): a Node app and the daemon share one table,
// in both directions (docs/api.md, "Storage layout").

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const session = require('express-session')
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
const DynamoDBStore = require('connect-dynamodb')(session)

const { startDaemon, request, describeExchange, uniqueTable, ddbEndpoint } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 30000 }

function makeStore(table) {
  const client = new DynamoDBClient({
    endpoint: ddbEndpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
  })
  // initialized: the table exists already (the daemon or the test made it);
  // connect-dynamodb would otherwise create a provisioned one itself.
  const store = new DynamoDBStore({ client, table, initialized: true })
  const p = (fn, ...args) =>
    new Promise((resolve, reject) => fn.call(store, ...args, (err, v) => (err ? reject(err) : resolve(v))))
  return {
    store,
    client,
    set: (sid, sess) => p(store.set, sid, sess),
    get: (sid) => p(store.get, sid),
    touch: (sid, sess) => p(store.touch, sid, sess),
    destroy: (sid) => p(store.destroy, sid),
    close: () => client.destroy(),
  }
}

// A session object as express-session hands it to its store: a live Cookie
// (connect-dynamodb reads cookie.maxAge from it) plus the app's members.
function expressSession(maxAgeMs, extra = {}) {
  const cookie = new session.Cookie({ maxAge: maxAgeMs, httpOnly: true, path: '/' })
  return { cookie, ...extra }
}
// What the store writes as sess and returns from get: the JSON form.
const plain = (v) => JSON.parse(JSON.stringify(v))

const now = () => Math.floor(Date.now() / 1000)
let sidSeq = 0
const newSid = (tag) => `compat-${tag}-${process.pid}-${++sidSeq}`

// Needs no daemon: checks that the store and the test's table client agree
// on the layout api.md documents (so the daemon tests below compare against
// what connect-dynamodb really writes).
describe('connect-dynamodb layout (no daemon)', () => {
  const ddb = ddbLib.client()
  const table = uniqueTable('cdb')
  let s

  before(async () => {
    await ddb.createTable(table)
    s = makeStore(table)
  }, T)
  after(async () => {
    if (s) s.close()
    await ddb.deleteTable(table).catch(() => {})
  }, T)

  it('store.set writes id=sess:+sid, fractional expires, type, sess and no version', T, async () => {
    const sid = newSid('layout')
    const sess = expressSession(3600500, { user: 42, tags: ['a', 'b'] })
    const before = now()
    await s.set(sid, sess)
    const item = await ddb.getItem(table, ddb.key(sid))
    assert.ok(item, 'the store wrote an item')
    assert.deepEqual(Object.keys(item).sort(), ['expires', 'id', 'sess', 'type'])
    assert.equal(item.id.S, 'sess:' + sid)
    assert.equal(item.type.S, 'connect-session')
    assert.deepEqual(JSON.parse(item.sess.S), plain(sess))
    assert.match(item.expires.N, /^\d+\.\d+$/, 'maxAge 3600500 ms gives a fractional expires')
    const e = Number(item.expires.N)
    assert.ok(e >= before + 3600 && e <= now() + 3601, `expires ${e}`)
    assert.deepEqual(await s.get(sid), plain(sess))
    await s.touch(sid, expressSession(7200000))
    const touched = await ddb.getItem(table, ddb.key(sid))
    // The cookie's maxAge counts down from its creation, so expires lands a
    // few milliseconds short of before + 7200.
    assert.ok(Number(touched.expires.N) >= before + 7199, `touched expires ${touched.expires.N}`)
    await s.destroy(sid)
    assert.equal(await ddb.getItem(table, ddb.key(sid)), undefined)
    assert.equal(await s.get(sid), null)
  })

  it('store.get of an item with expires <= now is null', T, async () => {
    const sid = newSid('expired')
    await ddb.putItem(table, ddbLib.sessionItem(sid, { data: { a: 1 }, expires: now() - 5 + 0.25 }))
    assert.equal(await s.get(sid), null)
  })
})

describe('sessiond and connect-dynamodb share sessions', () => {
  const ddb = ddbLib.client()
  let d
  let s
  const api = (method, path, opts) => request(d.url, method, path, opts)

  before(async () => {
    d = await startDaemon()
    s = makeStore(d.table)
  }, T)
  after(async () => {
    if (s) s.close()
    if (d) await d.stop()
  }, T)

  it('a session the Node store wrote (fractional expires, no version) is read by the daemon as version 0', T, async () => {
    const sid = newSid('node2d')
    const sess = expressSession(3600500, { user: 42, nested: { x: [1, 2, { y: null }] }, s: 'é "quoted" \\ ✓' })
    await s.set(sid, sess)
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.match(item.expires.N, /\./, 'connect-dynamodb wrote a fractional expires')
    const stored = Number(item.expires.N)

    const r = await api('GET', `/v1/sessions/${sid}`)
    assert.equal(r.status, 200, describeExchange(r))
    assert.equal(r.json.id, sid, describeExchange(r))
    assert.deepEqual(r.json.data, plain(sess), describeExchange(r))
    assert.equal(r.json.version, 0, describeExchange(r))
    assert.equal(r.headers.get('etag'), '"0"', describeExchange(r))
    assert.ok(Number.isInteger(r.json.expires), `expires is an integer: ${describeExchange(r)}`)
    assert.ok(Math.abs(r.json.expires - stored) <= 1, `expires ${r.json.expires} vs stored ${stored}`)

    const h = await api('HEAD', `/v1/sessions/${sid}`)
    assert.equal(h.status, 200, describeExchange(h))
    assert.equal(h.headers.get('etag'), '"0"', describeExchange(h))
  })

  it('a session the daemon created (POST) is read by the Node store', T, async () => {
    const data = plain(expressSession(86400000, { user: 7, cart: [{ sku: 'x', n: 2 }] }))
    const r = await api('POST', '/v1/sessions', { json: { data, ttl: 3600 } })
    assert.equal(r.status, 201, describeExchange(r))
    const got = await s.get(r.json.id)
    assert.deepEqual(got, data)
  })

  it('data is stored as the client wrote it, without the whitespace between tokens, and reads back equal everywhere', T, async () => {
    // Escapes, number forms and key order as written; only the spacing goes.
    const text = '{ "ttl" : 600 ,\n  "data" : {\n    "name" : "Jos\\u00e9 \\"J\\" { x }",\n    "n" : [ 1.50 , 1e2 , -0 ],\n    "z" : { } , "a" : null\n  }\n}\n'
    const r = await api('POST', '/v1/sessions', { body: text, type: 'application/json' })
    assert.equal(r.status, 201, describeExchange(r))
    const item = await ddb.getItem(d.table, ddb.key(r.json.id))
    assert.equal(item.sess.S, '{"name":"Jos\\u00e9 \\"J\\" { x }","n":[1.50,1e2,-0],"z":{},"a":null}')
    const want = JSON.parse(text).data
    assert.deepEqual(r.json.data, want)
    assert.deepEqual((await api('GET', `/v1/sessions/${r.json.id}`)).json.data, want)
    assert.deepEqual(await s.get(r.json.id), want)
    // The same for a replacement.
    const p = await api('PUT', `/v1/sessions/${r.json.id}`, { body: '{"data": { "b" : [ true ] } }', type: 'application/json' })
    assert.equal(p.status, 200, describeExchange(p))
    assert.equal((await ddb.getItem(d.table, ddb.key(r.json.id))).sess.S, '{"b":[true]}')
  })

  it('a session the daemon PUT under a chosen id is read by the Node store, and a replacement too', T, async () => {
    const sid = newSid('put')
    const data = plain(expressSession(600000, { user: 'alice' }))
    let r = await api('PUT', `/v1/sessions/${sid}`, { json: { data, ttl: 600 } })
    assert.equal(r.status, 201, describeExchange(r))
    assert.deepEqual(await s.get(sid), data)
    const data2 = plain(expressSession(600000, { user: 'bob' }))
    r = await api('PUT', `/v1/sessions/${sid}`, { json: { data: data2, ttl: 600 } })
    assert.equal(r.status, 200, describeExchange(r))
    assert.deepEqual(await s.get(sid), data2)
  })

  it('the daemon can overwrite a Node-written session: PATCH makes it version 1 and the store sees the merge', T, async () => {
    const sid = newSid('patch')
    const sess = expressSession(3600500, { user: 1, drop: true })
    await s.set(sid, sess)
    const r = await api('PATCH', `/v1/sessions/${sid}`, {
      json: { user: 2, drop: null, added: 'yes' },
      type: 'application/merge-patch+json',
    })
    assert.equal(r.status, 200, describeExchange(r))
    assert.equal(r.json.version, 1, describeExchange(r))
    const expected = { ...plain(sess), user: 2, added: 'yes' }
    delete expected.drop
    assert.deepEqual(r.json.data, expected, describeExchange(r))
    assert.deepEqual(await s.get(sid), expected)
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.equal(item.version && item.version.N, '1')
  })

  it('If-Match "0" replaces a Node-written session (no version attribute yet)', T, async () => {
    const sid = newSid('ifmatch0')
    await s.set(sid, expressSession(3600000, { user: 1 }))
    const data = plain(expressSession(3600000, { user: 3 }))
    const r = await api('PUT', `/v1/sessions/${sid}`, { json: { data, ttl: 3600 }, headers: { 'If-Match': '"0"' } })
    assert.equal(r.status, 200, describeExchange(r))
    assert.equal(r.json.version, 1, describeExchange(r))
    assert.deepEqual(await s.get(sid), data)
  })

  it('store.touch on a daemon session keeps its data and version', T, async () => {
    const data = plain(expressSession(60000, { user: 9 }))
    const c = await api('POST', '/v1/sessions', { json: { data, ttl: 60 } })
    assert.equal(c.status, 201, describeExchange(c))
    await s.touch(c.json.id, expressSession(7200000))
    const r = await api('GET', `/v1/sessions/${c.json.id}`)
    assert.equal(r.status, 200, describeExchange(r))
    assert.deepEqual(r.json.data, data)
    assert.equal(r.json.version, 1)
    assert.ok(r.json.expires >= now() + 7000, describeExchange(r))
  })

  it('a Node-written session destroyed via the daemon is gone for the store', T, async () => {
    const sid = newSid('del-node')
    await s.set(sid, expressSession(3600000, { user: 5 }))
    assert.ok(await s.get(sid))
    const r = await api('DELETE', `/v1/sessions/${sid}`)
    assert.equal(r.status, 204, describeExchange(r))
    assert.equal(await s.get(sid), null)
    assert.equal(await ddb.getItem(d.table, ddb.key(sid)), undefined)
  })

  it('a daemon-created session destroyed via the daemon is gone for the store', T, async () => {
    const c = await api('POST', '/v1/sessions', { json: { data: plain(expressSession(3600000, { u: 1 })) } })
    assert.equal(c.status, 201, describeExchange(c))
    assert.ok(await s.get(c.json.id))
    const r = await api('DELETE', `/v1/sessions/${c.json.id}`)
    assert.equal(r.status, 204, describeExchange(r))
    assert.equal(await s.get(c.json.id), null)
  })

  it('a session the Node store destroyed is 404 for the daemon', T, async () => {
    const c = await api('POST', '/v1/sessions', { json: { data: { u: 2 } } })
    assert.equal(c.status, 201, describeExchange(c))
    await s.destroy(c.json.id)
    const r = await api('GET', `/v1/sessions/${c.json.id}`)
    assert.equal(r.status, 404, describeExchange(r))
  })

  it('a Node-written session that has expired (fractional expires) is 404 for the daemon', T, async () => {
    const sid = newSid('expired')
    // cookie.maxAge in the past: connect-dynamodb writes expires = now - 1.5
    await s.set(sid, expressSession(-1500, { user: 6 }))
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.ok(Number(item.expires.N) <= now())
    const r = await api('GET', `/v1/sessions/${sid}`)
    assert.equal(r.status, 404, describeExchange(r))
  })
})
