'use strict'
// connect-sessiond: an express-session Store backed by sessiond's HTTP API
// (version 1, sessiond's docs/api.md). No runtime dependencies beyond Node
// itself.
//
// Two ways in, one class:
//   const { SessiondStore } = require('connect-sessiond')
//       extends the Store of the express-session that require() finds from
//       here (the app's copy, as a peer), resolved on first use; when none
//       is found, constructing it throws and points to the factory;
//   const SessiondStore = require('connect-sessiond')(session)
//       extends session.Store of the express-session the app passes in (the
//       connect-dynamodb / connect-redis style; immune to duplicate copies).

const http = require('node:http')
const https = require('node:https')
const { AsyncLocalStorage } = require('node:async_hooks')

const VERSION = require('./package.json').version

const ONE_DAY = 86400 // seconds; connect-dynamodb's default expiry
const DEFAULT_URL = 'http://127.0.0.1:8080'
const DEFAULT_TIMEOUT_MS = 5000
// Idle keep-alive sockets are closed after this long, well before sessiond's
// limits.connection_timeout (30 s by default) closes them from its side.
const IDLE_SOCKET_MS = 15000
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const MAX_DETAIL = 300

// api.md: client-chosen ids are 1 to 256 RFC 3986 unreserved characters.
const SID_RE = /^[A-Za-z0-9._~-]{1,256}$/
// What sessiond echoes back as X-Request-Id (http_rid_sane): anything else
// would be replaced by a generated id, so it is not sent at all.
const RID_RE = /^[A-Za-z0-9\-_.:/+=@]{1,128}$/

// connect-dynamodb's options and where each one lives now (README).
const MOVED_TO_SESSIOND = {
  table: 'dynamodb.table',
  hashKey: 'dynamodb.hash_key',
  prefix: 'dynamodb.prefix',
  AWSConfigJSON: 'dynamodb.region and the credentials group',
  AWSRegion: 'dynamodb.region',
  client: 'dynamodb.* and credentials.*',
  reapInterval: 'reaper.interval (seconds, not milliseconds)',
  readCapacityUnits: 'dynamodb.create_table (on-demand billing)',
  writeCapacityUnits: 'dynamodb.create_table (on-demand billing)',
  initialized: 'dynamodb.create_table',
  specialKeys: 'nothing (sessiond stores the session JSON only)',
  skipThrowMissingSpecialKeys: 'nothing (sessiond stores the session JSON only)',
}
const KNOWN_OPTIONS = new Set(['url', 'token', 'timeoutMs', 'agent', 'requestId', 'slidingReads', 'userOf'])

// Sliding reads: get() asks sessiond to extend the expiry in the same request
// (GET ?touch=1&ttl=N), so express-session's touch() at the end of the page
// view has nothing left to do when it would set (nearly) the same expiry.
const SLIDE_TOLERANCE_S = 5 // a touch this close to what the get set is done
const SLIDE_WINDOW_MS = 60000 // a get and its page view's touch, at most this apart
const SLIDE_MAX_ENTRIES = 10000 // sids slid and not yet touched, kept at most
// api.md v1.1: an owner is 1 to 256 characters without control characters.
const USER_RE = /^[^\u0000-\u001f\u007f-\u009f]{1,256}$/u

// ---------------------------------------------------------------------------
// Errors

// Every failure reaches express-session's callbacks as a SessiondError. Its
// message names the store operation, the HTTP status and the problem
// document's title (and detail); never the session id, the token or the URL
// path (which holds the id).
class SessiondError extends Error {
  constructor(message, props = {}) {
    super(message, props.cause === undefined ? undefined : { cause: props.cause })
    this.name = 'SessiondError'
    this.code = props.code || 'ERR_SESSIOND'
    for (const k of ['status', 'title', 'type', 'detail', 'requestId', 'operation']) {
      if (props[k] !== undefined) this[k] = props[k]
    }
  }
}

