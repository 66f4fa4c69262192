'use strict'
// connect-sessiond in a real express app: express + express-session +
// SessiondStore against the real sessiond binary on a local DynamoDB engine
// (dynalite), driven over HTTP by a client with a cookie jar of its own.
// Covers what issue 9 lists: login, the cookie round trip, regenerate,
// destroy, rolling + touch, resave: false, concurrent requests of one
// session, sessiond down (a 5xx, not a hang), and sessions shared both ways
// with connect-dynamodb on the same table.
//
// Environment (as the repo's integration tests): SESSIOND_TEST_DDB_ENDPOINT
// (scripts/dynalite.sh start DIR) and SESSIOND_BIN.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const crypto = require('node:crypto')
const http = require('node:http')

const express = require('express')
const session = require('express-session')
const { SessiondStore, SessiondError } = require('..')
const { startDaemon, request, describeExchange, ddbEndpoint } = require('../../../tests/integration/lib/daemon')
const ddbLib = require('../../../tests/integration/lib/ddb')

const T = { timeout: 30000 }
const TOKEN = `express-token-${crypto.randomBytes(6).toString('hex')}`
const SECRET = 'express keyboard cat'
const MAX_AGE = 3600 * 1000
const nowS = () => Math.floor(Date.now() / 1000)
const withoutCookie = (s) => {
  const { cookie, ...rest } = s
  return rest
}

// ---------------------------------------------------------------------------
// The app: a small express app as the seed writes it; only the store varies.

function makeApp(store, sessionOptions = {}) {
  const app = express()
  const errors = []
  app.use(express.json())
  app.use(
    session({
      store,
      secret: SECRET,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE },
      ...sessionOptions,
    })
  )
  app.post('/login', (req, res) => {
    req.session.user = req.body.user
    req.session.visits = 0
    res.json({ ok: true, id: req.sessionID })
  })
  app.get('/me', (req, res) => {
    res.json({ user: req.session.user ?? null, visits: req.session.visits ?? null, id: req.sessionID })
  })
  app.post('/visit', (req, res) => {
    req.session.visits = (req.session.visits || 0) + 1
    res.json({ visits: req.session.visits })
  })
  // Sets one key of the session (the concurrency test).
  app.post('/put/:key', (req, res) => {
    req.session[req.params.key] = req.body.value
    res.json({ ok: true })
  })
  // A privilege change: a new id, the user carried over.
  app.post('/regenerate', (req, res, next) => {
    const user = req.session.user
    const oldId = req.sessionID
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.user = user
      res.json({ oldId, id: req.sessionID })
    })
  })
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => {
      if (err) return next(err)
      res.json({ ok: true })
    })
  })
  // Every error, express-session's included, ends here. Once the answer has
  // been committed (express-session saves while the last byte is held back)
  // there is nothing left to answer with: it is only recorded.
  app.use((err, req, res, next) => {
    errors.push(err)
    if (res.headersSent) return
    res.status(500).json({ error: err.message, code: err.code, status: err.status })
  })

  const server = http.createServer(app)
  return {
    errors,
    server,
    port: 0,
    async listen() {
      await new Promise((r) => server.listen(0, '127.0.0.1', r))
      this.port = server.address().port
      return this.port
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(r)
      }),
  }
}

// ---------------------------------------------------------------------------
// A browser: a cookie jar (Set-Cookie in, Cookie out) shared by every app it
// talks to (cookies are per host, not per port).

