'use strict'
// connect-sessiond end to end: an app built on express-session's middleware
// (driven with plain node:http requests, a cookie kept between them) whose
// store is SessiondStore, against the real sessiond binary and a local
// DynamoDB engine. Also: sharing sessions with connect-dynamodb in the same
// table, and the daemon's own error answers as the app sees them.
//
// Environment (as the repo's integration tests): SESSIOND_TEST_DDB_ENDPOINT
// (scripts/dynalite.sh start DIR) and SESSIOND_BIN.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const http = require('node:http')
const util = require('node:util')

const session = require('express-session')
const { SessiondStore, SessiondError, requestIdMiddleware } = require('..')
const { startDaemon, request, describeExchange, ddbEndpoint } = require('../../../tests/integration/lib/daemon')
const ddbLib = require('../../../tests/integration/lib/ddb')

const T = { timeout: 30000 }
const TOKEN = `app-token-${crypto.randomBytes(6).toString('hex')}`
const SECRET = 'keyboard cat'
const MAX_AGE = 3600 * 1000
const now = () => Math.floor(Date.now() / 1000)
const plain = (v) => JSON.parse(JSON.stringify(v))

// ---------------------------------------------------------------------------
// The app: what the seed runs, with the store line changed.

function makeApp(store, sessionOptions = {}) {
  const errors = []
  const gates = new Map() // name -> { opened: Promise, open() }
  const chain = [
    requestIdMiddleware(),
    session({
      store,
      secret: SECRET,
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE },
      ...sessionOptions,
    }),
  ]
  const send = (res, status, body) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(text)
  }
  const routes = {
    '/login': (req, res, q) => {
      req.session.user = q.get('user')
      req.session.visits = 1
      send(res, 200, { ok: true })
    },
    '/me': (req, res) => send(res, 200, { user: req.session.user || null, id: req.sessionID }),
    '/visit': (req, res) => {
      req.session.visits = (req.session.visits || 0) + 1
      send(res, 200, { visits: req.session.visits })
    },
    '/logout': (req, res, q, next) =>
      req.session.destroy((err) => (err ? next(err) : send(res, 200, { ok: true }))),
    '/regenerate': (req, res, q, next) => {
      const user = req.session.user
      req.session.regenerate((err) => {
        if (err) return next(err)
        req.session.user = user
        send(res, 200, { id: req.sessionID })
      })
    },
    // Loads the session, then waits until the test opens the gate, then
    // answers without modifying it (so express-session touches it).
    '/slow': async (req, res, q) => {
      const g = gates.get(q.get('gate'))
      g.arrived()
      await g.opened
      send(res, 200, { user: req.session.user || null })
    },
  }
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://app')
    let i = 0
    const next = (err) => {
      if (err) {
        errors.push(err)
        return send(res, 500, { error: err.message, status: err.status })
      }
      const mw = chain[i++]
      if (mw) return mw(req, res, next)
      const route = routes[u.pathname]
      if (!route) return send(res, 404, {})
      route(req, res, u.searchParams, next)
    }
    next()
  })
  return {
    errors,
    server,
    listen: () => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port))),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(r)
      }),
    gate(name) {
      let open
      let arrived
      const g = {
        opened: new Promise((r) => (open = r)),
        arrival: new Promise((r) => (arrived = r)),
      }
      g.open = open
      g.arrived = arrived
      gates.set(name, g)
      return g
    },
  }
}

// A browser: keeps the sid cookie between requests.
function browser(port) {
  let cookie = null
  const agent = new http.Agent({ keepAlive: false })
  return {
    get cookie() {
      return cookie
    },
    set cookie(v) {
      cookie = v
    },
    // The session id inside the signed cookie ("s:<id>.<signature>").
    get sid() {
      if (!cookie) return null
      const v = decodeURIComponent(cookie.slice('sid='.length))
      return v.slice(2, v.lastIndexOf('.'))
    },
    get(path, headers = {}) {
      return new Promise((resolve, reject) => {
        const req = http.get(
          { host: '127.0.0.1', port, path, agent, headers: { ...(cookie ? { Cookie: cookie } : {}), ...headers } },
          (res) => {
            let text = ''
            res.setEncoding('utf8')
            res.on('data', (c) => (text += c))
            res.on('end', () => {
              const sc = res.headers['set-cookie']
              const setCookie = sc ? sc.find((c) => c.startsWith('sid=')) : undefined
              if (setCookie) cookie = setCookie.split(';')[0]
              resolve({ status: res.statusCode, json: JSON.parse(text), setCookie })
            })
          }
        )
        req.on('error', reject)
      })
    },
  }
}

// The cookie express-session would set for sid (cookie-signature's format).
function signedCookie(sid) {
  const mac = crypto.createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '')
  return 'sid=' + encodeURIComponent(`s:${sid}.${mac}`)
}

