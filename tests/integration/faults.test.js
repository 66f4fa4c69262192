'use strict'
// Issue 4: DynamoDB faults, end to end. The real sessiond talks to dynalite
// through lib/faultproxy.js, which injects one fault scenario per daemon.
// Every cell of the matrix (scenario × operation) sends one API request and
// then checks, against dynalite directly:
//   - the HTTP answer: the operation's success status when the retry policy
//     can absorb the fault (fewer faulty answers than max_attempts), 503 with
//     Retry-After when it cannot; never a 2xx for a write that is not in the
//     table, never a wrong 404/412, never a 500;
//   - the table: the write is there exactly once (version + 1, not + 2) after
//     a 2xx, and nothing changed after a failure answer;
//   - the wall time: no hang past limits.request_timeout_ms + a margin;
//   - the attempts the proxy saw: at most max_attempts per DynamoDB call
//     (+1 for the one re-signed retry after a clock skew).
// One daemon per scenario (fresh retry quota and clock offset). Its
// connection pool is warmed before each cell, as in production, and the
// cells of a scenario run one after another, so each starts on a pool of
// idle reused connections; the slow scenarios (timeouts) run their cells
// concurrently, which the proxy allows by telling cells apart by a tag in
// the session id or data. The matrix is printed at the end as TAP comments:
// "a18(d4)" = the proxy saw 18 requests where the daemon's log counted 4.
//
// Columns (the operation, and which DynamoDB step the fault hits):
//   create       POST /v1/sessions              PutItem
//   PUT new      PUT of an absent id            PutItem (the create step)
//   PUT new·U    PUT of an absent id            UpdateItem (the replace try, which finds nothing)
//   PUT          PUT of a live id               UpdateItem
//   PATCH        PATCH of a live id             UpdateItem (the write step)
//   PATCH·G      PATCH of a live id             GetItem (the read step)
//   touch        touch of a live id             UpdateItem
//   touch absent touch of an absent id          UpdateItem (must stay 404)
//   DELETE       DELETE of a live id            DeleteItem
//   GET          GET of a live id               GetItem

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon, request, describeExchange, ddbEndpoint } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')
const { startFaultProxy } = require('./lib/faultproxy')

const TIMEOUT_MS = 300 // dynamodb.timeout_ms: one attempt
const MAX_ATTEMPTS = 4 // dynamodb.max_attempts
const REQUEST_TIMEOUT_MS = 2000 // limits.request_timeout_ms
const WALL_MARGIN_MS = 1500 // a correctness bound, not a performance one
const SEED_VERSION = 3
const WARM_CONNECTIONS = 16
const T = { timeout: 60000 }

const now = () => Math.floor(Date.now() / 1000)
let tagSeq = 0
const newTag = () => `fc${++tagSeq}x`

// ---------------------------------------------------------------------------
// Scenarios. expect: 'ok' = the operation's success answer; 'unavailable' =
// 503 + Retry-After; 'refused' = 502 or 503 (not a client error);
// 'either' = 'ok' or 'refused'. applies: the proxy forwards the faulted
// request, so DynamoDB commits it before the fault.