class Jar {
  constructor() {
    this.cookies = new Map() // name -> { value, attrs }
  }
  header() {
    return [...this.cookies].map(([k, c]) => `${k}=${c.value}`).join('; ')
  }
  take(setCookies = []) {
    for (const line of setCookies) {
      const [pair, ...rest] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const attrs = {}
      for (const a of rest) {
        const i = a.indexOf('=')
        const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase()
        attrs[k] = i < 0 ? true : a.slice(i + 1).trim()
      }
      const expired =
        (attrs['max-age'] !== undefined && Number(attrs['max-age']) <= 0) ||
        (typeof attrs.expires === 'string' && Date.parse(attrs.expires) <= Date.now())
      if (expired) this.cookies.delete(name)
      else this.cookies.set(name, { value, attrs })
    }
  }
  // The session id inside the signed sid cookie ("s:<id>.<signature>").
  get sid() {
    const c = this.cookies.get('sid')
    if (!c) return null
    const v = decodeURIComponent(c.value)
    assert.ok(v.startsWith('s:'), `a signed cookie: ${v}`)
    return v.slice(2, v.lastIndexOf('.'))
  }
}

const agent = new http.Agent({ keepAlive: false })

// One request to the app on port; resolves with { status, json, setCookie
// (the sid Set-Cookie line or undefined), ms }.
function call(port, jar, method, path, body) {
  const t0 = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const headers = {}
    const cookie = jar && jar.header()
    if (cookie) headers.Cookie = cookie
    let text
    if (body !== undefined) {
      text = JSON.stringify(body)
      headers['Content-Type'] = 'application/json'
      headers['Content-Length'] = Buffer.byteLength(text)
    }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let data = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (data += c))
      res.on('end', () => {
        const sc = res.headers['set-cookie'] || []
        if (jar) jar.take(sc)
        let json
        try {
          json = JSON.parse(data)
        } catch {
          json = undefined
        }
        resolve({
          status: res.statusCode,
          json,
          text: data,
          setCookie: sc.find((c) => c.startsWith('sid=')),
          ms: Number(process.hrtime.bigint() - t0) / 1e6,
        })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(20000, () => req.destroy(new Error(`${method} ${path}: no answer from the app within 20 s`)))
    req.end(text)
  })
}

// The store, recording the session each set() sent (the concurrency test).
class RecordingStore extends SessiondStore {
  constructor(options) {
    super(options)
    this.sets = []
    this.touches = 0
  }
  set(sid, sess, cb) {
    this.sets.push(JSON.parse(JSON.stringify(sess)))
    return super.set(sid, sess, cb)
  }
  touch(sid, sess, cb) {
    this.touches++
    return super.touch(sid, sess, cb)
  }
}

function connectDynamodbStore(table) {
  const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
  const DynamoDBStore = require('connect-dynamodb')(session)
  const client = new DynamoDBClient({
    endpoint: ddbEndpoint(),
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
    maxAttempts: 1,
  })
  // Same table, hashKey ("id") and prefix ("sess:") as sessiond's defaults.
  const store = new DynamoDBStore({ client, table, initialized: true })
  store.destroyClient = () => client.destroy()
  return store
}

// ---------------------------------------------------------------------------