function assertNoSecrets(err, ...secrets) {
  const shown = `${err.message}\n${err.stack}\n${util.inspect(err, { depth: 10 })}`
  for (const s of secrets) assert.ok(!shown.includes(s), `"${s}" must not appear in: ${shown}`)
}

// ---------------------------------------------------------------------------

describe('an express-session app on SessiondStore, against sessiond', () => {
  const ddb = ddbLib.client()
  let d
  let store
  let app
  let port
  const api = (method, p, opts = {}) =>
    request(d.url, method, p, { ...opts, headers: { Authorization: `Bearer ${TOKEN}`, ...(opts.headers || {}) } })
  const stored = async (sid) => {
    const r = await api('GET', `/v1/sessions/${sid}`)
    assert.ok(r.status === 200 || r.status === 404, describeExchange(r))
    return r.status === 200 ? r.json : null
  }

  before(async () => {
    d = await startDaemon({ auth: { tokens: [TOKEN] }, log: { level: 'info' } })
    store = new SessiondStore({ url: d.url, token: TOKEN, timeoutMs: 5000 })
    app = makeApp(store)
    port = await app.listen()
  }, T)
  after(async () => {
    if (app) await app.close()
    if (store) store.close()
    if (d) assert.equal(await d.stop(), 0, 'sessiond exits 0 after SIGTERM')
  }, T)

  it('no cookie, nothing saved: no session is written (saveUninitialized: false)', T, async () => {
    const b = browser(port)
    const r = await b.get('/me')
    assert.deepEqual(r.json.user, null)
    assert.equal(r.setCookie, undefined)
    assert.equal(await stored(r.json.id), null)
    assert.deepEqual(app.errors, [])
  })

  it('login: one PUT with the session (cookie included); expires = now + ceil(maxAge/1000), its cookie\'s to the second', T, async () => {
    const b = browser(port)
    const t0 = now()
    const r = await b.get('/login?user=ada')
    assert.equal(r.status, 200)
    assert.ok(r.setCookie, 'a session cookie was set')
    const s = await stored(b.sid)
    assert.ok(s, 'the session is in sessiond')
    assert.equal(s.version, 1)
    assert.equal(s.data.user, 'ada')
    assert.equal(s.data.visits, 1)
    // express-session reads originalMaxAge back from the expires it just
    // set, so a millisecond may have passed.
    const oma = s.data.cookie.originalMaxAge
    assert.ok(oma <= MAX_AGE && oma > MAX_AGE - 1000, `cookie.originalMaxAge ${oma}`)
    assert.equal(s.data.cookie.httpOnly, true)
    assert.equal(s.data.cookie.path, '/')
    const cookieExpires = Date.parse(s.data.cookie.expires) / 1000
    assert.ok(s.expires >= t0 + 3600 && s.expires <= now() + 3600 + 1, `expires ${s.expires}, t0 ${t0}`)
    // As connect-dynamodb (floor(now) + maxAge/1000): within a second of the
    // cookie's own expiry.
    assert.ok(Math.abs(s.expires - cookieExpires) < 1 + 1e-9, `stored ${s.expires} vs cookie ${cookieExpires}`)
    const me = await b.get('/me')
    assert.equal(me.json.user, 'ada')
    assert.equal(me.json.id, b.sid)
    assert.deepEqual(app.errors, [])
  })

  it('an unmodified session is touched, not rewritten: expires extended, version and data unchanged', T, async () => {
    const b = browser(port)
    await b.get('/login?user=grace')
    const before = await stored(b.sid)
    // Shorten its life behind the app's back (ttl 100); data unchanged.
    const put = await api('PUT', `/v1/sessions/${b.sid}`, { json: { data: before.data, ttl: 100 } })
    assert.equal(put.status, 200, describeExchange(put))
    const t0 = now()
    const r = await b.get('/me')
    assert.equal(r.json.user, 'grace')
    const after = await stored(b.sid)
    assert.equal(after.version, 2, 'no write of data by the app (only the test\'s PUT)')
    assert.deepEqual(after.data, before.data)
    assert.ok(after.expires >= t0 + 3599, `touched: expires ${after.expires} is about now + 3600 again (t0 ${t0})`)
    const v = await b.get('/visit')
    assert.equal(v.json.visits, 2)
    assert.equal((await stored(b.sid)).version, 3, 'a modified session is written')
    assert.deepEqual(app.errors, [])
  })

  it('logout destroys the session in sessiond; the old cookie then finds nothing', T, async () => {
    const b = browser(port)
    await b.get('/login?user=linus')
    const sid = b.sid
    assert.ok(await stored(sid))
    await b.get('/logout')
    assert.equal(await stored(sid), null)
    const r = await b.get('/me')
    assert.equal(r.json.user, null)
    assert.deepEqual(app.errors, [])
  })

  it('a request that loaded the session before a logout finishes with a touch that does not recreate it', T, async () => {
    const a = browser(port)
    await a.get('/login?user=barbara')
    const sid = a.sid
    const b = browser(port)
    b.cookie = a.cookie // the same user in a second tab
    const g = app.gate('race-1')
    const slow = a.get('/slow?gate=race-1')
    await g.arrival // the slow request has loaded the session
    await b.get('/logout')
    assert.equal(await stored(sid), null, 'destroyed')
    g.open()
    const r = await slow
    assert.equal(r.status, 200)
    assert.equal(r.json.user, 'barbara', 'the slow request had its session')
    assert.equal(await stored(sid), null, 'still gone after the slow request touched it')
    assert.equal(await ddb.getItem(d.table, ddb.key(sid)), undefined, 'no item in the table either')
    assert.deepEqual(app.errors, [], 'a touch of a gone session is not an error')
  })

  it('regenerate: the old id is destroyed, the new one saved', T, async () => {
    const b = browser(port)
    await b.get('/login?user=ken')
    const oldSid = b.sid
    const r = await b.get('/regenerate')
    assert.notEqual(r.json.id, oldSid)
    assert.equal(b.sid, r.json.id)
    assert.equal(await stored(oldSid), null)
    assert.equal((await stored(b.sid)).data.user, 'ken')
    assert.equal((await b.get('/me')).json.user, 'ken')
    assert.deepEqual(app.errors, [])
  })

  it("the app's X-Request-Id reaches sessiond's log for the read and the write of that request", T, async () => {
    const b = browser(port)
    await b.get('/login?user=rid')
    const rid = `app-rid-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
    await b.get('/visit', { 'X-Request-Id': rid })
    // sessiond logs each request with its id; the app's read (GET) and write
    // (a PATCH of what changed: the session was read in this request) must
    // both be there under the app's id.
    let lines = []
    const both = () => lines.some((l) => /\bGET\b/.test(l)) && lines.some((l) => /\bPATCH\b/.test(l))
    for (let i = 0; i < 100; i++) {
      lines = d.stderr().split('\n').filter((l) => l.includes(rid))
      if (both()) break
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.ok(both(), `a GET and a PATCH logged under ${rid}:\n${lines.join('\n')}`)
  })

  it('all calls of many requests go over one kept-alive connection to sessiond', T, async (t) => {
    const opened = []
    const orig = http.Agent.prototype.createConnection
    t.mock.method(http.Agent.prototype, 'createConnection', function (options, ...rest) {
      if (Number(options.port) === d.port) opened.push(options.port)
      return orig.call(this, options, ...rest)
    })
    const s = new SessiondStore({ url: d.url, token: TOKEN })
    const a2 = makeApp(s)
    const p2 = await a2.listen()
    try {
      const b = browser(p2)
      await b.get('/login?user=ka')
      for (let i = 0; i < 10; i++) await b.get(i % 2 ? '/me' : '/visit')
      await b.get('/logout')
      assert.deepEqual(a2.errors, [])
      assert.equal(opened.length, 1, `connections opened to sessiond for 24 store calls: ${opened.length}`)
    } finally {
      await a2.close()
      s.close()
    }
  })

  it('store API: an expired cookie deletes; touch of an absent id creates nothing; get of it is null', T, async () => {
    const sid = `direct-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
    await store.set(sid, { cookie: new session.Cookie({ maxAge: 60000 }), n: 1 })
    assert.equal((await stored(sid)).data.n, 1)
    await store.set(sid, { cookie: new session.Cookie({ maxAge: -1 }), n: 2 })
    assert.equal(await stored(sid), null, 'a set with an expired cookie deleted it')
    await store.touch(sid, { cookie: new session.Cookie({ maxAge: 60000 }) })
    assert.equal(await ddb.getItem(d.table, ddb.key(sid)), undefined, 'touch created no item')
    assert.equal(await store.get(sid), null)
    await store.destroy(sid) // absent: fine
  })

  it('a wrong token: the app answers 500 via next(err) with 401 Unauthorized; no token, no id in the error', T, async () => {
    const wrong = 'wrong-token-' + crypto.randomBytes(4).toString('hex')
    const s = new SessiondStore({ url: d.url, token: wrong })
    const a2 = makeApp(s)
    const p2 = await a2.listen()
    try {
      const good = browser(port)
      await good.get('/login?user=mallory')
      const b = browser(p2)
      b.cookie = good.cookie
      const rid = `wrong-token-rid-${process.pid}`
      const r = await b.get('/me', { 'X-Request-Id': rid })
      assert.equal(r.status, 500)
      assert.equal(r.json.status, 401)
      assert.equal(a2.errors.length, 1)
      const err = a2.errors[0]
      assert.ok(err instanceof SessiondError)
      assert.equal(err.title, 'Unauthorized')
      assert.match(err.message, /^sessiond get: 401 Unauthorized/)
      assert.equal(err.requestId, rid, "the app's request id went to sessiond, which echoed it")
      assertNoSecrets(err, wrong, TOKEN, good.sid)
    } finally {
      await a2.close()
      s.close()
    }
  })
})