const SCENARIOS = [
  { name: 'throttle ×2', rule: { kind: 'throttle', count: 2 }, expect: 'ok' },
  { name: 'throttle ×4 (= max_attempts)', rule: { kind: 'throttle', count: MAX_ATTEMPTS }, expect: 'unavailable' },
  { name: '500 forever', rule: { kind: 'status500' }, expect: 'unavailable' },
  { name: '503 once', rule: { kind: 'status503', count: 1 }, expect: 'ok' },
  { name: 'HTML 502 once', rule: { kind: 'html502', count: 1 }, expect: 'ok' },
  { name: 'reset before forwarding', rule: { kind: 'reset', count: 1 }, expect: 'ok' },
  { name: 'reset before forwarding, forever', rule: { kind: 'reset' }, expect: 'unavailable' },
  { name: 'reset mid-response (applied)', rule: { kind: 'reset-mid', count: 1 }, expect: 'ok', applies: true },
  { name: 'wrong x-amz-crc32 (applied)', rule: { kind: 'crc', count: 1 }, expect: 'ok', applies: true },
  { name: 'garbage JSON, valid CRC (applied)', rule: { kind: 'garbage', count: 1 }, expect: 'ok', applies: true },
  { name: 'empty 200', rule: { kind: 'empty', count: 1 }, expect: 'ok' },
  { name: 'blackhole once (> attempt timeout)', rule: { kind: 'blackhole', count: 1 }, expect: 'ok', parallel: true },
  { name: 'blackhole forever', rule: { kind: 'blackhole' }, expect: 'unavailable', parallel: true },
  { name: 'delay 150 ms (< attempt timeout)', rule: { kind: 'delay', delayMs: 150 }, expect: 'ok', parallel: true },
  { name: 'apply, then reset', rule: { kind: 'apply-reset', count: 1 }, expect: 'ok', applies: true },
  { name: 'apply, then hold reply 1.5 s', rule: { kind: 'apply-hold', count: 1, holdMs: 1500 }, expect: 'ok', applies: true, parallel: true },
  // ExpiredTokenException: refreshing credentials and retrying once is
  // being wired; with the static credentials used here a refresh cannot
  // help. So today the right answer is a non-2xx that is not a client error
  // (502 or 503) and nothing written; once the refresh is wired, the
  // one-shot variant may also succeed (2xx with the write in the table).
  // Both cells accept either, as long as there is no wrong 2xx/404/412 and
  // the table matches the answer.
  { name: 'ExpiredToken once', rule: { kind: 'expired', count: 1 }, expect: 'either' },
  { name: 'ExpiredToken forever', rule: { kind: 'expired' }, expect: 'refused' },
  // DynamoDB's clock runs an hour ahead of the daemon's: the first request
  // of a cell is refused (InvalidSignatureException "Signature expired",
  // Date: an hour ahead); the daemon must learn the offset from Date and
  // re-sign once. The cells run one after another (never in parallel here),
  // each an hour further ahead than the last, so each meets the skew afresh.
  { name: 'clock skew +1 h (once)', rule: { kind: 'skew' }, expect: 'ok', skew: true },
]

// ---------------------------------------------------------------------------
// Columns. calls: the most DynamoDB calls of each operation the flow makes
// (a read-back after a maybe-applied conditional write included).

const seedData = (tag) => ({ seed: tag, keep: 1 })