function scrub(text, secrets) {
  let s = String(text).replace(/[\u0000-\u001f\u007f]+/g, ' ')
  for (const v of secrets) {
    if (typeof v === 'string' && v.length > 0) s = s.split(v).join('[redacted]')
  }
  return s.length > MAX_DETAIL ? s.slice(0, MAX_DETAIL) + '…' : s
}

function problemError(op, res, secrets) {
  const status = res.status
  let title = http.STATUS_CODES[status] || 'Unexpected status'
  let type
  let detail
  const doc = res.json
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    if (typeof doc.title === 'string' && doc.title) title = scrub(doc.title, secrets)
    if (typeof doc.type === 'string') type = scrub(doc.type, secrets)
    if (typeof doc.detail === 'string' && doc.detail) detail = scrub(doc.detail, secrets)
  }
  const msg = `sessiond ${op}: ${status} ${title}${detail ? ` (${detail})` : ''}`
  return new SessiondError(msg, {
    code: 'ERR_SESSIOND_HTTP',
    status,
    title,
    type,
    detail,
    requestId: res.requestId,
    operation: op,
  })
}

// ---------------------------------------------------------------------------
// Expiry

// Seconds the session should live from now, from its cookie, as
// connect-dynamodb computes it: cookie.maxAge (ms; express-session's Cookie
// derives it from expires) when it is a number, else one day. A plain cookie
// object (a session that went through JSON) has no maxAge, so its expires is
// read instead. Rounded up: connect-dynamodb stores floor(now) + maxAge/1000
// with a fraction; sessiond takes whole seconds, and the stored session must
// not vanish before its cookie does. The result is <= 0 for a cookie that has
// already expired.
function ttlSeconds(sess, nowMs = Date.now()) {
  const c = sess && typeof sess === 'object' ? sess.cookie : undefined
  let ms
  if (c && typeof c === 'object') {
    if (typeof c.maxAge === 'number') ms = c.maxAge
    else if (c.expires != null) ms = new Date(c.expires).getTime() - nowMs
  }
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return ONE_DAY
  return Math.ceil(ms / 1000)
}

// The ttl express-session's touch() will ask for a session as stored: its
// cookie's originalMaxAge (ms) when the cookie has one, else one day (a
// browser-session cookie), as ttlSeconds computes it at touch time.
function cookieTtl(data) {
  const c = data && typeof data === 'object' ? data.cookie : undefined
  const ms = c && typeof c === 'object' ? c.originalMaxAge : undefined
  if (typeof ms === 'number' && Number.isFinite(ms) && ms > 0) return Math.ceil(ms / 1000)
  return ONE_DAY
}

// ---------------------------------------------------------------------------
// Request ids

const ridContext = new AsyncLocalStorage()

function ridFromReq(req) {
  if (!req || typeof req !== 'object') return undefined
  if (typeof req.id === 'string' && req.id) return req.id
  const h = req.headers && req.headers['x-request-id']
  return typeof h === 'string' ? h : undefined
}

// Middleware to mount before session(): makes the request's id (req.id, as
// set by pino-http or express-request-id, else its X-Request-Id header)
// available to every store call the request causes, get() included.
function requestIdMiddleware() {
  return function sessiondRequestId(req, res, next) {
    const rid = ridFromReq(req)
    if (rid === undefined) return next()
    ridContext.run(rid, next)
  }
}

// ---------------------------------------------------------------------------
// Helpers

function defer(cb, ...args) {
  process.nextTick(() => cb(...args))
}

// Retry-After: delta-seconds or an HTTP date; milliseconds, or undefined.
function retryAfterMs(v, nowMs = Date.now()) {
  if (typeof v !== 'string') return undefined
  v = v.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const t = Date.parse(v)
  return Number.isFinite(t) ? Math.max(0, t - nowMs) : undefined
}

