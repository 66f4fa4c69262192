'use strict'
// connect-sessiond's v1.1 additions in a real express app against the real
// sessiond (users.index on) and dynalite: the owner of a session (userOf),
// listUserSessions / revokeUserSessions ("log out everywhere"),
// req.session.regenerate (a new empty session, express-session's meaning),
// rotate / rotateSession (a new id, data kept), and writes without lost
// updates (a merge patch of what the request changed), shown against
// connect-dynamodb, which loses one of two concurrent changes.
//
// Environment: SESSIOND_TEST_DDB_ENDPOINT and SESSIOND_BIN, as the rest.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const http = require('node:http')

const express = require('express')
const session = require('express-session')
const { SessiondStore, SessiondError, mergeDiff } = require('..')
const { startDaemon, request, describeExchange, ddbEndpoint } = require('../../../tests/integration/lib/daemon')

const T = { timeout: 60000 }
const TOKEN = `users-token-${crypto.randomBytes(6).toString('hex')}`
const SECRET = 'users keyboard cat'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function makeApp(store) {
  const app = express()
  const errors = []
  app.use(express.json())
  app.use(session({ store, secret: SECRET, name: 'sid', resave: false, saveUninitialized: false, cookie: { maxAge: 3600 * 1000 } }))
  // passport's shape: the owner under sess.passport.user.
  app.post('/login', (req, res) => {
    req.session.passport = { user: req.body.user }
    res.json({ id: req.sessionID })
  })
  app.get('/me', (req, res) => res.json({ id: req.sessionID, user: req.session.passport ? req.session.passport.user : null, data: req.session }))
  // Sets one key after a pause, so that two such requests both load the
  // session before either writes it back.
  app.post('/slow/:key', async (req, res) => {
    req.session[req.params.key] = req.body.value
    await sleep(150)
    res.json({ ok: true })
  })
  app.post('/regenerate', (req, res, next) => {
    const old = req.sessionID
    req.session.regenerate((err) => (err ? next(err) : res.json({ old, id: req.sessionID, keys: Object.keys(req.session).filter((k) => k !== 'cookie') })))
  })
  app.post('/rotate', async (req, res, next) => {
    try {
      const old = req.sessionID
      const id = await req.sessionStore.rotateSession(req)
      req.session.rotatedAt = 1
      res.json({ old, id })
    } catch (e) {
      next(e)
    }
  })
  app.post('/logout-everywhere', async (req, res, next) => {
    try {
      const deleted = await req.sessionStore.revokeUserSessions(req.session.passport.user, { except: req.body.keepThis ? req.sessionID : undefined })
      res.json({ deleted })
    } catch (e) {
      next(e)
    }
  })
  app.use((err, req, res, next) => {
    errors.push(err)
    if (!res.headersSent) res.status(500).json({ error: err.message })
  })
  const server = http.createServer(app)
  return {
    errors,
    async listen() {
      await new Promise((r) => server.listen(0, '127.0.0.1', r))
      this.port = server.address().port
    },
    close: () => new Promise((r) => {
      server.closeAllConnections()
      server.close(r)
    }),
  }
}

// A browser: one cookie, no keep-alive.
function browser(port) {
  let cookie = null
  const agent = new http.Agent({ keepAlive: false })
  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const headers = {}
      if (cookie) headers.Cookie = cookie
      const text = body === undefined ? undefined : JSON.stringify(body)
      if (text) {
        headers['Content-Type'] = 'application/json'
        headers['Content-Length'] = Buffer.byteLength(text)
      }
      const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        let data = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (data += c))
        res.on('end', () => {
          const sc = (res.headers['set-cookie'] || []).find((c) => c.startsWith('sid='))
          if (sc) cookie = sc.split(';')[0]
          let json
          try {
            json = JSON.parse(data)
          } catch {}
          resolve({ status: res.statusCode, json, text: data })
        })
      })
      req.on('error', reject)
      req.end(text)
    })
  return { call, fork: () => { const b = browser(port); b.setCookie(cookie); return b }, setCookie: (c) => (cookie = c) }
}