const COLUMNS = [
  {
    name: 'create',
    seed: false,
    ops: ['PutItem'],
    ok: 201,
    calls: { PutItem: 1, GetItem: 1 },
    send: (api, c) => api('POST', '/v1/sessions', { json: { data: { cell: c.tag }, ttl: 3600 } }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { cell: c.tag }, version: 1 })
      if (r.json && item && item.id.S !== 'sess:' + r.json.id) p.push(`stored id ${item.id.S} is not the answered id ${r.json.id}`)
      p.expectItem(item, { data: { cell: c.tag }, version: 1 })
    },
  },
  {
    name: 'PUT new',
    seed: false,
    ops: ['PutItem'],
    ok: 201,
    calls: { UpdateItem: 1, PutItem: 1, GetItem: 1 },
    send: (api, c) => api('PUT', `/v1/sessions/${c.id}`, { json: { data: { putnew: c.tag }, ttl: 3600 } }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { putnew: c.tag }, version: 1 })
      p.expectItem(item, { data: { putnew: c.tag }, version: 1 })
    },
  },
  {
    name: 'PUT new·U',
    seed: false,
    ops: ['UpdateItem'],
    ok: 201,
    calls: { UpdateItem: 1, PutItem: 1, GetItem: 1 },
    send: (api, c) => api('PUT', `/v1/sessions/${c.id}`, { json: { data: { putnew: c.tag }, ttl: 3600 } }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { putnew: c.tag }, version: 1 })
      p.expectItem(item, { data: { putnew: c.tag }, version: 1 })
    },
  },
  {
    name: 'PUT',
    seed: true,
    ops: ['UpdateItem'],
    ok: 200,
    // A replace (version + 1) is never resent blindly: each write that may
    // have been applied is read back, and written again only if it was not,
    // at most dynamodb.max_attempts rounds.
    calls: { UpdateItem: MAX_ATTEMPTS, GetItem: MAX_ATTEMPTS },
    send: (api, c) => api('PUT', `/v1/sessions/${c.id}`, { json: { data: { put: c.tag }, ttl: 3600 } }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { put: c.tag }, version: SEED_VERSION + 1 })
      p.expectItem(item, { data: { put: c.tag }, version: SEED_VERSION + 1 })
    },
  },
  {
    name: 'PATCH',
    seed: true,
    ops: ['UpdateItem'],
    ok: 200,
    calls: { GetItem: 2, UpdateItem: 1 },
    send: (api, c) => api('PATCH', `/v1/sessions/${c.id}`, { json: { seed: null, p: c.tag }, type: 'application/merge-patch+json' }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { keep: 1, p: c.tag }, version: SEED_VERSION + 1 })
      p.expectItem(item, { data: { keep: 1, p: c.tag }, version: SEED_VERSION + 1, expires: c.seedExpires })
    },
  },
  {
    name: 'PATCH·G',
    seed: true,
    ops: ['GetItem'],
    ok: 200,
    calls: { GetItem: 2, UpdateItem: 1 },
    send: (api, c) => api('PATCH', `/v1/sessions/${c.id}`, { json: { seed: null, p: c.tag }, type: 'application/merge-patch+json' }),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: { keep: 1, p: c.tag }, version: SEED_VERSION + 1 })
      p.expectItem(item, { data: { keep: 1, p: c.tag }, version: SEED_VERSION + 1, expires: c.seedExpires })
    },
  },
  {
    name: 'touch',
    seed: true,
    ops: ['UpdateItem'],
    ok: 200,
    calls: { UpdateItem: 1 },
    send: (api, c) => api('POST', `/v1/sessions/${c.id}/touch`, { json: { ttl: 7200 } }),
    check: (c, item, r, p) => {
      const j = r.json || {}
      if (j.id !== c.id || j.version !== SEED_VERSION || !Number.isInteger(j.expires)) p.push(`touch answer ${r.text}`)
      p.expectItem(item, { data: seedData(c.tag), version: SEED_VERSION })
      if (item) {
        const e = Number(item.expires.N)
        if (e < c.t0 + 7200 || e > c.t1 + 7200 + 1) p.push(`stored expires ${e} is not now + 7200 (t0 ${c.t0})`)
        if (e !== j.expires) p.push(`stored expires ${e} differs from the answered ${j.expires}`)
      }
    },
  },
  {
    name: 'touch absent',
    seed: false,
    ops: ['UpdateItem'],
    ok: 404,
    calls: { UpdateItem: 1 },
    send: (api, c) => api('POST', `/v1/sessions/${c.id}/touch`, { json: { ttl: 7200 } }),
    check: (c, item, r, p) => {
      if (item) p.push(`a touch created an item: ${JSON.stringify(item)}`)
    },
  },
  {
    name: 'DELETE',
    seed: true,
    ops: ['DeleteItem'],
    ok: 204,
    calls: { DeleteItem: 1 },
    send: (api, c) => api('DELETE', `/v1/sessions/${c.id}`),
    check: (c, item, r, p) => {
      if (item) p.push(`204, but the item is still there: ${JSON.stringify(item)}`)
    },
  },
  {
    name: 'GET',
    seed: true,
    ops: ['GetItem'],
    ok: 200,
    calls: { GetItem: 1 },
    send: (api, c) => api('GET', `/v1/sessions/${c.id}`),
    check: (c, item, r, p) => {
      p.expectResource(r, { data: seedData(c.tag), version: SEED_VERSION })
      p.expectUnchanged(item)
    },
  },
]

// ---------------------------------------------------------------------------
// Judging one cell.

class Problems extends Array {
  constructor(cell) {
    super()
    this.cell = cell
  }