function checkOptions(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw new TypeError('connect-sessiond: options must be an object')
  for (const k of Object.keys(options)) {
    if (Object.prototype.hasOwnProperty.call(MOVED_TO_SESSIOND, k)) {
      throw new TypeError(
        `connect-sessiond: option "${k}" is sessiond's business now: set ${MOVED_TO_SESSIOND[k]} in sessiond.conf (see the README)`
      )
    }
    if (!KNOWN_OPTIONS.has(k)) {
      throw new TypeError(`connect-sessiond: unknown option "${k}" (known: ${[...KNOWN_OPTIONS].join(', ')})`)
    }
  }

  let url
  try {
    url = new URL(options.url === undefined ? DEFAULT_URL : String(options.url))
  } catch {
    throw new TypeError('connect-sessiond: url is not a valid URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError('connect-sessiond: url must be http: or https:')
  }
  if (url.username || url.password) {
    throw new TypeError('connect-sessiond: url must not carry credentials; pass the token option')
  }
  if (url.search || url.hash) {
    throw new TypeError('connect-sessiond: url must not carry a query or fragment')
  }

  const token = options.token
  if (token !== undefined && token !== null && token !== '') {
    // Checked without echoing the value.
    if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
      throw new TypeError('connect-sessiond: token must be a string of visible ASCII characters')
    }
  }

  const timeoutMs = options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : options.timeoutMs
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 2147483647) {
    throw new TypeError('connect-sessiond: timeoutMs must be a positive integer (milliseconds)')
  }

  const agent = options.agent
  if (agent !== undefined && agent !== null && !(agent instanceof http.Agent)) {
    throw new TypeError('connect-sessiond: agent must be an http.Agent or https.Agent')
  }

  if (options.requestId !== undefined && typeof options.requestId !== 'function') {
    throw new TypeError('connect-sessiond: requestId must be a function returning the current request id')
  }

  if (options.slidingReads !== undefined && typeof options.slidingReads !== 'boolean') {
    throw new TypeError('connect-sessiond: slidingReads must be a boolean')
  }
  if (options.userOf !== undefined && typeof options.userOf !== 'function') {
    throw new TypeError('connect-sessiond: userOf must be a function returning the owner of a session (or undefined)')
  }

  return {
    userOf: options.userOf,
    url,
    slidingReads: options.slidingReads !== false,
    token: typeof token === 'string' && token !== '' ? token : undefined,
    timeoutMs,
    agent: agent || undefined,
    requestId: options.requestId,
  }
}

// ---------------------------------------------------------------------------
// Merge patches (RFC 7386) of what a request changed

const isPlain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)

function jsonEqual(a, b) {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]))
  if (!isPlain(a) || !isPlain(b)) return false
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]))
}

// A null where a merge patch would read it as "delete" (in objects; arrays
// are replaced whole, nulls and all).
function nullInObjects(v) {
  return v === null || (isPlain(v) && Object.values(v).some(nullInObjects))
}

// The merge patch that turns JSON object a into b, or undefined when none
// can (b holds a null that the patch would read as a deletion).
function mergeDiff(a, b) {
  const patch = {}
  for (const k of Object.keys(a)) if (!Object.prototype.hasOwnProperty.call(b, k)) patch[k] = null
  for (const [k, v] of Object.entries(b)) {
    const old = Object.prototype.hasOwnProperty.call(a, k) ? a[k] : undefined
    if (isPlain(v) && isPlain(old)) {
      const sub = mergeDiff(old, v)
      if (sub === undefined) return undefined
      if (Object.keys(sub).length) patch[k] = sub
    } else if (old === undefined || !jsonEqual(old, v)) {
      if (nullInObjects(v)) return undefined
      patch[k] = v
    }
  }
  return patch
}

// ---------------------------------------------------------------------------
// The store

const classes = new WeakMap()

