'use strict'
// connect-sessiond against a small scripted HTTP server standing in for
// sessiond: the exact requests it sends (method, path, headers, body), the
// 503 retry, timeouts, resets, problem documents turned into errors, and
// keep-alive reuse counted in sockets.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const util = require('node:util')

const session = require('express-session')
const { SessiondStore, SessiondError, requestIdMiddleware } = require('..')

const T = { timeout: 15000 }
const SID = 'Zk3q9sX_-secret.sid~42'
const TOKEN = 'tok-0123456789abcdef'

// A scripted stand-in for sessiond. handler(req, res, body, n) answers the
// n-th request (0-based); every request is recorded with its socket number.
async function fakeServer(handler) {
  const requests = []
  let sockets = 0
  const open = new Set()
  const server = http.createServer({ keepAliveTimeout: 30000 }, (req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const n = requests.length
      requests.push({ method: req.method, url: req.url, headers: req.headers, body, socket: req.socket.n, at: Date.now() })
      handler(req, res, body, n)
    })
  })
  server.on('connection', (s) => {
    s.n = ++sockets
    open.add(s)
    s.on('close', () => open.delete(s))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address()
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    sockets: () => sockets,
    openSockets: () => open.size,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(r)
      }),
  }
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}
function problem(res, status, title, detail, headers = {}) {
  const doc = { type: 'about:blank', title, status }
  if (detail !== undefined) doc.detail = detail
  const text = JSON.stringify(doc)
  res.writeHead(status, { 'Content-Type': 'application/problem+json', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}
const resource = (data) => ({ id: SID, data, expires: Math.floor(Date.now() / 1000) + 60, version: 1 })

// A session as express-session hands it to set/touch: a live Cookie.
const liveSession = (maxAge, extra = {}) => ({ cookie: new session.Cookie({ maxAge }), ...extra })

// Asserts that neither the error's message nor anything util.inspect shows
// of it (cause included) carries the session id or the token.
function assertNoSecrets(err, ...secrets) {
  const shown = `${err.message}\n${err.stack}\n${util.inspect(err, { depth: 10 })}`
  for (const s of [SID, TOKEN, ...secrets]) assert.ok(!shown.includes(s), `"${s}" must not appear in: ${shown}`)
}

describe('requests sent to sessiond', () => {
  let srv
  let store
  let reply
  before(async () => {
    srv = await fakeServer((req, res, body, n) => reply(req, res, body, n))
    store = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs: 3000 })
  })
  after(async () => {
    store.close()
    await srv.close()
  })

  it('get: GET /v1/sessions/{id} with the Bearer token; 200 answers data, 404 answers null', T, async () => {
    const data = { cookie: { originalMaxAge: 1000, path: '/' }, user: 42 }
    reply = (req, res) =>
      req.url.split('?')[0].endsWith('/gone') ? problem(res, 404, 'Not Found', 'no such session') : json(res, 200, resource(data))
    const fresh = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs: 3000 })
    const from = srv.requests.length
    assert.deepEqual(await fresh.get(SID), data)
    assert.equal(await fresh.get('gone'), null)
    fresh.close()
    const [r1, r2] = srv.requests.slice(from)
    assert.equal(r1.method, 'GET')
    assert.equal(r1.url, `/v1/sessions/${SID}`, 'a plain read until the store knows the ttl its touches ask for')
    assert.equal(r1.headers.authorization, `Bearer ${TOKEN}`)
    assert.equal(r1.body, '')
    // Then sliding reads, with the ttl of the cookie it saw (1000 ms: 1 s).
    assert.equal(r2.url, '/v1/sessions/gone?touch=1&ttl=1')
  })

  it('set: PUT {data, ttl} with ttl = ceil(maxAge / 1000); 200 and 201 both succeed', T, async () => {
    let status = 201
    reply = (req, res) => json(res, status, resource({}))
    const from = srv.requests.length
    const sess = liveSession(3600900, { user: 7, s: 'é ✓' })
    await store.set(SID, sess)
    status = 200
    await store.set(SID, sess)
    const r = srv.requests[from]
    assert.equal(r.method, 'PUT')
    assert.equal(r.url, `/v1/sessions/${SID}`)
    assert.match(r.headers['content-type'], /^application\/json\b/)
    assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body))
    const body = JSON.parse(r.body)
    assert.deepEqual(Object.keys(body).sort(), ['data', 'ttl'])
    assert.deepEqual(body.data, JSON.parse(JSON.stringify(sess)), 'data is the session as JSON, cookie included')
    assert.equal(body.ttl, 3601, 'a fraction of a second rounds up')
    assert.equal(srv.requests.length, from + 2)
  })

  it('set: a browser-session cookie (no maxAge/expires) lives one day', T, async () => {
    reply = (req, res) => json(res, 201, resource({}))
    const from = srv.requests.length
    await store.set(SID, { cookie: new session.Cookie({}) })
    assert.equal(JSON.parse(srv.requests[from].body).ttl, 86400)
  })

  it('set with an expired cookie deletes the session instead (no PUT)', T, async () => {
    reply = (req, res) => {
      res.writeHead(204)
      res.end()
    }
    const from = srv.requests.length
    await store.set(SID, liveSession(-1000, { user: 1 }))
    await store.set(SID, { cookie: { maxAge: 0 } })
    const sent = srv.requests.slice(from).map((r) => `${r.method} ${r.url}`)
    assert.deepEqual(sent, [`DELETE /v1/sessions/${SID}`, `DELETE /v1/sessions/${SID}`])
  })

  it('touch: POST .../touch {ttl}; a 404 is "gone": no error and nothing written after it', T, async () => {
    let gone = false
    reply = (req, res) =>
      gone ? problem(res, 404, 'Not Found', 'no such session') : json(res, 200, { id: SID, expires: 1, version: 3 })
    const from = srv.requests.length
    await store.touch(SID, liveSession(60000))
    gone = true
    const err = await new Promise((resolve) => store.touch(SID, liveSession(60000), resolve))
    assert.equal(err, null, 'a touch of a session sessiond no longer has is not an error')
    const sent = srv.requests.slice(from)
    assert.deepEqual(
      sent.map((r) => `${r.method} ${r.url}`),
      [`POST /v1/sessions/${SID}/touch`, `POST /v1/sessions/${SID}/touch`],
      'only touches: never a PUT that would recreate the session'
    )
    assert.deepEqual(JSON.parse(sent[0].body), { ttl: 60 })
    assert.match(sent[0].headers['content-type'], /^application\/json\b/)
  })

  it('touch with an expired cookie deletes the session (no touch)', T, async () => {
    reply = (req, res) => {
      res.writeHead(204)
      res.end()
    }
    const from = srv.requests.length
    await store.touch(SID, liveSession(-1))
    assert.deepEqual(srv.requests.slice(from).map((r) => r.method), ['DELETE'])
  })

  it('destroy: DELETE; 204 and 404 both succeed', T, async () => {
    let n = 0
    reply = (req, res) => {
      if (n++ === 0) {
        res.writeHead(204)
        res.end()
      } else problem(res, 404, 'Not Found')
    }
    const from = srv.requests.length
    await store.destroy(SID)
    await store.destroy(SID)
    assert.deepEqual(srv.requests.slice(from).map((r) => `${r.method} ${r.url}`), [
      `DELETE /v1/sessions/${SID}`,
      `DELETE /v1/sessions/${SID}`,
    ])
  })

  it('ids sessiond cannot hold: get is null and destroy a no-op without a request; set/touch fail without naming the id', T, async () => {
    reply = () => assert.fail('no request may be sent')
    const from = srv.requests.length
    const bad = 'bad/id with spaces+secret'
    assert.equal(await store.get(bad), null)
    assert.equal(await store.get(''), null)
    await store.destroy(bad)
    for (const op of ['set', 'touch']) {
      const err = await store[op](bad, liveSession(1000)).then(
        () => assert.fail(`${op} must fail`),
        (e) => e
      )
      assert.ok(err instanceof SessiondError)
      assert.equal(err.code, 'ERR_SESSIOND_BAD_ID')
      assertNoSecrets(err, bad)
    }
    assert.equal(srv.requests.length, from)
  })

  it('callbacks are called once, asynchronously; without a callback a Promise is returned', T, async () => {
    reply = (req, res) => json(res, 200, resource({ a: 1 }))
    let sync = true
    const calls = []
    const ret = store.get(SID, (...args) => {
      calls.push({ sync, args })
    })
    sync = false
    assert.equal(ret, undefined)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(calls.length, 1)
    assert.equal(calls[0].sync, false)
    assert.deepEqual(calls[0].args, [null, { a: 1 }])
    const p = store.get(SID)
    assert.ok(p instanceof Promise)
    assert.deepEqual(await p, { a: 1 })
  })

  it('a path prefix in url is kept', T, async () => {
    const s = new SessiondStore({ url: `${srv.url}/sessiond/`, timeoutMs: 2000 })
    reply = (req, res) => problem(res, 404, 'Not Found')
    const from = srv.requests.length
    await s.get(SID)
    s.close()
    assert.equal(srv.requests[from].url, `/sessiond/v1/sessions/${SID}`)
    assert.equal(srv.requests[from].headers.authorization, undefined, 'no token: no Authorization header')
  })
})