  expectResource(r, { data, version }) {
    const j = r.json
    if (!j || typeof j !== 'object') return this.push(`answer is not a session resource: ${r.text}`)
    if (JSON.stringify(sortKeys(j.data)) !== JSON.stringify(sortKeys(data))) this.push(`answered data ${JSON.stringify(j.data)}, want ${JSON.stringify(data)}`)
    if (j.version !== version) this.push(`answered version ${j.version}, want ${version} (one write = version + 1)`)
    if (r.headers.get('etag') !== `"${j.version}"`) this.push(`ETag ${r.headers.get('etag')} is not "${j.version}"`)
  }

  expectItem(item, { data, version, expires }) {
    if (!item) return this.push('the write is not in the table')
    let stored
    try {
      stored = JSON.parse(item.sess.S)
    } catch {
      return this.push(`stored sess is not JSON: ${JSON.stringify(item)}`)
    }
    if (JSON.stringify(sortKeys(stored)) !== JSON.stringify(sortKeys(data))) this.push(`stored data ${item.sess.S}, want ${JSON.stringify(data)}`)
    if (!item.version || item.version.N !== String(version)) this.push(`stored version ${item.version && item.version.N}, want ${version}`)
    if (expires !== undefined && item.expires.N !== String(expires)) this.push(`stored expires ${item.expires.N}, want ${expires} (unchanged)`)
    const r = this.cell.res
    if (r && r.json && Number.isInteger(r.json.version) && item.version && String(r.json.version) !== item.version.N) {
      this.push(`answered version ${r.json.version} but stored ${item.version.N}`)
    }
  }

  // The table as before the request: the seed item, or nothing.
  expectUnchanged(item) {
    const c = this.cell
    if (c.col.seed) {
      if (!item) this.push('the seeded item is gone')
      else if (JSON.stringify(sortKeys(item)) !== JSON.stringify(sortKeys(c.seedItem))) this.push(`the seeded item changed: ${JSON.stringify(item)}`)
    } else if (item) {
      this.push(`an item was written: ${JSON.stringify(item)}`)
    }
  }
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]))
  return v
}

function isUnchanged(c, item) {
  const p = new Problems(c)
  p.expectUnchanged(item)
  return p.length === 0
}

function judge(c, scen, item) {
  const p = new Problems(c)
  const r = c.res
  if (!r) {
    p.push(`no answer: ${c.error}`)
    return p
  }
  const s = r.status
  const okStatus = c.col.ok
  const is2xx = s >= 200 && s < 300
  const allowed = {
    ok: [okStatus],
    unavailable: [503],
    refused: [502, 503],
    either: [okStatus, 502, 503],
  }[scen.expect]
  if (!allowed.includes(s)) p.push(`status ${s}, want ${allowed.join(' or ')}`)
  if (s === 503 && !r.headers.get('retry-after')) p.push('503 without Retry-After')
  if (s >= 400 && !/^application\/problem\+json/i.test(r.headers.get('content-type') || '')) p.push(`error without a problem document (${r.headers.get('content-type')})`)

  if (s === okStatus) {
    // The success answer: the table must hold exactly the write.
    c.col.check(c, item, r, p)
  } else if (is2xx) {
    p.push(`a 2xx (${s}) other than ${okStatus}; the table holds ${JSON.stringify(item)}`)
  } else if (!isUnchanged(c, item)) {
    // A failure answer must leave the table as it was. (Only a scenario
    // that lets DynamoDB apply the write can leave it applied, and those
    // all expect the success answer, so the status is flagged already.)
    const why = scen.applies ? ' (DynamoDB applied it before the fault: the answer hides a committed write)' : ''
    p.push(`failure answer ${s}, but the table changed${why}: ${JSON.stringify(item)}`)
  }

  if (c.ms > REQUEST_TIMEOUT_MS + WALL_MARGIN_MS) p.push(`took ${c.ms} ms, over request_timeout_ms ${REQUEST_TIMEOUT_MS} + ${WALL_MARGIN_MS}`)

  const perCall = MAX_ATTEMPTS + (scen.skew ? 1 : 0)
  for (const [op, n] of Object.entries(c.counts)) {
    const bound = (c.col.calls[op] || 0) * perCall
    if (n > bound) p.push(`${op}: ${n} attempts, over ${c.col.calls[op] || 0} call(s) × ${perCall}`)
  }
  if (scen.skew && c.fired !== 1) p.push(`the skewed clock refused ${c.fired} requests, want exactly 1 (the re-signed retry must use DynamoDB's Date)`)
  return p
}

