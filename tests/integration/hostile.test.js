'use strict'
// Hostile and malformed HTTP/1.1 on a raw socket: each must get a 4xx status
// line and a closed connection (Connection: close or the socket ending), and
// nothing may reach the table.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon, rawExchange, request } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 30000 }
const MAX_BODY = 100000
let seq = 0
const newId = (tag) => `hostile-${tag}-${process.pid}-${++seq}`

const show = (res) => JSON.stringify(res.raw.length > 1500 ? res.raw.slice(0, 1500) + '…' : res.raw)

function assertRejected(res, { status, range = [400, 499] } = {}) {
  assert.ok(res.status > 0, `a status line came back: ${show(res)} (closed=${res.closed}, ${res.closedBy})`)
  if (status !== undefined) assert.equal(res.status, status, `status line ${JSON.stringify(res.statusLine)}: ${show(res)}`)
  else assert.ok(res.status >= range[0] && res.status <= range[1], `4xx status line, got ${JSON.stringify(res.statusLine)}: ${show(res)}`)
  const conn = (res.headers.connection || []).join(',')
  assert.ok(res.closed || /\bclose\b/i.test(conn), `connection closed (Connection: close or socket end): ${show(res)}`)
}

const json = (o) => JSON.stringify(o)
function put(id, body, extraHeaders = '') {
  return (
    `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`
  )
}

describe('hostile requests', () => {
  const ddb = ddbLib.client()
  let d
  const raw = (bytes, opts) => rawExchange(d.port, bytes, opts)
  const absent = async (id) => assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined, `no item for ${id}`)

  before(async () => {
    d = await startDaemon({ limits: { max_body: MAX_BODY } })
  }, T)
  after(async () => {
    if (d) await d.stop()
  }, T)

  it('two Content-Length headers with different values', T, async () => {
    const id = newId('dupcl')
    const body = json({ data: { a: 1 } })
    const res = await raw(
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nContent-Length: ${body.length + 5}\r\n\r\n${body}`
    )
    assertRejected(res, { status: 400 })
    await absent(id)
  })

  it('a Content-Length list with different values', T, async () => {
    const id = newId('clist')
    const body = json({ data: { a: 1 } })
    const res = await raw(
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}, ${body.length + 5}\r\n\r\n${body}`
    )
    assertRejected(res, { status: 400 })
    await absent(id)
  })

  it('Content-Length together with Transfer-Encoding: chunked', T, async () => {
    const id = newId('clte')
    const body = json({ data: { a: 1 } })
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`
    const res = await raw(
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${chunked.length}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`
    )
    assertRejected(res)
    await absent(id)
  })

  it('a NUL byte in the request path', T, async () => {
    const res = await raw(`GET /v1/sessions/a\x00b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    assertRejected(res)
  })

  for (const [name, byte] of [['\\x01', '\x01'], ['\\x1b (ESC)', '\x1b'], ['\\x7f (DEL)', '\x7f'], ['\\t (TAB)', '\t']]) {
    it(`a control byte ${name} in the request path`, T, async () => {
      const id = `ctl${byte}x`
      const body = json({ data: { a: 1 } })
      const res = await raw(put(`${id}`, body))
      assertRejected(res)
    })
  }

  it('%00 in the id (decoded NUL)', T, async () => {
    const res = await raw(put('a%00b', json({ data: { a: 1 } }), 'Connection: close\r\n'))
    assertRejected(res, { status: 400 })
  })

  it('%0a and %0d%0a in the id (decoded line breaks)', T, async () => {
    for (const enc of ['a%0ab', 'a%0A', 'a%0d%0aX-Injected:%20yes']) {
      const res = await raw(put(enc, json({ data: { a: 1 } }), 'Connection: close\r\n'))
      assertRejected(res, { status: 400 })
      assert.equal(res.headers['x-injected'], undefined, `no header injection: ${show(res)}`)
    }
  })

  it('a body over max_body announced by Content-Length: 413 without sending the body', T, async () => {
    const id = newId('big')
    const res = await raw(
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${10 * MAX_BODY}\r\n\r\n` // and no body at all
    )
    assertRejected(res, { status: 413 })
    await absent(id)
  })

  it('the same with Expect: 100-continue: 413 instead of 100 Continue', T, async () => {
    const id = newId('expect')
    const res = await raw(
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${10 * MAX_BODY}\r\nExpect: 100-continue\r\n\r\n`
    )
    assert.deepEqual(res.interim, [], `no 100 Continue before the 413: ${show(res)}`)
    assertRejected(res, { status: 413 })
    await absent(id)
  })

  const chunkedOverLimit = (id, final) => {
    const piece = 'x'.repeat(32768)
    const chunks = [
      `PUT /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `8\r\n{"data":\r\n`,
    ]
    for (let i = 0; i < 5; i++) chunks.push(`${piece.length.toString(16)}\r\n${piece}\r\n`)
    if (final) chunks.push('0\r\n\r\n')
    return chunks
  }

  it('a complete chunked body over max_body: 413', T, async () => {
    const id = newId('chunked-big')
    const res = await raw(chunkedOverLimit(id, true), { pauseMs: 20 })
    assertRejected(res, { status: 413 })
    await absent(id)
  })

  it('a chunked body that grows over max_body: 413 once past the limit, without waiting for its end', T, async () => {
    // 160 KiB of chunks against a 100 kB limit, and no last chunk: the daemon
    // must not keep reading an unbounded upload before it answers.
    const id = newId('chunked-endless')
    const res = await raw(chunkedOverLimit(id, false), { pauseMs: 20, totalMs: 8000 })
    assertRejected(res, { status: 413 })
    await absent(id)
  })

  it('JSON nested 10,000 deep (objects, arrays) on PUT, POST and PATCH: 400', T, async () => {
    const depth = 10000
    const deepObj = `{"data":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`
    const deepArr = `{"data":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`
    assert.ok(deepObj.length < MAX_BODY && deepArr.length < MAX_BODY)
    for (const body of [deepObj, deepArr]) {
      const id = newId('deep')
      const res = await raw(put(id, body, 'Connection: close\r\n'))
      assertRejected(res, { status: 400 })
      await absent(id)
      const post = await raw(
        `POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
      )
      assertRejected(post, { status: 400 })
    }
    // PATCH of an existing session with a deep patch
    const id = newId('deep-patch')
    const ok = await request(d.url, 'PUT', `/v1/sessions/${id}`, { json: { data: { a: 1 } } })
    assert.equal(ok.status, 201, ok.text)
    const patch = `{"b":${'['.repeat(depth)}${']'.repeat(depth)}}`
    const res = await raw(
      `PATCH /v1/sessions/${id} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/merge-patch+json\r\n` +
        `Content-Length: ${patch.length}\r\nConnection: close\r\n\r\n${patch}`
    )
    assertRejected(res, { status: 400 })
    const item = await ddb.getItem(d.table, ddb.key(id))
    assert.deepEqual(JSON.parse(item.sess.S), { a: 1 })
    assert.equal(item.version.N, '1')
    await ddb.deleteItem(d.table, ddb.key(id))
  })

  it('afterwards: the daemon still serves and the table holds nothing those requests wrote', T, async () => {
    const h = await request(d.url, 'GET', '/healthz')
    assert.equal(h.status, 200, h.text)
    const items = await ddb.scan(d.table)
    assert.deepEqual(
      items.map((i) => i.id.S),
      [],
      'the table is empty'
    )
  })
})