describe('connect-sessiond and the sessions of a user, in an express app', () => {
  let d
  let store
  let app
  const api = (method, p, opts = {}) => request(d.url, method, p, { ...opts, headers: { Authorization: `Bearer ${TOKEN}` } })
  const stored = async (sid) => {
    const r = await api('GET', `/v1/sessions/${sid}`)
    return r.status === 200 ? r.json : null
  }

  before(async () => {
    d = await startDaemon({ auth: { tokens: [TOKEN] }, users: { index: 'by-user' }, log: { level: 'info' } })
    store = new SessiondStore({ url: d.url, token: TOKEN, userOf: (s) => s.passport && s.passport.user })
    app = makeApp(store)
    await app.listen()
  }, T)
  after(async () => {
    if (app) await app.close()
    if (store) store.close()
    if (d) await d.stop()
  }, T)

  it('userOf sets the owner when saving; listUserSessions lists them; revokeUserSessions logs out everywhere or elsewhere', T, async () => {
    const uid = `u-${process.pid}`
    const devices = []
    for (let i = 0; i < 3; i++) {
      const b = browser(app.port)
      const r = await b.call('POST', '/login', { user: uid })
      assert.equal(r.status, 200, r.text)
      devices.push({ b, id: r.json.id })
    }
    for (const { id } of devices) assert.equal((await stored(id)).user, uid, 'the owner is stored')
    const listed = await store.listUserSessions(uid)
    assert.deepEqual(new Set(listed.map((s) => s.id)), new Set(devices.map((x) => x.id)))
    // A numeric owner (passport often serialises ids as numbers) is written in decimal.
    const n = browser(app.port)
    await n.call('POST', '/login', { user: 4242 })
    assert.equal((await store.listUserSessions(4242)).length, 1)
    // Log out the other devices, keeping this one.
    let r = await devices[0].b.call('POST', '/logout-everywhere', { keepThis: true })
    assert.deepEqual(r.json, { deleted: 2 }, r.text)
    assert.equal((await devices[0].b.call('GET', '/me')).json.user, uid, 'this device stays logged in')
    assert.equal((await devices[1].b.call('GET', '/me')).json.user, null, 'the others are logged out')
    assert.deepEqual((await store.listUserSessions(uid)).map((s) => s.id), [devices[0].id])
    // Everywhere; and a revoked session is not brought back by a late write.
    const late = devices[0].b.fork()
    const slow = late.call('POST', '/slow/late', { value: 1 })
    await sleep(30)
    r = await store.revokeUserSessions(uid)
    assert.equal(r, 1)
    assert.equal((await slow).status, 200)
    assert.equal(await stored(devices[0].id), null, 'a write of a revoked session does not recreate it')
    await assert.rejects(store.listUserSessions(''), (e) => e instanceof SessiondError && e.code === 'ERR_SESSIOND_BAD_USER')
    assert.deepEqual(app.errors, [])
  })

  it('two concurrent requests of one session changing different keys: both changes survive', T, async () => {
    const b = browser(app.port)
    await b.call('POST', '/login', { user: 'merge' })
    const id = (await b.call('GET', '/me')).json.id
    const v0 = (await stored(id)).version
    const [x, y] = await Promise.all([b.call('POST', '/slow/a', { value: 'A' }), b.call('POST', '/slow/b', { value: 'B' })])
    assert.equal(x.status, 200)
    assert.equal(y.status, 200)
    const s = await stored(id)
    assert.equal(s.data.a, 'A')
    assert.equal(s.data.b, 'B')
    assert.equal(s.version, v0 + 2)
    assert.equal(s.user, 'merge', 'a patch keeps the owner')
  })

  it('req.session.regenerate keeps express-session semantics: the old id is gone and the new session is empty', T, async () => {
    const b = browser(app.port)
    const login = await b.call('POST', '/login', { user: 'regen' })
    const r = await b.call('POST', '/regenerate')
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.old, login.json.id)
    assert.notEqual(r.json.id, login.json.id)
    assert.deepEqual(r.json.keys, [], 'a new, empty session')
    assert.equal(await stored(login.json.id), null)
    assert.equal((await b.call('GET', '/me')).json.user, null)
  })

  it('rotate / rotateSession move the session to a new id with its data and owner (fixation defence, session kept)', T, async () => {
    const b = browser(app.port)
    const login = await b.call('POST', '/login', { user: 'rot' })
    const old = login.json.id
    const r = await b.call('POST', '/rotate')
    assert.equal(r.status, 200, r.text)
    assert.equal(r.json.old, old)
    assert.notEqual(r.json.id, old)
    const me = await b.call('GET', '/me')
    assert.equal(me.json.id, r.json.id, 'the browser got the new cookie')
    assert.equal(me.json.user, 'rot', 'the data came along')
    assert.equal(me.json.data.rotatedAt, 1, 'a change after the rotation is saved to the new id')
    assert.equal(await stored(old), null, 'the old id is gone')
    const s = await stored(r.json.id)
    assert.equal(s.user, 'rot')
    // The store API alone.
    const res = await store.rotate(r.json.id)
    assert.equal(res.version, 1)
    assert.equal(res.data.passport.user, 'rot')
    assert.equal(await store.rotate(r.json.id), null, 'rotating a gone id: null')
    assert.deepEqual(app.errors, [])
  })
})