describe("sessiond's limits as the app sees them", () => {
  let d
  let store
  before(async () => {
    d = await startDaemon({ limits: { max_body: 4096 }, session: { default_ttl: 3600, max_ttl: 7200 } })
    store = new SessiondStore({ url: d.url })
  }, T)
  after(async () => {
    if (store) store.close()
    if (d) await d.stop()
  }, T)

  it('a session over limits.max_body: 413 with the problem title', T, async () => {
    const sid = `big-${process.pid}`
    const err = await store.set(sid, { cookie: new session.Cookie({ maxAge: 60000 }), blob: 'x'.repeat(8000) }).catch((e) => e)
    assert.ok(err instanceof SessiondError, String(err))
    assert.equal(err.status, 413)
    assert.equal(err.title, 'Content Too Large', "the problem document's title (RFC 9110), not Node's reason phrase")
    assertNoSecrets(err, sid)
  })

  it('a cookie maxAge over session.max_ttl: 400 naming the limit (configure max_ttl >= the cookie maxAge)', T, async () => {
    const sid = `long-${process.pid}`
    const err = await store.set(sid, { cookie: new session.Cookie({ maxAge: 3 * 3600 * 1000 }) }).catch((e) => e)
    assert.equal(err.status, 400)
    assert.equal(err.title, 'Bad Request')
    assert.match(err.detail, /ttl must be an integer from 1 to 7200/)
    assertNoSecrets(err, sid)
    // Exactly max_ttl is fine.
    await store.set(sid, { cookie: new session.Cookie({ maxAge: 7200 * 1000 }) })
  })
})

