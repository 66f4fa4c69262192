'use strict'
// Issue 15: connect-sessiond's sliding reads. A page view of an unchanged
// session (express-session: store.get, then store.touch) becomes one call to
// sessiond, GET ?touch=1&ttl=N, and with session.touch_after usually no
// DynamoDB write. First against a fake sessiond (the exact requests), then a
// real express app against the real daemon and dynalite, counting sessiond's
// HTTP requests and DynamoDB calls from its /metrics.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')

const express = require('express')
const session = require('express-session')
const { SessiondStore } = require('..')
const { startDaemon, request } = require('../../../tests/integration/lib/daemon')

const T = { timeout: 30000 }
const SID = 'sliding-test-sid-1'

function fakeServer(handler) {
  const requests = []
  const srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, body })
      handler(req, res, body)
    })
  })
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${srv.address().port}`, requests, close: () => new Promise((r) => srv.close(r)) })
    )
  )
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

const MAX_AGE = 3600 * 1000
const data = { cookie: { originalMaxAge: MAX_AGE, path: '/' }, user: 1 }
const live = (maxAge) => ({ cookie: new session.Cookie({ maxAge }), user: 1 })

describe('sliding reads against a fake sessiond', () => {
  let srv
  let touchHeader
  let status
  before(async () => {
    srv = await fakeServer((req, res) => {
      if (req.method === 'GET' && status !== 200) {
        const doc = { type: 'about:blank', title: 'Bad Request', status }
        return json(res, status, doc)
      }
      if (req.method === 'GET') {
        const h = touchHeader && req.url.includes('touch=1') ? { 'Sessiond-Touch': touchHeader } : {}
        return json(res, 200, { id: SID, data, expires: 1, version: 1 }, h)
      }
      json(res, 200, { id: SID, expires: 1, version: 1 })
    })
  })
  after(() => srv.close())

  it('the first read is plain; then reads slide with the cookie\'s ttl and the touch after them sends nothing', T, async () => {
    touchHeader = 'written'
    status = 200
    const store = new SessiondStore({ url: srv.url })
    const from = srv.requests.length
    await store.get(SID)
    await store.touch(SID, live(MAX_AGE))
    await store.get(SID)
    await store.touch(SID, live(MAX_AGE))
    touchHeader = 'skipped'
    await store.get(SID)
    await store.touch(SID, live(MAX_AGE))
    store.close()
    assert.deepEqual(srv.requests.slice(from).map((r) => `${r.method} ${r.url}`), [
      `GET /v1/sessions/${SID}`,
      `POST /v1/sessions/${SID}/touch`,
      `GET /v1/sessions/${SID}?touch=1&ttl=3600`,
      `GET /v1/sessions/${SID}?touch=1&ttl=3600`,
    ])
  })

  it('the touch is still sent when the read did not slide, or slid elsewhere', T, async () => {
    status = 200
    touchHeader = undefined // a sessiond 1.0: no Sessiond-Touch header
    const store = new SessiondStore({ url: srv.url })
    await store.get(SID)
    const from = srv.requests.length
    await store.get(SID)
    await store.touch(SID, live(MAX_AGE))
    touchHeader = 'written'
    await store.get(SID)
    await store.touch(SID, live(2 * MAX_AGE)) // another maxAge than the read's
    await store.touch(SID, live(MAX_AGE)) // no read before it
    store.close()
    assert.deepEqual(srv.requests.slice(from).map((r) => `${r.method} ${r.url}`), [
      `GET /v1/sessions/${SID}?touch=1&ttl=3600`,
      `POST /v1/sessions/${SID}/touch`,
      `GET /v1/sessions/${SID}?touch=1&ttl=3600`,
      `POST /v1/sessions/${SID}/touch`,
      `POST /v1/sessions/${SID}/touch`,
    ])
  })

  it('a sessiond that refuses the ttl (400): read again plainly, and plain reads from then on', T, async () => {
    touchHeader = 'written'
    status = 200
    const store = new SessiondStore({ url: srv.url })
    await store.get(SID)
    status = 400
    const from = srv.requests.length
    const before = srv.requests.length
    // The fake refuses every GET while status is 400; let the plain one pass.
    const orig = srv.requests.push.bind(srv.requests)
    srv.requests.push = (r) => {
      if (!r.url.includes('touch=1')) status = 200
      return orig(r)
    }
    assert.deepEqual(await store.get(SID), data)
    srv.requests.push = orig
    await store.get(SID)
    store.close()
    assert.ok(srv.requests.length > before)
    assert.deepEqual(srv.requests.slice(from).map((r) => r.url), [
      `/v1/sessions/${SID}?touch=1&ttl=3600`,
      `/v1/sessions/${SID}`,
      `/v1/sessions/${SID}`,
    ])
  })

  it('slidingReads: false keeps every read plain; a bad value is refused', T, async () => {
    touchHeader = 'written'
    status = 200
    const store = new SessiondStore({ url: srv.url, slidingReads: false })
    const from = srv.requests.length
    await store.get(SID)
    await store.get(SID)
    store.close()
    assert.deepEqual(srv.requests.slice(from).map((r) => r.url), [`/v1/sessions/${SID}`, `/v1/sessions/${SID}`])
    assert.throws(() => new SessiondStore({ url: srv.url, slidingReads: 'yes' }), /slidingReads must be a boolean/)
  })
})

// ---------------------------------------------------------------------------
// A real express app

const counter = (text, re) => [...text.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0)

async function metrics(d) {
  const m = (await request(d.url, 'GET', '/metrics')).text
  return {
    http: counter(m, /^sessiond_http_requests_total\{route="(?:get|touch|put|create|patch|delete)",code="\d+"\} (\d+)$/gm),
    reads: counter(m, /^sessiond_dynamodb_requests_total\{operation="GetItem",outcome="[^"]+"\} (\d+)$/gm),
    writes: counter(m, /^sessiond_dynamodb_requests_total\{operation="(?:PutItem|UpdateItem|DeleteItem)",outcome="[^"]+"\} (\d+)$/gm),
  }
}

function app(store, rolling) {
  const a = express()
  a.use(session({ store, secret: 'sliding', name: 'sid', resave: false, saveUninitialized: false, rolling, cookie: { maxAge: MAX_AGE } }))
  a.post('/login', (req, res) => {
    req.session.user = 'ann'
    res.json({ ok: true })
  })
  a.get('/page', (req, res) => res.json({ user: req.session.user ?? null }))
  return a
}

function listen(a) {
  return new Promise((resolve) => {
    const s = a.listen(0, '127.0.0.1', () => resolve(s))
  })
}

async function browse(base, n) {
  const login = await fetch(`${base}/login`, { method: 'POST' })
  await login.text() // the answer ends once the session is saved
  const cookie = login.headers.get('set-cookie').split(';')[0]
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${base}/page`, { headers: { cookie } })
    assert.deepEqual(await r.json(), { user: 'ann' })
  }
}