describe('connect-dynamodb, for contrast: two concurrent requests changing different keys lose one', () => {
  it('the later whole-session write overwrites the earlier one', T, async (t) => {
    const d = await startDaemon({ log: { level: 'info' } }) // only to have its table
    const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
    const DynamoDBStore = require('connect-dynamodb')(session)
    const client = new DynamoDBClient({
      endpoint: ddbEndpoint(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' },
      maxAttempts: 1,
    })
    const app = makeApp(new DynamoDBStore({ client, table: d.table, initialized: true }))
    await app.listen()
    try {
      const b = browser(app.port)
      await b.call('POST', '/login', { user: 'cdb' })
      await Promise.all([b.call('POST', '/slow/a', { value: 'A' }), b.call('POST', '/slow/b', { value: 'B' })])
      const me = (await b.call('GET', '/me')).json.data
      const kept = ['a', 'b'].filter((k) => me[k] !== undefined)
      t.diagnostic(`connect-dynamodb kept ${kept.join(', ')} of a, b`)
      assert.equal(kept.length, 1, `connect-dynamodb keeps one of the two changes: ${JSON.stringify(me)}`)
    } finally {
      await app.close()
      client.destroy()
      await d.stop()
    }
  })
})

describe('mergeDiff (RFC 7386 patches of what changed)', () => {
  it('adds, changes, deletes and recurses; refuses what a patch cannot say', () => {
    assert.deepEqual(mergeDiff({ a: 1, b: { c: 1, d: 2 }, e: [1] }, { a: 1, b: { c: 2 }, e: [1, 2], f: 'x' }), { b: { c: 2, d: null }, e: [1, 2], f: 'x' })
    assert.deepEqual(mergeDiff({ a: { b: 1 } }, { a: 5 }), { a: 5 })
    assert.deepEqual(mergeDiff({ a: 5 }, { a: { b: 1 } }), { a: { b: 1 } })
    assert.deepEqual(mergeDiff({ a: 1 }, { a: 1 }), {})
    assert.equal(mergeDiff({}, { a: null }), undefined, 'a null value would be read as a deletion')
    assert.equal(mergeDiff({}, { a: { b: null } }), undefined)
    assert.deepEqual(mergeDiff({}, { a: [null] }), { a: [null] }, 'arrays are replaced whole')
  })
})