// ---------------------------------------------------------------------------
// Running a scenario: one daemon, every column concurrently (the skew
// scenario one column after another).

const ddb = ddbLib.client()
const results = [] // every cell, for the matrix

// Fills the daemon's connection pool with idle keep-alive connections, as
// in production: a cell's first attempt then goes out on a reused one. (A
// fault that resets connections empties the pool, so this runs before each
// cell.) These requests carry no cell tag: the proxy passes them on.
let warmSeq = 0
async function warm(d) {
  await Promise.all(Array.from({ length: WARM_CONNECTIONS }, () => request(d.url, 'GET', `/v1/sessions/warm-${++warmSeq}`)))
}

function daemonLine(d, rid) {
  const lines = d.stderr().split('\n')
  return lines.filter((l) => l.includes(rid)).join('\n')
}

async function runCell(d, proxy, scen, col, colIndex) {
  const tag = newTag()
  const c = { scen, col, tag, id: `${tag}-${col.name.replace(/[^A-Za-z]/g, '').toLowerCase()}` }
  if (col.seed) {
    c.seedExpires = now() + 3600
    c.seedItem = ddbLib.sessionItem(c.id, { data: seedData(tag), expires: c.seedExpires, version: SEED_VERSION })
    await ddb.putItem(d.table, c.seedItem)
  }
  const rule = { ...scen.rule, ops: scen.skew ? null : col.ops }
  if (scen.skew) rule.skewS = 3600 * (colIndex + 1)
  proxy.set(rule, tag)
  const api = (method, p, opts = {}) =>
    request(d.url, method, p, { ...opts, headers: { 'X-Request-Id': tag, ...(opts.headers || {}) }, timeoutMs: 15000 })
  c.t0 = now()
  const start = Date.now()
  try {
    c.res = await col.send(api, c)
  } catch (e) {
    c.error = e.message
  }
  c.ms = Date.now() - start
  c.t1 = now()
  c.counts = proxy.counts(tag)
  c.attempts = proxy.total(tag)
  c.fired = proxy.fired(tag)
  c.proxyLog = proxy.log(tag)
  return c
}

function evidence(c, item, d) {
  const r = c.res
  const lines = [
    `cell: ${c.scen.name} × ${c.col.name} (tag ${c.tag}, fault on ${c.scen.skew ? 'every op' : c.col.ops.join(',')})`,
    `exchange: ${r ? describeExchange(r) : c.error}`,
    `wall: ${c.ms} ms; proxy saw ${JSON.stringify(c.counts)}`,
    'proxy log:',
    ...c.proxyLog.map((e) => `  +${e.ms}ms ${e.op} ${e.action} -> ${e.status}${e.note ? ' (' + e.note + ')' : ''}`),
    `table afterwards: ${item ? JSON.stringify(item) : '(no item)'}`,
    `seeded: ${c.seedItem ? JSON.stringify(c.seedItem) : '(nothing)'}`,
    'daemon log:',
    daemonLine(d, c.tag).replace(/^/gm, '  '),
  ]
  return lines.join('\n')
}