describe('X-Request-Id', () => {
  let srv
  let store
  before(async () => {
    srv = await fakeServer((req, res) => problem(res, 404, 'Not Found'))
    store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
  })
  after(async () => {
    store.close()
    await srv.close()
  })
  const lastRid = () => srv.requests[srv.requests.length - 1].headers['x-request-id']

  it('is not sent when the app has none', T, async () => {
    await store.get(SID)
    assert.equal(lastRid(), undefined)
  })

  it('requestIdMiddleware(): every store call inside the request sends its id (req.id, else its X-Request-Id header)', T, async () => {
    const mw = requestIdMiddleware()
    const inRequest = (req, fn) => new Promise((resolve, reject) => mw(req, {}, () => fn().then(resolve, reject)))
    await inRequest({ headers: { 'x-request-id': 'rid-header-1' } }, () => store.get(SID))
    assert.equal(lastRid(), 'rid-header-1')
    await inRequest({ id: 'rid-req-id-2', headers: { 'x-request-id': 'other' } }, async () => {
      await new Promise((r) => setTimeout(r, 5)) // still the request's context after an await
      await store.destroy(SID)
    })
    assert.equal(lastRid(), 'rid-req-id-2')
    await store.get(SID)
    assert.equal(lastRid(), undefined, 'outside the request: none')
  })

  it('set/touch of an express-session Session send the id of the request it belongs to', T, async () => {
    const req = { sessionID: SID, headers: { 'x-request-id': 'rid-from-session-req' } }
    const sess = new session.Session(req, { cookie: new session.Cookie({ maxAge: 1000 }) })
    assert.equal(sess.req, req)
    await store.touch(SID, sess)
    assert.equal(lastRid(), 'rid-from-session-req')
  })

  it('the requestId option wins; ids sessiond would not echo (spaces, too long) are not sent', T, async () => {
    let v = 'from-option'
    const s = new SessiondStore({ url: srv.url, requestId: () => v })
    await s.get(SID)
    assert.equal(lastRid(), 'from-option')
    for (v of ['has space', 'x'.repeat(129), 'nl\nx', '']) {
      await s.get(SID)
      assert.equal(lastRid(), undefined, JSON.stringify(v))
    }
    s.close()
  })
})