for (const [touchAfter, rolling] of [[0, false], [60, false], [60, true]]) {
  describe(`a real express app, touch_after = ${touchAfter}, rolling = ${rolling}`, () => {
    let d
    let server
    let store
    before(async () => {
      d = await startDaemon({ session: { touch_after: touchAfter }, log: { level: 'info' } })
      store = new SessiondStore({ url: d.url })
      server = await listen(app(store, rolling))
    })
    after(async () => {
      server.close()
      store.close()
      await d.stop()
    })

    it('a page view of an unchanged session is one call to sessiond; with touch_after, no write', T, async () => {
      const base = `http://127.0.0.1:${server.address().port}`
      await browse(base, 2) // login, then the store learns the cookie's ttl
      const m0 = await metrics(d)
      const N = 10
      const login = await fetch(`${base}/login`, { method: 'POST' })
      await login.text()
      const cookie = login.headers.get('set-cookie').split(';')[0]
      const m1 = await metrics(d)
      for (let i = 0; i < N; i++) {
        const r = await fetch(`${base}/page`, { headers: { cookie } })
        assert.deepEqual(await r.json(), { user: 'ann' })
      }
      const m2 = await metrics(d)
      assert.equal(m1.http - m0.http, 1, 'the login: one PUT')
      assert.equal(m2.http - m1.http, N, 'one sessiond request per page view')
      if (touchAfter === 0) {
        assert.equal(m2.writes - m1.writes, N, 'one UpdateItem per page view')
        assert.equal(m2.reads - m1.reads, 0, 'and no GetItem')
      } else {
        assert.equal(m2.writes - m1.writes, 0, 'no write: each touch moves expires by less than 60 s')
        assert.equal(m2.reads - m1.reads, N, 'one GetItem per page view')
      }
    })
  })
}