function storeClass(Base) {
  const cached = classes.get(Base)
  if (cached) return cached

  class SessiondStore extends Base {
    #base // URL of sessiond
    #basePath // its path prefix, without a trailing slash
    #token
    #timeoutMs
    #agent
    #ownAgent
    #mod
    #requestId
    #userOf
    #closed = false
    #sliding // get() extends the expiry (sessiond 1.1); off after a refusal
    #ttlGuess // the ttl the app's touches ask for, learned from cookies
    #slid = new Map() // sid -> { target: expiry the get set (s), at: ms }
    // What each session looked like when get() read it (and after each
    // write): { sid, text (its JSON), user }, keyed by the data object get()
    // returned and then by express-session's Session made from it. A write
    // of a session read in this request sends only what changed.
    #loaded = new WeakMap()

    constructor(options) {
      const o = checkOptions(options)
      super()
      this.#base = o.url
      this.#basePath = o.url.pathname.replace(/\/+$/, '')
      this.#token = o.token
      this.#timeoutMs = o.timeoutMs
      this.#mod = o.url.protocol === 'https:' ? https : http
      this.#ownAgent = !o.agent
      this.#agent =
        o.agent ||
        new this.#mod.Agent({ keepAlive: true, keepAliveMsecs: 1000, timeout: IDLE_SOCKET_MS, scheduling: 'lifo' })
      this.#requestId = o.requestId
      this.#sliding = o.slidingReads
      this.#userOf = o.userOf
    }

    /** The session of sid, or null when sessiond has none (absent or expired). */
    get(sid, cb) {
      return this.#run(cb, async () => {
        if (!validSid(sid)) return null // sessiond can hold no such id
        const guess = this.#sliding ? this.#ttlGuess : undefined
        const nowS = Math.floor(Date.now() / 1000)
        let res = await this.#call('get', 'GET', sid, guess ? `?touch=1&ttl=${guess}` : '', undefined, undefined)
        if (guess && res.status === 400) {
          // A sessiond that refuses the ttl (over its session.max_ttl):
          // plain reads from now on; the touches say what they need.
          this.#sliding = false
          res = await this.#call('get', 'GET', sid, '', undefined, undefined)
        }
        this.#slid.delete(sid)
        if (res.status === 404) return null
        if (res.status !== 200) throw problemError('get', res, this.#secrets(sid))
        const data = res.json && res.json.data
        if (!data || typeof data !== 'object' || Array.isArray(data)) {
          throw new SessiondError('sessiond get: the answer holds no session object', {
            code: 'ERR_SESSIOND_RESPONSE',
            status: res.status,
            requestId: res.requestId,
            operation: 'get',
          })
        }
        const ttl = cookieTtl(data)
        if (guess && ttl === guess && /^(written|skipped)$/.test(res.headers['sessiond-touch'] || '')) {
          this.#rememberSlide(sid, nowS + guess)
        }
        this.#ttlGuess = ttl
        this.#remember(data, sid, data, res.json.user)
        return data
      })
    }

    /**
     * express-session makes req.session from what get() returned; the store
     * remembers that the session was read, so that set() can send only what
     * the request changed.
     */
    createSession(req, sess) {
      const made = super.createSession(req, sess)
      const rec = this.#loaded.get(sess)
      if (rec) this.#loaded.set(made, rec)
      return made
    }

    /**
     * Writes the session; an expired cookie deletes it. A session read in
     * this request (get) is written as a merge patch of what changed
     * (PATCH): concurrent requests that change different keys all keep
     * their changes, where a whole PUT would keep only the last one. A new
     * session, a change of owner (userOf), or a change a merge patch cannot
     * say (a null value) is a whole PUT. A read session that is gone by
     * now (destroyed, revoked by "log out everywhere") stays gone.
     */
    set(sid, sess, cb) {
      return this.#run(cb, async () => {
        checkSid('set', sid)
        this.#slid.delete(sid)
        const ttl = ttlSeconds(sess)
        if (ttl <= 0) return this.#destroy(sid, sess)
        const plain = JSON.parse(JSON.stringify(sess))
        const user = this.#owner(sess)
        const rec = this.#loaded.get(sess)
        if (rec && rec.sid === sid && (!this.#userOf || user === rec.user)) {
          const patch = mergeDiff(JSON.parse(rec.text), plain)
          if (patch !== undefined) {
            const res = await this.#call('set', 'PATCH', sid, '', JSON.stringify(patch), sess, {
              query: `?ttl=${ttl}`,
              contentType: 'application/merge-patch+json',
            })
            if (res.status === 404) return // gone meanwhile: not brought back
            if (res.status !== 200) throw problemError('set', res, this.#secrets(sid))
            this.#remember(sess, sid, plain, rec.user)
            return
          }
        }
        const doc = { data: sess, ttl }
        if (user !== undefined) doc.user = user
        const res = await this.#call('set', 'PUT', sid, '', JSON.stringify(doc), sess)
        if (res.status !== 200 && res.status !== 201) throw problemError('set', res, this.#secrets(sid))
        this.#remember(sess, sid, plain, user)
      })
    }

    /**
     * express-session's req.session.regenerate: the old session is
     * destroyed and the request gets a new, empty one (express-session's
     * own semantics, kept). To keep the data under a new id instead, see
     * rotate() and rotateSession().
     */
    regenerate(req, cb) {
      return super.regenerate(req, cb)
    }

    /**
     * Moves session sid to a new id made by sessiond, data and owner kept
     * (POST /v1/sessions/{sid}/regenerate): session fixation defence
     * without losing the session. Resolves with the new resource
     * ({ id, data, expires, version, user? }), or null when sid is gone.
     */
    rotate(sid, cb) {
      return this.#run(cb, async () => {
        if (!validSid(sid)) return null
        const res = await this.#call('rotate', 'POST', sid, '/regenerate', undefined, undefined)
        if (res.status === 404) return null
        if (res.status !== 201 || !res.json || !isPlain(res.json.data) || !validSid(res.json.id)) {
          throw problemError('rotate', res, this.#secrets(sid))
        }
        return res.json
      })
    }

    /**
     * For an express request: rotate(req.sessionID), then req.sessionID and
     * req.session are the new session (express-session sends the new
     * cookie at the end of the request). Call it before changing the
     * session in this request (at login, say). A session that is gone gets
     * a new, empty one, as req.session.regenerate would. Resolves with the
     * new id.
     */
    rotateSession(req, cb) {
      return this.#run(cb, async () => {
        const r = await this.rotate(req.sessionID)
        if (!r) {
          this.generate(req)
          return req.sessionID
        }
        const data = r.data
        if (!isPlain(data.cookie) && req.session && req.session.cookie) data.cookie = JSON.parse(JSON.stringify(req.session.cookie))
        req.sessionID = r.id
        this.#remember(data, r.id, data, r.user)
        this.createSession(req, data)
        return r.id
      })
    }

    /**
     * The unexpired sessions of user uid, soonest expiry first, every page
     * followed: [{ id, expires }]. Needs users.index in sessiond.
     */
    listUserSessions(uid, cb) {
      return this.#run(cb, async () => {
        checkUser('listUserSessions', uid)
        const out = []
        let cursor = null
        do {
          const q = `?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`
          const res = await this.#call('listUserSessions', 'GET', '', '', undefined, undefined, {
            path: `/v1/users/${encodeURIComponent(uid)}/sessions`,
            query: q,
          })
          if (res.status !== 200 || !res.json || !Array.isArray(res.json.sessions)) {
            throw problemError('listUserSessions', res, [this.#token])
          }
          out.push(...res.json.sessions)
          cursor = typeof res.json.next === 'string' ? res.json.next : null
        } while (cursor)
        return out
      })
    }

    /**
     * Revokes every session of user uid ("log out everywhere"), or all but
     * options.except (a session id: "log out other devices"). Resolves with
     * how many were deleted.
     */
    revokeUserSessions(uid, options, cb) {
      if (typeof options === 'function') {
        cb = options
        options = undefined
      }
      return this.#run(cb, async () => {
        checkUser('revokeUserSessions', uid)
        const except = options && options.except
        if (except !== undefined && except !== null) checkSid('revokeUserSessions', except)
        const res = await this.#call('revokeUserSessions', 'DELETE', '', '', undefined, undefined, {
          path: `/v1/users/${encodeURIComponent(uid)}/sessions`,
          query: except ? `?except=${encodeURIComponent(except)}` : '',
        })
        if (res.status !== 200 || !res.json || !Number.isInteger(res.json.deleted)) {
          throw problemError('revokeUserSessions', res, [this.#token, except])
        }
        return res.json.deleted
      })
    }

    // The owner of sess by the userOf option: a string (a number is
    // written in decimal), or undefined.
    #owner(sess) {
      if (!this.#userOf) return undefined
      let u
      try {
        u = this.#userOf(sess)
      } catch {
        u = undefined
      }
      if (typeof u === 'number' && Number.isFinite(u)) u = String(u)
      return typeof u === 'string' && USER_RE.test(u) ? u : undefined
    }

    #remember(key, sid, data, user) {
      if (key && typeof key === 'object') {
        this.#loaded.set(key, { sid, text: JSON.stringify(data), user: typeof user === 'string' ? user : undefined })
      }
    }

    /**
     * Extends the session's expiry, data untouched. A session sessiond no
     * longer has (destroyed, expired) stays gone: the touch is a no-op.
     */
    touch(sid, sess, cb) {
      return this.#run(cb, async () => {
        checkSid('touch', sid)
        const ttl = ttlSeconds(sess)
        const slid = this.#slid.get(sid)
        this.#slid.delete(sid)
        if (ttl <= 0) return this.#destroy(sid, sess)
        // This page view's get already extended the expiry to (about) where
        // the touch would: sessiond wrote it, or skipped it under its
        // session.touch_after exactly as it would skip this touch.
        if (
          slid &&
          Date.now() - slid.at < SLIDE_WINDOW_MS &&
          Math.abs(Math.floor(Date.now() / 1000) + ttl - slid.target) <= SLIDE_TOLERANCE_S
        ) {
          return
        }
        const res = await this.#call('touch', 'POST', sid, '/touch', JSON.stringify({ ttl }), sess)
        if (res.status === 404) return // gone; a touch never recreates
        if (res.status !== 200) throw problemError('touch', res, this.#secrets(sid))
      })
    }

    /** Deletes the session; deleting an absent one succeeds. */
    destroy(sid, cb) {
      this.#slid.delete(sid)
      return this.#run(cb, () => this.#destroy(sid, undefined))
    }

    // Notes that a get slid sid's expiry to target; bounded, oldest first out.
    #rememberSlide(sid, target) {
      if (this.#slid.size >= SLIDE_MAX_ENTRIES) {
        let n = SLIDE_MAX_ENTRIES / 10
        for (const k of this.#slid.keys()) {
          this.#slid.delete(k)
          if (--n <= 0) break
        }
      }
      this.#slid.set(sid, { target, at: Date.now() })
    }

    /**
     * Closes the idle keep-alive connections of the store's own agent (an
     * agent passed in options is the caller's to destroy). Calls after close
     * fail.
     */
    close() {
      this.#closed = true
      if (this.#ownAgent) this.#agent.destroy()
    }

    async #destroy(sid, sess) {
      if (!validSid(sid)) return
      const res = await this.#call('destroy', 'DELETE', sid, '', undefined, sess)
      if (res.status === 404 || (res.status >= 200 && res.status < 300)) return
      throw problemError('destroy', res, this.#secrets(sid))
    }

    #secrets(sid) {
      return [sid, this.#token]
    }

    // Callback style when cb is given (express-session), a Promise otherwise.
    #run(cb, fn) {
      const p = this.#closed
        ? Promise.reject(new SessiondError('sessiond: the store is closed', { code: 'ERR_SESSIOND_CLOSED' }))
        : (async () => fn())()
      if (typeof cb !== 'function') return p
      p.then(
        (v) => defer(cb, null, v),
        (err) => defer(cb, err)
      )
      return undefined
    }

    #rid(sess) {
      let v
      if (this.#requestId) {
        try {
          v = this.#requestId()
        } catch {
          v = undefined
        }
      }
      if (v === undefined) v = ridContext.getStore()
      if (v === undefined && sess && typeof sess === 'object') v = ridFromReq(sess.req)
      return typeof v === 'string' && RID_RE.test(v) ? v : undefined
    }

    // One API call with the store's deadline: a 503 is tried once more after
    // its Retry-After when that still fits in the deadline; a failure on a
    // reused keep-alive connection before any answer (the server closed it
    // while idle) is tried once more at once. Every call is idempotent.
    async #call(op, method, sid, suffix, body, sess, opts = {}) {
      const deadline = Date.now() + this.#timeoutMs
      const path = (opts.path ? `${this.#basePath}${opts.path}` : `${this.#basePath}/v1/sessions/${encodeURIComponent(sid)}${suffix}`) + (opts.query || '')
      const headers = {
        Accept: 'application/json, application/problem+json',
        'User-Agent': `connect-sessiond/${VERSION} node/${process.versions.node}`,
      }
      if (this.#token) headers.Authorization = `Bearer ${this.#token}`
      const rid = this.#rid(sess)
      if (rid) headers['X-Request-Id'] = rid
      if (body !== undefined) {
        headers['Content-Type'] = opts.contentType || 'application/json'
        headers['Content-Length'] = Buffer.byteLength(body)
      }

      let retried503 = false
      let retriedReset = false
      for (;;) {
        let res
        try {
          res = await this.#once(op, method, path, headers, body, deadline)
        } catch (err) {
          if (err.reusedSocket && !retriedReset && Date.now() < deadline) {
            retriedReset = true
            continue
          }
          throw err.sessiond
            ? err.sessiond
            : new SessiondError(`sessiond ${op}: cannot reach sessiond (${err.code || 'network error'})`, {
                code: err.code || 'ERR_SESSIOND_NETWORK',
                operation: op,
                cause: err,
              })
        }
        if (res.status === 503 && !retried503) {
          const wait = retryAfterMs(res.headers['retry-after'])
          const ms = wait === undefined ? 1000 : wait
          if (Date.now() + ms < deadline) {
            retried503 = true
            await new Promise((r) => setTimeout(r, ms))
            continue
          }
        }
        return res
      }
    }

    #once(op, method, path, headers, body, deadline) {
      return new Promise((resolve, reject) => {
        const remaining = deadline - Date.now()
        const timeoutErr = () => {
          const e = new Error('timeout')
          e.sessiond = new SessiondError(`sessiond ${op}: no answer within ${this.#timeoutMs} ms`, {
            code: 'ERR_SESSIOND_TIMEOUT',
            operation: op,
          })
          return e
        }
        if (remaining <= 0) return reject(timeoutErr())
        let settled = false
        const finish = (err, v) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          if (err) reject(err)
          else resolve(v)
        }
        const req = this.#mod.request({
          protocol: this.#base.protocol,
          hostname: this.#base.hostname.replace(/^\[|\]$/g, ''),
          port: this.#base.port || undefined,
          method,
          path,
          headers,
          agent: this.#agent,
        })
        const timer = setTimeout(() => {
          const e = timeoutErr()
          finish(e)
          req.destroy(e)
        }, remaining)
        req.on('error', (err) => {
          if (req.reusedSocket && !req.res && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
            err.reusedSocket = true
          }
          finish(err)
        })
        req.on('response', (res) => {
          const chunks = []
          let size = 0
          res.on('data', (c) => {
            size += c.length
            if (size > MAX_RESPONSE_BYTES) {
              const e = new Error('too large')
              e.sessiond = new SessiondError(`sessiond ${op}: answer over ${MAX_RESPONSE_BYTES} bytes`, {
                code: 'ERR_SESSIOND_RESPONSE',
                status: res.statusCode,
                operation: op,
              })
              finish(e)
              req.destroy()
              return
            }
            chunks.push(c)
          })
          res.on('error', (err) => finish(err))
          res.on('close', () => {
            if (!res.complete) finish(Object.assign(new Error('connection closed mid-answer'), { code: 'ECONNRESET' }))
          })
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            let json
            const ct = String(res.headers['content-type'] || '')
            if (text && /^application\/(?:problem\+)?json\b/i.test(ct)) {
              try {
                json = JSON.parse(text)
              } catch {
                json = undefined
              }
            }
            if (res.statusCode === 200 && method === 'GET' && json === undefined) {
              const e = new Error('unreadable')
              e.sessiond = new SessiondError(`sessiond ${op}: the answer is not JSON`, {
                code: 'ERR_SESSIOND_RESPONSE',
                status: 200,
                operation: op,
              })
              return finish(e)
            }
            finish(null, {
              status: res.statusCode,
              headers: res.headers,
              json,
              requestId: typeof res.headers['x-request-id'] === 'string' ? res.headers['x-request-id'] : undefined,
            })
          })
        })
        req.end(body)
      })
    }
  }

  Object.defineProperty(SessiondStore, 'name', { value: 'SessiondStore' })
  classes.set(Base, SessiondStore)
  return SessiondStore
}