describe('errors', () => {
  it('a problem document becomes a SessiondError with its status, title and detail; no id, no token', T, async () => {
    const srv = await fakeServer((req, res) =>
      // A hostile or buggy server that echoes the id and the token back.
      problem(res, 500, 'Internal Server Error', `boom at /v1/sessions/${SID} with Bearer ${TOKEN}`, { 'X-Request-Id': 'srv-rid-9' })
    )
    const store = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs: 2000 })
    try {
      for (const [op, call] of [
        ['get', (cb) => store.get(SID, cb)],
        ['set', (cb) => store.set(SID, liveSession(1000), cb)],
        ['touch', (cb) => store.touch(SID, liveSession(1000), cb)],
        ['destroy', (cb) => store.destroy(SID, cb)],
      ]) {
        const err = await new Promise((resolve) => call(resolve))
        assert.ok(err instanceof Error && err instanceof SessiondError, op)
        assert.equal(err.status, 500)
        assert.equal(err.title, 'Internal Server Error')
        assert.equal(err.type, 'about:blank')
        assert.equal(err.code, 'ERR_SESSIOND_HTTP')
        assert.equal(err.operation, op)
        assert.equal(err.requestId, 'srv-rid-9')
        assert.match(err.message, new RegExp(`^sessiond ${op}: 500 Internal Server Error`))
        assert.match(err.detail, /boom/)
        assertNoSecrets(err)
      }
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('an answer that is no problem document (a proxy\'s HTML 502) gets the status\'s reason phrase', T, async () => {
    const srv = await fakeServer((req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' })
      res.end(`<h1>bad gateway for ${req.url}</h1>`)
    })
    const store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
    try {
      const err = await store.set(SID, liveSession(1000)).catch((e) => e)
      assert.equal(err.status, 502)
      assert.equal(err.title, 'Bad Gateway')
      assert.equal(err.message, 'sessiond set: 502 Bad Gateway')
      assertNoSecrets(err)
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('a 200 GET that is not JSON is an error, not a session', T, async () => {
    const srv = await fakeServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.end('hello')
    })
    const store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
    try {
      const err = await store.get(SID).catch((e) => e)
      assert.equal(err.code, 'ERR_SESSIOND_RESPONSE')
      assertNoSecrets(err)
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('connection refused: the socket error code, no id, no token', T, async () => {
    const srv = await fakeServer(() => {})
    const url = srv.url
    await srv.close() // the port is free now
    const store = new SessiondStore({ url, token: TOKEN, timeoutMs: 2000 })
    const err = await store.get(SID).catch((e) => e)
    store.close()
    assert.ok(err instanceof SessiondError)
    assert.equal(err.code, 'ECONNREFUSED')
    assert.match(err.message, /^sessiond get: cannot reach sessiond \(ECONNREFUSED\)$/)
    assertNoSecrets(err)
  })

  it('no answer within timeoutMs: ERR_SESSIOND_TIMEOUT, on time', T, async () => {
    const srv = await fakeServer(() => {}) // never answers
    const store = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs: 300 })
    try {
      const t0 = Date.now()
      const err = await new Promise((resolve) => store.set(SID, liveSession(1000), resolve))
      const took = Date.now() - t0
      assert.equal(err.code, 'ERR_SESSIOND_TIMEOUT')
      assert.equal(err.message, 'sessiond set: no answer within 300 ms')
      assert.ok(took >= 290 && took < 2000, `took ${took} ms`)
      assertNoSecrets(err)
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('after close(), calls fail and the store\'s connections are closed', T, async () => {
    const srv = await fakeServer((req, res) => problem(res, 404, 'Not Found'))
    const store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
    try {
      await store.get(SID)
      assert.equal(srv.openSockets(), 1, 'a kept-alive connection')
      store.close()
      const err = await store.get(SID).catch((e) => e)
      assert.equal(err.code, 'ERR_SESSIOND_CLOSED')
      for (let i = 0; i < 100 && srv.openSockets() > 0; i++) await new Promise((r) => setTimeout(r, 10))
      assert.equal(srv.openSockets(), 0, 'the idle connection was closed')
    } finally {
      await srv.close()
    }
  })
})

describe('503 and Retry-After', () => {
  async function scenario(answers, timeoutMs) {
    const srv = await fakeServer((req, res, body, n) => {
      const a = answers[Math.min(n, answers.length - 1)]
      if (a.status === 503) problem(res, 503, 'Service Unavailable', 'DynamoDB is unavailable (ThrottlingException)', a.headers)
      else json(res, a.status, { id: SID, expires: 1, version: 1, data: { ok: true } })
    })
    const store = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs })
    const t0 = Date.now()
    let err = null
    try {
      await store.touch(SID, liveSession(60000))
    } catch (e) {
      err = e
    }
    const took = Date.now() - t0
    store.close()
    await srv.close()
    return { err, took, requests: srv.requests }
  }

  it('a 503 is tried once more after Retry-After, and that answer counts', T, async () => {
    const { err, requests } = await scenario([{ status: 503, headers: { 'Retry-After': '1' } }, { status: 200 }], 3000)
    assert.equal(err, null)
    assert.equal(requests.length, 2)
    const waited = requests[1].at - requests[0].at
    assert.ok(waited >= 990, `the retry came ${waited} ms after the 503; Retry-After asked for 1000`)
    assert.deepEqual(JSON.parse(requests[1].body), JSON.parse(requests[0].body), 'the same request again')
    assert.equal(requests[1].headers.authorization, `Bearer ${TOKEN}`)
  })

  it('only once: a second 503 fails with status 503 and the problem\'s title', T, async () => {
    const { err, requests } = await scenario([{ status: 503, headers: { 'Retry-After': '0' } }], 3000)
    assert.equal(requests.length, 2)
    assert.ok(err instanceof SessiondError)
    assert.equal(err.status, 503)
    assert.equal(err.title, 'Service Unavailable')
    assert.match(err.message, /^sessiond touch: 503 Service Unavailable \(DynamoDB is unavailable \(ThrottlingException\)\)$/)
    assertNoSecrets(err)
  })

  it('no retry when Retry-After does not fit in timeoutMs: the 503 at once', T, async () => {
    const { err, took, requests } = await scenario([{ status: 503, headers: { 'Retry-After': '5' } }, { status: 200 }], 1000)
    assert.equal(requests.length, 1)
    assert.equal(err.status, 503)
    assert.ok(took < 900, `failed after ${took} ms, not after waiting`)
  })

  it('Retry-After as an HTTP date is honoured the same way', T, async () => {
    const at = new Date(Date.now() + 3000).toUTCString()
    const { err, requests } = await scenario([{ status: 503, headers: { 'Retry-After': at } }, { status: 200 }], 1000)
    assert.equal(requests.length, 1, 'a date 2-3 s ahead does not fit in 1000 ms')
    assert.equal(err.status, 503)
  })
})

describe('keep-alive', () => {
  it('sequential calls share one connection', T, async () => {
    const srv = await fakeServer((req, res) => {
      if (req.method === 'DELETE') {
        res.writeHead(204)
        return res.end()
      }
      if (req.method === 'GET') return problem(res, 404, 'Not Found')
      json(res, 200, resource({}))
    })
    const store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
    try {
      for (let i = 0; i < 5; i++) {
        await store.get(SID)
        await store.set(SID, liveSession(1000))
        await store.touch(SID, liveSession(1000))
        await store.destroy(SID)
      }
      assert.equal(srv.requests.length, 20)
      assert.equal(srv.sockets(), 1, 'one TCP connection for 20 calls')
      await Promise.all([store.get(SID), store.get(SID), store.get(SID)])
      assert.ok(srv.sockets() <= 3, `${srv.sockets()} connections after 3 concurrent calls`)
      const before = srv.sockets()
      for (let i = 0; i < 5; i++) await store.get(SID)
      assert.equal(srv.sockets(), before, 'pooled connections are reused, not opened anew')
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('a kept-alive connection the server drops without answering is retried once on a new one', T, async () => {
    const perSocket = new Map()
    const srv = await fakeServer((req, res) => {
      const k = req.socket.n
      perSocket.set(k, (perSocket.get(k) || 0) + 1)
      if (perSocket.get(k) === 2) return req.socket.destroy() // the server's idle close, racing our request
      json(res, 200, resource({ n: 1 }))
    })
    const store = new SessiondStore({ url: srv.url, timeoutMs: 2000 })
    try {
      assert.deepEqual(await store.get(SID), { n: 1 })
      assert.deepEqual(await store.get(SID), { n: 1 }, 'retried on a fresh connection')
      assert.equal(srv.requests.length, 3)
      assert.equal(srv.sockets(), 2)
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('a fresh connection dropped without an answer is an error (not retried)', T, async () => {
    const srv = await fakeServer((req) => req.socket.destroy())
    const store = new SessiondStore({ url: srv.url, token: TOKEN, timeoutMs: 2000 })
    try {
      const err = await store.set(SID, liveSession(1000)).catch((e) => e)
      assert.equal(err.code, 'ECONNRESET')
      assert.equal(srv.requests.length, 1)
      assertNoSecrets(err)
    } finally {
      store.close()
      await srv.close()
    }
  })

  it('an agent passed in options is used as is', T, async () => {
    const srv = await fakeServer((req, res) => problem(res, 404, 'Not Found'))
    const agent = new http.Agent({ keepAlive: true })
    let created = 0
    const orig = agent.createConnection.bind(agent)
    agent.createConnection = (...a) => {
      created++
      return orig(...a)
    }
    const store = new SessiondStore({ url: srv.url, agent, timeoutMs: 2000 })
    try {
      await store.get(SID)
      await store.get(SID)
      assert.equal(created, 1)
      store.close()
      assert.equal(srv.openSockets(), 1, "close() leaves the caller's agent alone")
    } finally {
      agent.destroy()
      await srv.close()
    }
  })
})