describe('connect-sessiond and connect-dynamodb share one table', () => {
  const ddb = ddbLib.client()
  let d
  let store
  let cdb
  let app
  let port

  before(async () => {
    d = await startDaemon()
    store = new SessiondStore({ url: d.url })
    const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
    const DynamoDBStore = require('connect-dynamodb')(session)
    const client = new DynamoDBClient({
      endpoint: ddbEndpoint(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
    })
    const s = new DynamoDBStore({ client, table: d.table, initialized: true })
    const p = (fn, ...args) => new Promise((resolve, reject) => fn.call(s, ...args, (err, v) => (err ? reject(err) : resolve(v))))
    cdb = {
      get: (sid) => p(s.get, sid),
      set: (sid, sess) => p(s.set, sid, sess),
      close: () => client.destroy(),
    }
    app = makeApp(store)
    port = await app.listen()
  }, T)
  after(async () => {
    if (app) await app.close()
    if (cdb) cdb.close()
    if (store) store.close()
    if (d) await d.stop()
  }, T)

  it('a session the app saved through sessiond is read by connect-dynamodb, equal', T, async () => {
    const b = browser(port)
    await b.get('/login?user=shared')
    const viaSessiond = await store.get(b.sid)
    const viaCdb = await cdb.get(b.sid)
    assert.equal(viaCdb.user, 'shared')
    assert.deepEqual(viaCdb, viaSessiond)
  })

  it('a session connect-dynamodb wrote logs the user in through sessiond, and the app\'s touch sets its expiry', T, async () => {
    const sid = crypto.randomBytes(24).toString('base64url')
    // A cookie that went through JSON: connect-dynamodb finds no maxAge on it
    // and stores now + one day (with a fraction).
    const cookie = { originalMaxAge: MAX_AGE, expires: new Date(Date.now() + MAX_AGE).toISOString(), httpOnly: true, path: '/' }
    const t0 = now()
    await cdb.set(sid, { cookie, user: 'from-cdb' })
    const item = await ddb.getItem(d.table, ddb.key(sid))
    assert.ok(Number(item.expires.N) >= t0 + 86400, `connect-dynamodb's one day: ${item.expires.N}`)
    assert.equal(item.version, undefined)
    const b = browser(port)
    b.cookie = signedCookie(sid)
    const r = await b.get('/me')
    assert.equal(r.json.user, 'from-cdb')
    assert.equal(r.json.id, sid)
    const touched = await ddb.getItem(d.table, ddb.key(sid))
    const e = Number(touched.expires.N)
    assert.ok(e >= t0 + 3599 && e <= now() + 3601, `the app's touch (cookie originalMaxAge 1 h) set expires to now + 3600: ${e}`)
    assert.equal(JSON.parse(touched.sess.S).user, 'from-cdb')
    assert.deepEqual(app.errors, [])
  })
})