describe('DynamoDB faults (issue 4)', () => {
  let proxy

  before(async () => {
    proxy = await startFaultProxy(ddbEndpoint())
  })

  after(async () => {
    if (proxy) await proxy.close()
  })

  for (const scen of SCENARIOS) {
    describe(scen.name, () => {
      let d
      const cells = []

      before(async () => {
        d = await startDaemon({
          dynamodb: { endpoint: proxy.url, timeout_ms: TIMEOUT_MS, max_attempts: MAX_ATTEMPTS },
          limits: { request_timeout_ms: REQUEST_TIMEOUT_MS },
        })
        let done
        if (scen.parallel) {
          await warm(d)
          done = await Promise.all(COLUMNS.map((col, i) => runCell(d, proxy, scen, col, i)))
        } else {
          done = []
          for (let i = 0; i < COLUMNS.length; i++) {
            await warm(d)
            done.push(await runCell(d, proxy, scen, COLUMNS[i], i))
          }
        }
        // The table, read directly from dynalite: every item of each cell.
        const items = await ddb.scan(d.table)
        // Each request's line trails its answer: wait for them (1 s in all)
        // before reading them, here and in evidence().
        const linesBy = Date.now() + 1000
        for (const c of done) await d.logged(new RegExp(`rid=${c.tag} `), Math.max(0, linesBy - Date.now()))
        for (const c of done) {
          const mine = items.filter((it) => (it.id && it.id.S.includes(c.tag)) || (it.sess && it.sess.S.includes(`"${c.tag}"`)))
          c.item = mine[0]
          c.extraItems = mine.slice(1)
          c.problems = judge(c, scen, c.item)
          if (c.extraItems.length) c.problems.push(`${mine.length} items for one request: ${JSON.stringify(mine)}`)
          c.evidence = c.problems.length ? evidence(c, c.item, d) : ''
          const m = new RegExp(`rid=${c.tag} .*ddb_attempts=(\\d+)`).exec(d.stderr())
          c.daemonAttempts = m ? Number(m[1]) : undefined
          cells.push(c)
          results.push(c)
        }
      }, T)

      after(async () => {
        if (d) await d.stop()
        proxy.clear()
      }, T)

      for (const col of COLUMNS) {
        it(col.name, T, () => {
          const c = cells.find((x) => x.col === col)
          assert.ok(c, 'the cell ran')
          assert.deepEqual([...c.problems], [], c.evidence)
        })
      }
    })
  }

  // Last: the matrix, as TAP comments (diagnostics of this test).
  it('prints the matrix', (t) => {
    for (const line of matrixLines()) t.diagnostic(line)
  })
})

// ---------------------------------------------------------------------------
// limits.request_timeout_ms bounds a whole request, not each DynamoDB call:
// a PATCH (a read, then a write) whose calls each fit the limit but whose
// sum does not is cut off at the limit with a 503, instead of running on.

describe('limits.request_timeout_ms bounds the whole request', () => {
  const LIMIT_MS = 400
  const DELAY_MS = 250 // each DynamoDB call: one fits the limit, two do not
  let proxy, d

  before(async () => {
    proxy = await startFaultProxy(ddbEndpoint())
    d = await startDaemon({
      dynamodb: { endpoint: proxy.url, timeout_ms: 2000, max_attempts: MAX_ATTEMPTS },
      limits: { request_timeout_ms: LIMIT_MS },
    })
    await warm(d)
  }, T)

  after(async () => {
    if (d) await d.stop()
    if (proxy) await proxy.close()
  }, T)

  async function timed(method, tag, path, opts = {}) {
    proxy.set({ kind: 'delay', delayMs: DELAY_MS, ops: null }, tag)
    const start = Date.now()
    const res = await request(d.url, method, path, { ...opts, headers: { 'X-Request-Id': tag, ...(opts.headers || {}) }, timeoutMs: 15000 })
    return { res, ms: Date.now() - start, calls: proxy.total(tag) }
  }

  it('a PATCH of two slow calls answers 503 at the limit', T, async () => {
    const tag = newTag()
    const id = `${tag}-deadline`
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires: now() + 3600, version: SEED_VERSION }))
    const { res, ms, calls } = await timed('PATCH', tag, `/v1/sessions/${id}`, {
      headers: { 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ added: tag }),
    })
    assert.equal(res.status, 503, `status ${res.status} after ${ms} ms and ${calls} calls`)
    assert.ok(ms < LIMIT_MS + 300, `answered after ${ms} ms, limit ${LIMIT_MS} ms`)
    assert.ok(calls >= 2, `${calls} DynamoDB calls: the read did finish`)
  })

  it('a GET of one slow call still fits', T, async () => {
    const tag = newTag()
    const id = `${tag}-fits`
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires: now() + 3600, version: SEED_VERSION }))
    const { res, ms } = await timed('GET', tag, `/v1/sessions/${id}`)
    assert.equal(res.status, 200, `status ${res.status} after ${ms} ms`)
  })
})

