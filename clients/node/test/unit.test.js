'use strict'
// connect-sessiond without any server: expiry arithmetic (against
// connect-dynamodb's own), option checks, the two ways to get the class, the
// ESM entry, and what `npm pack` would publish.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { EventEmitter } = require('node:events')

const session = require('express-session')
const pkgDir = path.resolve(__dirname, '..')
const connectSessiond = require(pkgDir)
const { SessiondStore, SessiondError, ttlSeconds } = connectSessiond

describe('expiry (ttlSeconds)', () => {
  const NOW = 1764000000123 // ms, deliberately not on a second boundary

  // connect-dynamodb's expires for the same session at the same instant.
  function connectDynamodbExpires(sess) {
    const DynamoDBStore = require('connect-dynamodb')(session)
    return DynamoDBStore.prototype.getExpiresValue.call({}, sess)
  }

  it('is ceil(maxAge / 1000) for a live express-session Cookie, the same instant connect-dynamodb stores, rounded up', (t) => {
    t.mock.method(Date, 'now', () => NOW)
    const nowS = Math.floor(NOW / 1000)
    for (const maxAge of [86400000, 3600500, 60000, 1500, 999, 250, 1, 2592000000]) {
      const sess = { cookie: new session.Cookie({ maxAge }), user: 1 }
      const cdb = connectDynamodbExpires(sess)
      const ttl = ttlSeconds(sess)
      assert.equal(ttl, Math.ceil(maxAge / 1000), `maxAge ${maxAge}`)
      assert.equal(nowS + ttl, Math.ceil(cdb), `maxAge ${maxAge}: sessiond's now + ttl = ceil(connect-dynamodb's ${cdb})`)
    }
  })

  it('is one day when the cookie has neither maxAge nor expires (a browser-session cookie), as connect-dynamodb', (t) => {
    t.mock.method(Date, 'now', () => NOW)
    const sess = { cookie: new session.Cookie({}) }
    assert.equal(sess.cookie.maxAge, null)
    assert.equal(ttlSeconds(sess), 86400)
    assert.equal(connectDynamodbExpires(sess), Math.floor(NOW / 1000) + 86400)
    assert.equal(ttlSeconds({ cookie: {} }), 86400)
    assert.equal(ttlSeconds({}), 86400, 'no cookie at all')
    assert.equal(ttlSeconds(null), 86400)
    assert.equal(ttlSeconds({ cookie: { maxAge: NaN } }), 86400)
    assert.equal(ttlSeconds({ cookie: { expires: 'not a date' } }), 86400)
  })

  it('reads expires from a cookie that went through JSON (no maxAge member), string or Date', () => {
    const plain = JSON.parse(JSON.stringify({ cookie: new session.Cookie({ maxAge: 3600000 }) }))
    assert.equal(plain.cookie.maxAge, undefined)
    assert.equal(typeof plain.cookie.expires, 'string')
    const now = Date.now()
    const want = Math.ceil((Date.parse(plain.cookie.expires) - now) / 1000)
    assert.equal(ttlSeconds(plain, now), want)
    assert.ok(want >= 3599 && want <= 3600)
    assert.equal(ttlSeconds({ cookie: { expires: new Date(now + 10500) } }, now), 11)
  })

  it('is <= 0 for a cookie that has expired or has maxAge <= 0', () => {
    assert.equal(ttlSeconds({ cookie: { maxAge: 0 } }), 0)
    assert.ok(ttlSeconds({ cookie: { maxAge: -1 } }) <= 0)
    assert.ok(ttlSeconds({ cookie: new session.Cookie({ maxAge: -5000 }) }) <= 0)
    const now = Date.now()
    assert.ok(ttlSeconds({ cookie: { expires: new Date(now - 1).toISOString() } }, now) <= 0)
  })
})