describe('a real express app on SessiondStore against sessiond', () => {
  let d
  let store
  let app // resave: false, rolling: false
  let rolling // rolling: true
  let resave // resave: true
  const api = (method, p, opts = {}) =>
    request(d.url, method, p, { ...opts, headers: { Authorization: `Bearer ${TOKEN}`, ...(opts.headers || {}) } })
  // The session as sessiond holds it ({ id, data, expires, version }), or null.
  const stored = async (sid) => {
    const r = await api('GET', `/v1/sessions/${encodeURIComponent(sid)}`)
    assert.ok(r.status === 200 || r.status === 404, describeExchange(r))
    return r.status === 200 ? r.json : null
  }
  // Shortens the stored session's life behind the app's back (data kept), so
  // that a touch shows without waiting; answers the new version.
  const shorten = async (sid, ttl = 60) => {
    const s = await stored(sid)
    const r = await api('PUT', `/v1/sessions/${sid}`, { json: { data: s.data, ttl } })
    assert.equal(r.status, 200, describeExchange(r))
    return r.json.version
  }
  const login = async (a, user) => {
    const jar = new Jar()
    const r = await call(a.port, jar, 'POST', '/login', { user })
    assert.equal(r.status, 200, r.text)
    return jar
  }

  before(async () => {
    d = await startDaemon({ auth: { tokens: [TOKEN] }, log: { level: 'info' } })
    store = new RecordingStore({ url: d.url, token: TOKEN, timeoutMs: 5000 })
    app = makeApp(store)
    rolling = makeApp(store, { rolling: true })
    resave = makeApp(store, { resave: true })
    await Promise.all([app.listen(), rolling.listen(), resave.listen()])
  }, T)
  after(async () => {
    for (const a of [app, rolling, resave]) if (a) await a.close()
    if (store) store.close()
    if (d) assert.equal(await d.stop(), 0, 'sessiond exits 0 after SIGTERM')
  }, T)

  it('login sets a session: a signed HttpOnly cookie, and the session in sessiond with the cookie\'s expiry', T, async () => {
    const jar = new Jar()
    const t0 = nowS()
    const r = await call(app.port, jar, 'POST', '/login', { user: 'ada' })
    assert.equal(r.status, 200)
    assert.ok(r.setCookie, 'Set-Cookie: sid=...')
    const c = jar.cookies.get('sid')
    assert.equal(c.attrs.httponly, true)
    assert.equal(c.attrs.path, '/')
    assert.equal(jar.sid, r.json.id)
    const s = await stored(jar.sid)
    assert.ok(s, 'sessiond has the session')
    assert.equal(s.version, 1, 'one write')
    assert.deepEqual(withoutCookie(s.data), { user: 'ada', visits: 0 })
    assert.equal(s.data.cookie.httpOnly, true)
    assert.ok(s.expires >= t0 + 3600 && s.expires <= nowS() + 3601, `expires ${s.expires}, t0 ${t0}`)
    const cookieExpires = Date.parse(c.attrs.expires) / 1000
    assert.ok(Math.abs(s.expires - cookieExpires) <= 1, `stored ${s.expires} vs the cookie's Expires ${cookieExpires}`)
    assert.deepEqual(app.errors, [])
  })

  it('the cookie round trip reads it back; a modified session is written back (version + 1)', T, async () => {
    const jar = await login(app, 'grace')
    const me = await call(app.port, jar, 'GET', '/me')
    assert.equal(me.status, 200)
    assert.deepEqual(me.json, { user: 'grace', visits: 0, id: jar.sid })
    for (let i = 1; i <= 3; i++) {
      const v = await call(app.port, jar, 'POST', '/visit')
      assert.equal(v.json.visits, i)
    }
    const s = await stored(jar.sid)
    assert.equal(s.data.visits, 3)
    assert.equal(s.version, 4, 'the login and three modifying requests: four writes')
    // A cookie signed with another secret, or for a session sessiond does
    // not have, is a new, empty (and unsaved) session.
    const forged = new Jar()
    forged.cookies.set('sid', { value: encodeURIComponent(`s:${jar.sid}.AAAA`), attrs: {} })
    assert.equal((await call(app.port, forged, 'GET', '/me')).json.user, null)
    const unknown = new Jar()
    const ghost = crypto.randomBytes(24).toString('base64url')
    const mac = crypto.createHmac('sha256', SECRET).update(ghost).digest('base64').replace(/=+$/, '')
    unknown.cookies.set('sid', { value: encodeURIComponent(`s:${ghost}.${mac}`), attrs: {} })
    const g = await call(app.port, unknown, 'GET', '/me')
    assert.equal(g.json.user, null)
    assert.notEqual(g.json.id, ghost, 'a fresh id, not the unknown one')
    assert.equal(g.setCookie, undefined, 'nothing saved, no cookie (saveUninitialized: false)')
    assert.deepEqual(app.errors, [])
  })

  it('req.session.regenerate: the old id is destroyed in sessiond, the new one saved with the data carried over', T, async () => {
    const jar = await login(app, 'ken')
    const oldSid = jar.sid
    const oldJar = new Jar()
    oldJar.take([`sid=${jar.cookies.get('sid').value}`])
    const r = await call(app.port, jar, 'POST', '/regenerate')
    assert.equal(r.status, 200)
    assert.equal(r.json.oldId, oldSid)
    assert.notEqual(r.json.id, oldSid)
    assert.ok(r.setCookie, 'the new id is sent')
    assert.equal(jar.sid, r.json.id)
    assert.equal(await stored(oldSid), null, 'the old id is gone')
    const s = await stored(jar.sid)
    assert.equal(s.data.user, 'ken')
    assert.equal(s.version, 1, 'a new session')
    assert.equal((await call(app.port, jar, 'GET', '/me')).json.user, 'ken')
    assert.equal((await call(app.port, oldJar, 'GET', '/me')).json.user, null, 'the old cookie finds nothing')
    assert.deepEqual(app.errors, [])
  })

  it('destroy (logout): gone from sessiond; the old cookie then finds nothing and nothing is written', T, async () => {
    const jar = await login(app, 'linus')
    const sid = jar.sid
    assert.ok(await stored(sid))
    const r = await call(app.port, jar, 'POST', '/logout')
    assert.equal(r.status, 200)
    assert.equal(await stored(sid), null)
    const me = await call(app.port, jar, 'GET', '/me')
    assert.equal(me.json.user, null)
    assert.equal(me.setCookie, undefined)
    assert.equal(await stored(me.json.id), null, 'no new session for the empty one')
    // Logging out again with the stale cookie: express-session finds no
    // session, makes an empty one and destroys that (absent in sessiond): fine.
    assert.equal((await call(app.port, jar, 'POST', '/logout')).status, 200)
    assert.deepEqual(app.errors, [])
  })

  it('resave: false: an unmodified request writes nothing (a touch: version and data unchanged, expiry extended, no Set-Cookie)', T, async () => {
    const jar = await login(app, 'barbara')
    const v = await shorten(jar.sid, 60)
    const setsBefore = store.sets.length
    const touchesBefore = store.touches
    const t0 = nowS()
    const me = await call(app.port, jar, 'GET', '/me')
    assert.equal(me.json.user, 'barbara')
    assert.equal(me.setCookie, undefined, 'rolling: false sends no cookie for an unmodified session')
    const s = await stored(jar.sid)
    assert.equal(s.version, v, 'no write of data')
    assert.deepEqual(withoutCookie(s.data), { user: 'barbara', visits: 0 })
    assert.ok(s.expires >= t0 + 3599, `touched: expires ${s.expires} is now + 3600 again (t0 ${t0})`)
    assert.equal(store.sets.length, setsBefore, 'no set()')
    assert.equal(store.touches, touchesBefore + 1, 'one touch()')
    assert.deepEqual(app.errors, [])
  })

  it('resave: true, for contrast: the same unmodified request writes the whole session (version + 1)', T, async () => {
    const jar = await login(resave, 'margaret')
    const v = (await stored(jar.sid)).version
    const setsBefore = store.sets.length
    const me = await call(resave.port, jar, 'GET', '/me')
    assert.equal(me.json.user, 'margaret')
    assert.equal((await stored(jar.sid)).version, v + 1)
    assert.equal(store.sets.length, setsBefore + 1)
    assert.deepEqual(resave.errors, [])
  })

  it('rolling: true + touch: every request re-sends the cookie and touches sessiond to the same new expiry', T, async () => {
    const jar = await login(rolling, 'dennis')
    const first = jar.cookies.get('sid').attrs.expires
    const v = await shorten(jar.sid, 60)
    await new Promise((r) => setTimeout(r, 1100)) // so that the new Expires differs by a second
    const setsBefore = store.sets.length
    const t0 = nowS()
    const me = await call(rolling.port, jar, 'GET', '/me')
    assert.equal(me.json.user, 'dennis')
    assert.ok(me.setCookie, 'rolling: Set-Cookie on an unmodified request')
    const exp = jar.cookies.get('sid').attrs.expires
    assert.ok(Date.parse(exp) > Date.parse(first), `the cookie was rolled: ${first} -> ${exp}`)
    const s = await stored(jar.sid)
    assert.equal(s.version, v, 'a touch, not a write')
    assert.equal(store.sets.length, setsBefore)
    assert.ok(s.expires >= t0 + 3599, `sessiond's expiry extended: ${s.expires} (t0 ${t0})`)
    assert.ok(Math.abs(s.expires - Date.parse(exp) / 1000) <= 1, `stored ${s.expires} vs the rolled cookie's ${exp}`)
    // A modified request on a rolling session is a write, cookie re-sent too.
    const w = await call(rolling.port, jar, 'POST', '/visit')
    assert.ok(w.setCookie)
    assert.equal((await stored(jar.sid)).version, v + 1)
    assert.deepEqual(rolling.errors, [])
  })

  it('a touch of a session destroyed meanwhile does not bring it back', T, async () => {
    const jar = await login(app, 'ritchie')
    const sid = jar.sid
    // Destroyed behind the app's back (another server's logout, the reaper).
    assert.equal((await api('DELETE', `/v1/sessions/${sid}`)).status, 204)
    const me = await call(app.port, jar, 'GET', '/me')
    assert.equal(me.json.user, null, 'read as absent')
    assert.equal(await stored(sid), null)
    assert.equal(await stored(me.json.id), null)
    assert.deepEqual(app.errors, [])
  })

  it('20 concurrent requests of one session, each setting its own key: all answered, every change survives', T, async (t) => {
    // express-session loads the session at the start of each request and
    // writes it at the end when it was modified. The store sends a session
    // it read as a merge patch of what the request changed (PATCH), which
    // sessiond merges into the current version: the 20 overlapping requests
    // each add their own key and none overwrites another's (connect-dynamodb,
    // and this store before, wrote the whole session: last writer wins).
    const N = 20
    const jar = await login(app, 'concurrent')
    const sid = jar.sid
    const v0 = (await stored(sid)).version
    const sets0 = store.sets.length
    const rs = await Promise.all(
      Array.from({ length: N }, (_, i) => call(app.port, jar, 'POST', `/put/k${i}`, { value: i }))
    )
    for (const r of rs) assert.equal(r.status, 200, r.text)
    const s = await stored(sid)
    assert.equal(s.version, v0 + N, 'each modified request wrote once')
    assert.equal(store.sets.length - sets0, N)
    const final = withoutCookie(s.data)
    assert.equal(final.user, 'concurrent')
    for (let i = 0; i < N; i++) assert.equal(final[`k${i}`], i, `request ${i}'s change survives`)
    t.diagnostic(`keys surviving of ${N} concurrent writers: ${Object.keys(final).filter((k) => /^k\d+$/.test(k)).length}`)

    // The same session read concurrently: 20 touches, not one write.
    const v1 = s.version
    const reads = await Promise.all(Array.from({ length: N }, () => call(app.port, jar, 'GET', '/me')))
    for (const r of reads) assert.equal(r.json.user, 'concurrent')
    const after = await stored(sid)
    assert.equal(after.version, v1, 'concurrent unmodified requests write nothing')
    assert.deepEqual(after.data, s.data)
    assert.deepEqual(app.errors, [])
  })
})