// ---------------------------------------------------------------------------
// A PATCH's write is conditional on the version it read (and, without
// ?ttl, the expiry), so sessiond knows the item it writes and asks DynamoDB
// for nothing back (issue 12: no second copy of the session over the wire,
// no second decode); its answer is the merge it wrote. A PUT still needs
// the stored version back.

describe('what a write asks DynamoDB to send back', () => {
  let proxy, d

  before(async () => {
    proxy = await startFaultProxy(ddbEndpoint())
    d = await startDaemon({ dynamodb: { endpoint: proxy.url } })
    await warm(d)
  }, T)

  after(async () => {
    if (d) await d.stop()
    if (proxy) await proxy.close()
  }, T)

  it('a PATCH write asks for nothing and answers the merge it wrote', T, async () => {
    const tag = newTag()
    const id = `${tag}-nothing-back`
    const expires = now() + 3600
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires, version: SEED_VERSION }))
    const res = await request(d.url, 'PATCH', `/v1/sessions/${id}`, {
      headers: { 'Content-Type': 'application/merge-patch+json', 'X-Request-Id': tag },
      body: JSON.stringify({ seed: null, p: tag }),
    })
    assert.equal(res.status, 200, res.text)
    const log = proxy.log(tag)
    const writes = log.filter((e) => e.op === 'UpdateItem')
    assert.equal(writes.length, 1, JSON.stringify(log))
    assert.equal(writes[0].returnValues, undefined, JSON.stringify(log))
    const body = JSON.parse(res.text)
    assert.deepEqual(body.data, { keep: 1, p: tag })
    assert.equal(body.version, SEED_VERSION + 1)
    assert.equal(body.expires, expires)
    assert.equal(res.headers.get('etag'), `"${SEED_VERSION + 1}"`)
    const stored = await ddb.getItem(d.table, ddb.key(id))
    assert.deepEqual(JSON.parse(stored.sess.S), body.data)
    assert.equal(Number(stored.version.N), body.version)
    assert.equal(Number(stored.expires.N), body.expires)
  })

  // A touch between a PATCH's read and its write moves expires, not the
  // version: the write must not land on the old expiry's behalf, or the
  // answer (built from what the PATCH read) would show a stale one.
  it('a PATCH raced by a touch answers the touched expiry', T, async () => {
    const tag = newTag()
    const id = `${tag}-raced`
    const expires = now() + 3600
    const touched = expires + 1800
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires, version: SEED_VERSION }))
    proxy.set({ kind: 'delay', delayMs: 400, count: 1, ops: ['UpdateItem'] }, tag)
    const patching = request(d.url, 'PATCH', `/v1/sessions/${id}`, {
      headers: { 'Content-Type': 'application/merge-patch+json', 'X-Request-Id': tag },
      body: JSON.stringify({ p: tag }),
      timeoutMs: 10000,
    })
    // The write is held at the proxy: touch the item behind its back.
    for (let i = 0; i < 200 && !proxy.log(tag).some((e) => e.op === 'UpdateItem'); i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    await ddb.call('UpdateItem', {
      TableName: d.table,
      Key: ddb.key(id),
      UpdateExpression: 'SET expires = :e',
      ExpressionAttributeValues: { ':e': { N: String(touched) } },
    })
    const res = await patching
    assert.equal(res.status, 200, res.text)
    const body = JSON.parse(res.text)
    const log = JSON.stringify(proxy.log(tag))
    assert.equal(proxy.log(tag).filter((e) => e.op === 'UpdateItem').length, 2, log)
    assert.equal(body.expires, touched, log)
    assert.deepEqual(body.data, { seed: tag, keep: 1, p: tag })
    assert.equal(body.version, SEED_VERSION + 1)
    const stored = await ddb.getItem(d.table, ddb.key(id))
    assert.equal(Number(stored.expires.N), touched)
    assert.equal(Number(stored.version.N), SEED_VERSION + 1)
    assert.deepEqual(JSON.parse(stored.sess.S), body.data)
  })

  // A Node-written session (no version, expires with a fraction) whose
  // PATCH write DynamoDB applied but whose answer was lost: the replay
  // fails its condition, the read-back must recognise the write as ours
  // (the expiry as stored, not rounded) and answer version 1, not write
  // the merge a second time.
  it('a PATCH of a Node-written session whose answer was lost is written once', T, async () => {
    const tag = newTag()
    const id = `${tag}-node-lost`
    const expires = now() + 3600 + 0.5
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires }))
    proxy.set({ kind: 'apply-reset', count: 1, ops: ['UpdateItem'] }, tag)
    const res = await request(d.url, 'PATCH', `/v1/sessions/${id}`, {
      headers: { 'Content-Type': 'application/merge-patch+json', 'X-Request-Id': tag },
      body: JSON.stringify({ p: tag }),
      timeoutMs: 10000,
    })
    const log = JSON.stringify(proxy.log(tag))
    assert.equal(res.status, 200, `${res.text} ${log}`)
    const body = JSON.parse(res.text)
    assert.equal(body.version, 1, log)
    assert.deepEqual(body.data, { seed: tag, keep: 1, p: tag })
    const stored = await ddb.getItem(d.table, ddb.key(id))
    assert.equal(stored.version.N, '1', log)
    assert.equal(stored.expires.N, String(expires))
  })

  it('a PUT of an existing session still asks for the item back', T, async () => {
    const tag = newTag()
    const id = `${tag}-put-back`
    await ddb.putItem(d.table, ddbLib.sessionItem(id, { data: seedData(tag), expires: now() + 3600, version: SEED_VERSION }))
    const res = await request(d.url, 'PUT', `/v1/sessions/${id}`, {
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': tag },
      body: JSON.stringify({ data: { put: tag }, ttl: 3600 }),
    })
    assert.equal(res.status, 200, res.text)
    const writes = proxy.log(tag).filter((e) => e.op === 'UpdateItem')
    assert.equal(writes.length, 1, JSON.stringify(proxy.log(tag)))
    assert.equal(writes[0].returnValues, 'ALL_NEW')
    assert.equal(JSON.parse(res.text).version, SEED_VERSION + 1)
  })
})