describe('options', () => {
  it('connect-dynamodb options are refused with the sessiond setting that replaces each', () => {
    const cases = {
      table: 'dynamodb.table',
      hashKey: 'dynamodb.hash_key',
      prefix: 'dynamodb.prefix',
      AWSConfigJSON: 'dynamodb.region',
      client: 'dynamodb.',
      reapInterval: 'reaper.interval',
    }
    for (const [k, where] of Object.entries(cases)) {
      assert.throws(
        () => new SessiondStore({ url: 'http://127.0.0.1:1', [k]: 'x' }),
        (e) => e instanceof TypeError && e.message.includes(`"${k}"`) && e.message.includes(where),
        k
      )
    }
  })

  it('unknown options, bad urls, timeouts and agents are refused; secrets are not echoed', () => {
    assert.throws(() => new SessiondStore({ urll: 'http://x' }), /unknown option "urll"/)
    assert.throws(() => new SessiondStore({ url: 'ftp://x' }), /http: or https:/)
    assert.throws(() => new SessiondStore({ url: 'not a url' }), /not a valid URL/)
    assert.throws(() => new SessiondStore({ url: 'http://x/?a=1' }), /query/)
    assert.throws(
      () => new SessiondStore({ url: 'http://user:hunter2@127.0.0.1:8080' }),
      (e) => /credentials/.test(e.message) && !e.message.includes('hunter2')
    )
    assert.throws(
      () => new SessiondStore({ token: 'sekrit\r\nX-Evil: 1' }),
      (e) => /token/.test(e.message) && !e.message.includes('sekrit')
    )
    assert.throws(() => new SessiondStore({ token: 42 }), /token/)
    for (const timeoutMs of [0, -1, 1.5, '100', Infinity]) {
      assert.throws(() => new SessiondStore({ timeoutMs }), /timeoutMs/, String(timeoutMs))
    }
    assert.throws(() => new SessiondStore({ agent: {} }), /agent/)
    assert.throws(() => new SessiondStore({ requestId: 'abc' }), /requestId/)
  })

  it('defaults: every option may be left out; the store shows neither token nor url internals', () => {
    const s = new SessiondStore()
    const t = new SessiondStore({ url: 'https://sessiond.internal:8443/prefix/', token: 'tok-visible?', timeoutMs: 100 })
    assert.ok(!require('node:util').inspect(t, { depth: 5 }).includes('tok-visible'))
    assert.ok(!JSON.stringify(Object.keys(t)).includes('token'))
    s.close()
    t.close()
  })
})