// ---------------------------------------------------------------------------

describe('sessiond down: the app answers 5xx through express-session, it does not hang', () => {
  const TIMEOUT_MS = 1000
  let d
  let store
  let app
  let jar

  before(async () => {
    d = await startDaemon({ auth: { tokens: [TOKEN] }, log: { level: 'info' } })
    store = new SessiondStore({ url: d.url, token: TOKEN, timeoutMs: TIMEOUT_MS })
    app = makeApp(store)
    await app.listen()
    jar = new Jar()
    const r = await call(app.port, jar, 'POST', '/login', { user: 'ops' })
    assert.equal(r.status, 200)
    assert.equal((await call(app.port, jar, 'GET', '/me')).json.user, 'ops', 'a kept-alive connection to sessiond exists')
  }, T)
  after(async () => {
    if (d) {
      try {
        process.kill(d.child.pid, 'SIGCONT')
      } catch {}
      await d.stop()
    }
    if (app) await app.close()
    if (store) store.close()
  }, T)

  it('sessiond frozen (SIGSTOP: connections accepted, never answered): 500 after the store timeout', T, async () => {
    process.kill(d.child.pid, 'SIGSTOP')
    // The signal is asynchronous: wait until every thread is stopped ('T').
    const state = () => {
      try { return fs.readFileSync(`/proc/${d.child.pid}/stat`, 'utf8').split(') ')[1][0] } catch { return '?' }
    }
    for (let i = 0; i < 200 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(state(), 'T', 'sessiond is stopped')
    try {
      const n = app.errors.length
      const r = await call(app.port, jar, 'GET', '/me')
      assert.equal(r.status, 500, r.text)
      assert.equal(r.json.code, 'ERR_SESSIOND_TIMEOUT')
      assert.ok(r.ms >= TIMEOUT_MS - 50 && r.ms < TIMEOUT_MS + 3000, `answered after ${r.ms.toFixed(0)} ms (timeoutMs ${TIMEOUT_MS})`)
      const err = app.errors[n]
      assert.ok(err instanceof SessiondError)
      assert.equal(err.operation, 'get')
      // A new connection (the frozen one was given up) also times out.
      const r2 = await call(app.port, jar, 'GET', '/me')
      assert.equal(r2.status, 500)
      assert.ok(r2.ms < TIMEOUT_MS + 3000, `${r2.ms} ms`)
    } finally {
      process.kill(d.child.pid, 'SIGCONT')
    }
    // Thawed: the app works again.
    const ok = await call(app.port, jar, 'GET', '/me')
    assert.equal(ok.status, 200)
    assert.equal(ok.json.user, 'ops')
  })

  it('sessiond stopped (connection refused): 500 at once for a request with a session', T, async () => {
    assert.equal(await d.stop(), 0)
    const n = app.errors.length
    const r = await call(app.port, jar, 'GET', '/me')
    assert.equal(r.status, 500, r.text)
    assert.equal(r.json.code, 'ECONNREFUSED')
    assert.ok(r.ms < TIMEOUT_MS + 2000, `answered after ${r.ms.toFixed(0)} ms`)
    const err = app.errors[n]
    assert.ok(err instanceof SessiondError)
    assert.equal(err.operation, 'get')
    assert.match(err.message, /^sessiond get: cannot reach sessiond \(ECONNREFUSED\)/)
    assert.ok(!err.message.includes(jar.sid))
    // Several at once: each gets its 500, none hangs.
    const many = await Promise.all(Array.from({ length: 10 }, () => call(app.port, jar, 'GET', '/me')))
    for (const m of many) assert.equal(m.status, 500)
  })

  it('sessiond stopped, a request that saves (login): the answer was already committed, so it is 200, and the save error reaches the error handler', T, async () => {
    // express-session writes the session while holding back the answer's
    // last byte, then ends the answer whether or not the save worked and
    // passes the error to next(): the client cannot be told (the same with
    // every store). The app's error handler sees it; nothing hangs.
    const n = app.errors.length
    const fresh = new Jar()
    const r = await call(app.port, fresh, 'POST', '/login', { user: 'lost' })
    assert.equal(r.status, 200)
    assert.ok(r.ms < TIMEOUT_MS + 2000, `answered after ${r.ms.toFixed(0)} ms`)
    for (let i = 0; i < 100 && app.errors.length === n; i++) await new Promise((res) => setTimeout(res, 10))
    const err = app.errors[n]
    assert.ok(err instanceof SessiondError, String(err))
    assert.equal(err.operation, 'set')
    assert.equal(err.code, 'ECONNREFUSED')
  })

  it('a request without a session cookie needs no store and is answered normally', T, async () => {
    const r = await call(app.port, new Jar(), 'GET', '/me')
    assert.equal(r.status, 200)
    assert.equal(r.json.user, null)
  })
})

// ---------------------------------------------------------------------------

describe('interop: the same express app on connect-dynamodb and on connect-sessiond, one table', () => {
  const ddb = ddbLib.client()
  let d
  let sStore
  let cStore
  let viaSessiond
  let viaCdb
  const stored = async (sid) => {
    const r = await request(d.url, 'GET', `/v1/sessions/${sid}`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    assert.ok(r.status === 200 || r.status === 404, describeExchange(r))
    return r.status === 200 ? r.json : null
  }

  before(async () => {
    d = await startDaemon({ auth: { tokens: [TOKEN] }, log: { level: 'info' } })
    sStore = new SessiondStore({ url: d.url, token: TOKEN })
    cStore = connectDynamodbStore(d.table)
    viaSessiond = makeApp(sStore)
    viaCdb = makeApp(cStore)
    await Promise.all([viaSessiond.listen(), viaCdb.listen()])
  }, T)
  after(async () => {
    for (const a of [viaSessiond, viaCdb]) if (a) await a.close()
    if (cStore) cStore.destroyClient()
    if (sStore) sStore.close()
    if (d) await d.stop()
  }, T)

  it('a session written by connect-dynamodb is read through connect-sessiond, and written back readable to connect-dynamodb', T, async () => {
    const jar = new Jar()
    const r = await call(viaCdb.port, jar, 'POST', '/login', { user: 'from-cdb' })
    assert.equal(r.status, 200)
    const sid = jar.sid
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.equal(item.type.S, 'connect-session', "connect-dynamodb's own item")
    assert.equal(item.version, undefined)

    const me = await call(viaSessiond.port, jar, 'GET', '/me')
    assert.equal(me.status, 200)
    assert.deepEqual(me.json, { user: 'from-cdb', visits: 0, id: sid })
    assert.equal((await stored(sid)).version, 0, 'an item without version reads as version 0')

    // Modified through sessiond, then read (and modified) through connect-dynamodb.
    assert.equal((await call(viaSessiond.port, jar, 'POST', '/visit')).json.visits, 1)
    assert.equal((await stored(sid)).version, 1)
    assert.deepEqual((await call(viaCdb.port, jar, 'GET', '/me')).json, { user: 'from-cdb', visits: 1, id: sid })
    assert.equal((await call(viaCdb.port, jar, 'POST', '/visit')).json.visits, 2)
    assert.equal((await call(viaSessiond.port, jar, 'GET', '/me')).json.visits, 2)
    assert.deepEqual(viaSessiond.errors, [])
    assert.deepEqual(viaCdb.errors, [])
  })

  it('a session written by connect-sessiond is read through connect-dynamodb, touched by it, and still read through sessiond', T, async () => {
    const jar = new Jar()
    const t0 = nowS()
    await call(viaSessiond.port, jar, 'POST', '/login', { user: 'from-sessiond' })
    const sid = jar.sid
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.equal(JSON.parse(item.sess.S).user, 'from-sessiond', "sessiond's item: sess is the session JSON")
    assert.ok(Number(item.expires.N) >= t0 + 3600)

    const me = await call(viaCdb.port, jar, 'GET', '/me')
    assert.equal(me.status, 200)
    assert.deepEqual(me.json, { user: 'from-sessiond', visits: 0, id: sid })
    // connect-dynamodb's touch (an UpdateItem of expires, with a fraction)
    // leaves the item readable to sessiond, data and version unchanged.
    // (floor(now) + the cookie's maxAge / 1000, which express-session's
    // touch resets to originalMaxAge: 3600 s, or a millisecond less.)
    const touched = await ddb.getItem(d.table, ddb.key(sid))
    const e = Number(touched.expires.N)
    assert.ok(e >= t0 + 3599 && e <= nowS() + 3600, `connect-dynamodb's touch: expires ${e}, t0 ${t0}`)
    const s = await stored(sid)
    assert.equal(s.version, 1)
    assert.equal(s.data.user, 'from-sessiond')
    assert.ok(Number.isInteger(s.expires), `sessiond answers whole seconds: ${s.expires}`)

    // Logout on the old server: the new one sees no session, and back.
    assert.equal((await call(viaCdb.port, jar, 'POST', '/logout')).status, 200)
    assert.equal(await stored(sid), null)
    assert.equal((await call(viaSessiond.port, jar, 'GET', '/me')).json.user, null)
    const jar2 = new Jar()
    await call(viaCdb.port, jar2, 'POST', '/login', { user: 'bye' })
    assert.equal((await call(viaSessiond.port, jar2, 'POST', '/logout')).status, 200)
    assert.equal((await call(viaCdb.port, jar2, 'GET', '/me')).json.user, null)
    assert.equal(await ddb.getItem(d.table, ddb.key(jar2.sid)), undefined)
    assert.deepEqual(viaSessiond.errors, [])
    assert.deepEqual(viaCdb.errors, [])
  })

  it('regenerate on one store, the other reads the new id and not the old', T, async () => {
    const jar = new Jar()
    await call(viaCdb.port, jar, 'POST', '/login', { user: 'regen' })
    const old = new Jar()
    old.take([`sid=${jar.cookies.get('sid').value}`])
    const r = await call(viaSessiond.port, jar, 'POST', '/regenerate')
    assert.equal(r.status, 200)
    assert.equal((await call(viaCdb.port, jar, 'GET', '/me')).json.user, 'regen')
    assert.equal((await call(viaCdb.port, old, 'GET', '/me')).json.user, null)
    assert.deepEqual(viaSessiond.errors, [])
    assert.deepEqual(viaCdb.errors, [])
  })

  // A mixed fleet's race: a request on a connect-dynamodb server loaded the
  // session, a logout on a sessiond server destroyed it, then the first
  // request ended with express-session's touch. connect-dynamodb's touch is an
  // UpdateItem, which creates an item holding only id and expires.
  // connect-dynamodb reads that as no session; sessiond should too (its own
  // touch already answers 404 for it).
  it(
    'an item connect-dynamodb\'s touch left after a logout (no sess attribute) reads as no session through sessiond',
    T,
    async () => {
      const errorsBefore = viaSessiond.errors.length
      const jar = new Jar()
      await call(viaSessiond.port, jar, 'POST', '/login', { user: 'raced' })
      const sid = jar.sid
      const loaded = await sStore.get(sid)
      assert.equal((await call(viaSessiond.port, jar, 'POST', '/logout')).status, 200)
      await new Promise((resolve, reject) =>
        cStore.touch(sid, { ...loaded, cookie: new session.Cookie({ maxAge: MAX_AGE }) }, (err) => (err ? reject(err) : resolve()))
      )
      const item = await ddb.getItem(d.table, ddb.key(sid))
      assert.ok(item && item.expires && !item.sess, `connect-dynamodb's touch left ${JSON.stringify(item)}`)
      assert.equal((await call(viaCdb.port, jar, 'GET', '/me')).json.user, null, 'connect-dynamodb: no session')
      const r = await call(viaSessiond.port, jar, 'GET', '/me')
      viaSessiond.errors.splice(errorsBefore) // the 500's error stays out of the other tests' way
      assert.equal(r.status, 200, `through sessiond: ${r.status} ${r.text}`)
      assert.equal(r.json.user, null)
    }
  )
})