function validSid(sid) {
  return typeof sid === 'string' && SID_RE.test(sid)
}

function checkUser(op, uid) {
  if (typeof uid === 'number' && Number.isFinite(uid)) uid = String(uid)
  if (typeof uid !== 'string' || !USER_RE.test(uid)) {
    throw new SessiondError(`sessiond ${op}: a user id is 1 to 256 characters without control characters`, {
      code: 'ERR_SESSIOND_BAD_USER',
      operation: op,
    })
  }
}

function checkSid(op, sid) {
  if (!validSid(sid)) {
    throw new SessiondError(
      `sessiond ${op}: the session id is not one sessiond accepts (1 to 256 characters of A-Z a-z 0-9 . _ ~ -); check express-session's genid`,
      { code: 'ERR_SESSIOND_BAD_ID', operation: op }
    )
  }
}

// The base of the named SessiondStore when no express-session can be found.
// The name must still resolve (destructuring and index.mjs read it at load
// time), but a store without express-session's regenerate/load/createSession
// would only fail at the first request, deep inside express-session ("store.
// createSession is not a function"). So constructing one fails at once and
// says what to do.
class NoExpressSession {
  constructor() {
    throw new SessiondError(
      'connect-sessiond: express-session cannot be found from connect-sessiond or the working ' +
        'directory, so SessiondStore has no Store to extend. Pass the express-session your app ' +
        "uses to the factory instead: const SessiondStore = require('connect-sessiond')(session)",
      { code: 'ERR_SESSIOND_NO_EXPRESS_SESSION' }
    )
  }
}