// ---------------------------------------------------------------------------
// The matrix, as Markdown lines (printed as TAP comments by the last test).

function matrixLines() {
  if (!results.length) return []
  const head = ['scenario', ...COLUMNS.map((c) => c.name)]
  const rows = [head, head.map(() => '---')]
  for (const scen of SCENARIOS) {
    const row = [scen.name]
    for (const col of COLUMNS) {
      const c = results.find((x) => x.scen === scen && x.col === col)
      if (!c) {
        row.push('–')
        continue
      }
      const status = c.res ? c.res.status : 'none'
      const mark = c.problems.length ? ' ✗' : ''
      const daemon = c.daemonAttempts !== undefined && c.daemonAttempts !== c.attempts ? `(d${c.daemonAttempts})` : ''
      row.push(`${status}${mark} a${c.attempts}${daemon} ${c.ms}ms`)
    }
    rows.push(row)
  }
  const out = [
    '',
    `Fault matrix: status (✗ = cell failed), a = DynamoDB requests the proxy saw, wall ms.`,
    `timeout_ms ${TIMEOUT_MS}, max_attempts ${MAX_ATTEMPTS}, request_timeout_ms ${REQUEST_TIMEOUT_MS}.`,
    '',
    ...rows.map((r) => '| ' + r.join(' | ') + ' |'),
    '',
  ]
  return out
}