describe('the class and the factory', () => {
  it('SessiondStore extends the app\'s express-session Store and has its helpers', () => {
    const s = new SessiondStore({ url: 'http://127.0.0.1:1' })
    assert.ok(s instanceof session.Store)
    assert.ok(s instanceof EventEmitter)
    for (const m of ['get', 'set', 'destroy', 'touch', 'regenerate', 'load', 'createSession']) {
      assert.equal(typeof s[m], 'function', m)
    }
    // No honest answer from sessiond for these: left out, as the Store
    // contract allows.
    for (const m of ['all', 'length', 'clear']) assert.equal(s[m], undefined, m)
    s.close()
  })

  it('require("connect-sessiond")(session) gives the same class for the same express-session', () => {
    const A = connectSessiond(session)
    assert.equal(A, SessiondStore, 'one class per Store base')
    assert.equal(connectSessiond({ session: { Store: session.Store } }), SessiondStore, 'connect-style object')
    class OtherStore extends EventEmitter {}
    const B = connectSessiond({ Store: OtherStore })
    assert.notEqual(B, SessiondStore)
    assert.ok(new B() instanceof OtherStore)
    assert.throws(() => connectSessiond(), TypeError)
    assert.throws(() => connectSessiond({}), TypeError)
  })

  it('where express-session does not resolve, constructing SessiondStore throws what to do; the factory works', () => {
    // The package alone in an app folder whose node_modules has no
    // express-session (none up the tree from os.tmpdir() either); the app's
    // own express-session lives elsewhere, as in a monorepo or a global
    // install.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'connect-sessiond-'))
    try {
      const copy = path.join(dir, 'node_modules', 'connect-sessiond')
      fs.mkdirSync(copy, { recursive: true })
      for (const f of ['index.js', 'index.mjs', 'package.json']) fs.copyFileSync(path.join(pkgDir, f), path.join(copy, f))
      const env = { ...process.env, NODE_PATH: '' }
      const nowhere = spawnSync(process.execPath, ['-e', "require.resolve('express-session')"], { cwd: dir, env })
      assert.notEqual(nowhere.status, 0, 'express-session must not resolve from the test folder')
      const cjs = `
        const session = require(${JSON.stringify(require.resolve('express-session'))})
        const connectSessiond = require('connect-sessiond')
        const { SessiondStore } = connectSessiond
        let err
        try { new SessiondStore({ url: 'http://127.0.0.1:1' }) } catch (e) { err = e }
        const s = new (connectSessiond(session))({ url: 'http://127.0.0.1:1' })
        process.stdout.write(JSON.stringify({
          named: typeof SessiondStore, sessiondError: err instanceof connectSessiond.SessiondError,
          code: err && err.code, message: err && err.message,
          factory: s instanceof session.Store && typeof s.createSession === 'function' }))
        s.close()`
      const r = spawnSync(process.execPath, ['-e', cjs], { cwd: dir, env, encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      const { message, ...out } = JSON.parse(r.stdout)
      assert.deepEqual(out, { named: 'function', sessiondError: true, code: 'ERR_SESSIOND_NO_EXPRESS_SESSION', factory: true })
      assert.match(message, /express-session cannot be found/)
      assert.ok(message.includes("require('connect-sessiond')(session)"), message)

      // The ESM entry reads the name at import: importing must still work.
      const esm = `
        import { SessiondStore } from 'connect-sessiond'
        try { new SessiondStore(); process.stdout.write('constructed') } catch (e) { process.stdout.write(e.code) }`
      const m = spawnSync(process.execPath, ['--input-type=module', '-e', esm], { cwd: dir, env, encoding: 'utf8' })
      assert.equal(m.status, 0, m.stderr)
      assert.equal(m.stdout, 'ERR_SESSIOND_NO_EXPRESS_SESSION')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('ESM: import { SessiondStore } gives the very class require() gives', () => {
    const code = `
      import connectSessiond, { SessiondStore, SessiondError, requestIdMiddleware } from ${JSON.stringify(pkgDir + '/index.mjs')}
      import { createRequire } from 'node:module'
      const cjs = createRequire(import.meta.url)(${JSON.stringify(pkgDir)})
      process.stdout.write(JSON.stringify([SessiondStore === cjs.SessiondStore, connectSessiond === cjs,
        SessiondError === cjs.SessiondError, typeof requestIdMiddleware]))`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: pkgDir, encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout), [true, true, true, 'function'])
  })

  it('SessiondError is an Error with a code', () => {
    const e = new SessiondError('m', { status: 503, title: 'Service Unavailable' })
    assert.ok(e instanceof Error)
    assert.equal(e.name, 'SessiondError')
    assert.equal(e.code, 'ERR_SESSIOND')
    assert.equal(e.status, 503)
  })
})

describe('the npm package', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))

  it('package.json: name, license, engines, exports, no runtime dependencies, express-session as optional peer', () => {
    assert.equal(pkg.name, 'connect-sessiond')
    assert.equal(pkg.license, 'MIT')
    assert.ok(pkg.engines && pkg.engines.node, 'engines.node')
    assert.equal(pkg.dependencies, undefined, 'no runtime dependencies')
    assert.equal(pkg.private, undefined, 'publishable')
    assert.deepEqual(pkg.exports['.'], { types: './index.d.ts', import: './index.mjs', require: './index.js', default: './index.js' })
    assert.ok(pkg.peerDependencies['express-session'])
    assert.equal(pkg.peerDependenciesMeta['express-session'].optional, true)
    for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'README.md', 'LICENSE']) {
      assert.ok(fs.existsSync(path.join(pkgDir, f)), f)
    }
  })

  it('npm pack publishes exactly the code, types, README, LICENSE and package.json, and the tarball works installed', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'connect-sessiond-pack-'))
    try {
      const npm = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: pkgDir,
        encoding: 'utf8',
        env: { ...process.env, npm_config_loglevel: 'silent', npm_config_update_notifier: 'false' },
      })
      if (npm.error && npm.error.code === 'ENOENT') return t.skip('npm is not installed')
      assert.equal(npm.status, 0, npm.stderr)
      const [info] = JSON.parse(npm.stdout)
      assert.equal(info.name, 'connect-sessiond')
      const files = info.files.map((f) => f.path).sort()
      assert.deepEqual(files, ['LICENSE', 'README.md', 'index.d.ts', 'index.js', 'index.mjs', 'package.json'])

      // An app with the tarball installed beside its express-session.
      const app = path.join(dir, 'app')
      const nm = path.join(app, 'node_modules')
      fs.mkdirSync(path.join(nm, 'connect-sessiond'), { recursive: true })
      const tar = spawnSync('tar', ['-xzf', path.join(dir, info.filename), '-C', path.join(nm, 'connect-sessiond'), '--strip-components=1'])
      assert.equal(tar.status, 0, String(tar.stderr))
      fs.symlinkSync(path.dirname(require.resolve('express-session/package.json')), path.join(nm, 'express-session'), 'dir')
      const cjs = spawnSync(
        process.execPath,
        [
          '-e',
          `const session = require('express-session')
           const { SessiondStore } = require('connect-sessiond')
           const s = new SessiondStore({ url: 'http://127.0.0.1:1' })
           let deep = 'exported'
           try { require('connect-sessiond/index.js') } catch (e) { deep = e.code }
           console.log(JSON.stringify([s instanceof session.Store, require('connect-sessiond/package.json').name, deep]))
           s.close()`,
        ],
        { cwd: app, encoding: 'utf8' }
      )
      assert.equal(cjs.status, 0, cjs.stderr)
      assert.deepEqual(JSON.parse(cjs.stdout), [true, 'connect-sessiond', 'ERR_PACKAGE_PATH_NOT_EXPORTED'])
      const esm = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import session from 'express-session'
           import { SessiondStore } from 'connect-sessiond'
           const s = new SessiondStore()
           console.log(JSON.stringify(s instanceof session.Store))
           s.close()`,
        ],
        { cwd: app, encoding: 'utf8' }
      )
      assert.equal(esm.status, 0, esm.stderr)
      assert.equal(esm.stdout.trim(), 'true')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