// The Store base class of the app's express-session: require() from this
// package (the app's copy when installed beside it, or linked as a peer),
// else from the working directory; else NoExpressSession.
function appStoreBase() {
  const tries = [() => require('express-session'), () => require(require.resolve('express-session', { paths: [process.cwd()] }))]
  for (const t of tries) {
    try {
      const s = t()
      if (s && typeof s.Store === 'function') return s.Store
    } catch (err) {
      if (err && err.code !== 'MODULE_NOT_FOUND') throw err
    }
  }
  return NoExpressSession
}

/**
 * connect-dynamodb style: require('connect-sessiond')(session) returns the
 * store class extending session.Store (session is express-session, or a
 * connect-style object with .session.Store).
 */
function connectSessiond(session) {
  const Store = session && (session.Store || (session.session && session.session.Store))
  if (typeof Store !== 'function') {
    throw new TypeError('connect-sessiond: pass express-session (the module) to the factory')
  }
  return storeClass(Store)
}

let defaultClass
Object.defineProperty(connectSessiond, 'SessiondStore', {
  enumerable: true,
  get() {
    if (!defaultClass) defaultClass = storeClass(appStoreBase())
    return defaultClass
  },
})
connectSessiond.SessiondError = SessiondError
connectSessiond.requestIdMiddleware = requestIdMiddleware
connectSessiond.ttlSeconds = ttlSeconds
connectSessiond.mergeDiff = mergeDiff
connectSessiond.default = connectSessiond

module.exports = connectSessiond
