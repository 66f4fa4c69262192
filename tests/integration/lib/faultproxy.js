'use strict'
// A fault-injecting HTTP proxy for the tests (issue 4): it sits between
// sessiond (dynamodb.endpoint = proxy.url) and dynalite and, per scenario,
// answers a DynamoDB request itself, damages the answer, or drops the
// connection, before or after forwarding it. It counts every request it
// sees by operation (the X-Amz-Target suffix), overall and per cell.
//
//   const proxy = await startFaultProxy(process.env.SESSIOND_TEST_DDB_ENDPOINT)
//   proxy.set({ kind: 'throttle', count: 2, ops: ['UpdateItem'] })  // every request
//   proxy.set({ kind: 'reset' }, 'fc12x')  // only requests of cell fc12x
//   proxy.counts('fc12x')                 // { UpdateItem: 3, PutItem: 1 }
//   proxy.log('fc12x')                    // [{ op, action, status, ms, returnValues, ... }]
//   await proxy.close()
//
// Cells: a request belongs to a cell when its body contains the cell's tag
// (TAG_RE: "fc<digits>x", e.g. in a session id the test chose, or in the
// data of a create), or when its key was seen in an earlier request of that
// cell (so the read-back of a generated id is still counted for its cell).
//
// Rules: { kind, count = Infinity, ops = null (every operation) , ...options }.
// A rule fires on the first `count` requests whose operation is in `ops`;
// other requests are forwarded untouched. Kinds:
//   throttle      400 ProvisionedThroughputExceededException (not forwarded)
//   status500     500 InternalServerError (not forwarded)
//   status503     503 ServiceUnavailableException (not forwarded)
//   html502       502 with an HTML page, no x-amz-crc32, as a load balancer does
//   reset         read the whole request, then reset the connection (not forwarded)
//   reset-mid     forward, then send the head and half the body, then reset
//   crc           forward, answer dynalite's status and body with x-amz-crc32 + 1
//   garbage       forward, answer 200 with a body that is not JSON, valid CRC
//   empty         answer 200 with an empty body (x-amz-crc32: 0), not forwarded
//   blackhole     read the request, never answer, never forward
//   delay         wait `delayMs` (default 150), then forward
//   apply-reset   forward (dynalite commits), then reset instead of answering
//   apply-hold    forward (dynalite commits), hold the answer `holdMs`
//                 (default 1500), then close the connection without it
//   expired       400 ExpiredTokenException (not forwarded)
//   skew          the DynamoDB clock runs `skewS` seconds (default 3600) ahead
//                 of ours: a request whose X-Amz-Date is more than 5 minutes
//                 off gets 400 InvalidSignatureException "Signature expired:
//                 ..." with that clock in its Date header; others are
//                 forwarded. (A clock rule, so `count` is not used.)

const http = require('node:http')
const zlib = require('node:zlib')

const TAG_RE = /fc\d+x/
const JSON_TYPE = 'application/x-amz-json-1.0'

// CRC-32 (IEEE, as x-amz-crc32): zlib.crc32 exists from Node 20.15/22.2.
let crcTable = null
function crc32(buf) {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(buf) >>> 0
  if (!crcTable) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let c = 0xffffffff
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function amzError(type, message) {
  return Buffer.from(JSON.stringify({ __type: type, message }))
}

// X-Amz-Date "20240101T000000Z" → ms since the epoch (NaN if malformed).
function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '')
  if (!m) return NaN
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])
}

function amzDate(ms) {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

let requestSeq = 0

function startFaultProxy(target, { hashKey = 'id' } = {}) {
  const upstream = new URL(target)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const t0 = Date.now()
  let globalRule = null
  const rules = new Map() // tag → rule state
  const keyTag = new Map() // key string → tag (learned)
  const perTag = new Map() // tag → { counts: {op: n}, log: [] }
  const all = { counts: {}, log: [] }
  const sockets = new Set()
  const timers = new Set()

  const later = (ms, fn) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    timers.add(t)
  }

  const state = (rule) => (rule ? { ...rule, left: rule.count === undefined ? Infinity : rule.count, fired: 0 } : null)

  function cellOf(text, body) {
    let key
    if (body && typeof body === 'object') {
      const k = (body.Key && body.Key[hashKey]) || (body.Item && body.Item[hashKey])
      if (k && typeof k.S === 'string') key = k.S
    }
    const m = TAG_RE.exec(text)
    let tag = m ? m[0] : undefined
    if (!tag && key) tag = keyTag.get(key)
    if (tag && key && !keyTag.has(key)) keyTag.set(key, tag)
    return tag
  }

  function record(tag, entry) {
    all.counts[entry.op] = (all.counts[entry.op] || 0) + 1
    all.log.push(entry)
    if (!tag) return
    let s = perTag.get(tag)
    if (!s) perTag.set(tag, (s = { counts: {}, log: [] }))
    s.counts[entry.op] = (s.counts[entry.op] || 0) + 1
    s.log.push(entry)
  }

  // Sends a complete answer with x-amz-crc32 (crcDelta added) unless noCrc.
  function answer(res, status, body, { type = JSON_TYPE, noCrc = false, crcDelta = 0, headers = {} } = {}) {
    const h = {
      'Content-Type': type,
      'Content-Length': String(body.length),
      'x-amzn-RequestId': `FAULTPROXY${String(++requestSeq).padStart(8, '0')}`,
      ...headers,
    }
    if (!noCrc) h['x-amz-crc32'] = String((crc32(body) + crcDelta) >>> 0)
    res.writeHead(status, h)
    res.end(body)
  }

  function reset(sock) {
    if (sock.destroyed) return
    if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy()
    else sock.destroy()
  }

  // Forwards the request to dynalite; resolves with { status, headers, body }
  // once dynalite has answered in full (so a write has been committed).
  function forward(req, body) {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers }
      delete headers.connection
      delete headers['keep-alive']
      delete headers.expect
      headers.host = upstream.host
      headers['content-length'] = String(body.length)
      const up = http.request(
        {
          agent,
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
        },
        (ures) => {
          const chunks = []
          ures.on('data', (c) => chunks.push(c))
          ures.on('end', () => resolve({ status: ures.statusCode, headers: ures.headers, body: Buffer.concat(chunks) }))
          ures.on('error', reject)
        }
      )
      up.on('error', reject)
      up.end(body)
    })
  }

  function passOn(res, u, opts = {}) {
    answer(res, u.status, u.body, { type: u.headers['content-type'] || JSON_TYPE, ...opts })
  }

  async function handle(req, res, body) {
    const target = String(req.headers['x-amz-target'] || '')
    const op = target.includes('.') ? target.slice(target.lastIndexOf('.') + 1) : target || '-'
    const text = body.toString('utf8')
    let parsed
    try {
      parsed = JSON.parse(text)
    } catch {}
    const tag = cellOf(text, parsed)
    const rule = (tag && rules.get(tag)) || globalRule
    const entry = { ms: Date.now() - t0, op, tag, action: 'forward', amzDate: req.headers['x-amz-date'], returnValues: parsed && parsed.ReturnValues }
    record(tag, entry)
    const sock = req.socket

    let kind = null
    if (rule && (!rule.ops || rule.ops.includes(op))) {
      if (rule.kind === 'skew') {
        kind = 'skew'
      } else if (rule.left > 0) {
        rule.left--
        rule.fired++
        kind = rule.kind
      }
    }
    entry.action = kind || 'forward'
    const done = (status, note) => {
      entry.status = status
      if (note) entry.note = note
    }

    switch (kind) {
      case null: {
        const u = await forward(req, body)
        done(u.status)
        return passOn(res, u)
      }
      case 'throttle':
        done(400)
        return answer(res, 400, amzError('com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
          'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.'))
      case 'status500':
        done(500)
        return answer(res, 500, amzError('com.amazonaws.dynamodb.v20120810#InternalServerError', 'Internal server error'))
      case 'status503':
        done(503)
        return answer(res, 503, amzError('com.amazonaws.dynamodb.v20120810#ServiceUnavailableException', 'Service unavailable'))
      case 'html502':
        done(502)
        return answer(res, 502, Buffer.from('<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n'), { type: 'text/html', noCrc: true })
      case 'expired':
        done(400)
        return answer(res, 400, amzError('com.amazon.coral.service#ExpiredTokenException', 'The security token included in the request is expired'))
      case 'empty':
        done(200, 'empty body')
        return answer(res, 200, Buffer.alloc(0))
      case 'reset':
        done('reset', 'not forwarded')
        return reset(sock)
      case 'blackhole':
        done('blackhole', 'not forwarded, never answered')
        return // the client gives up and closes; close() destroys the rest
      case 'delay': {
        const ms = rule.delayMs === undefined ? 150 : rule.delayMs
        await new Promise((r) => later(ms, r))
        const u = await forward(req, body)
        done(u.status, `after ${ms} ms`)
        return passOn(res, u)
      }
      case 'reset-mid': {
        const u = await forward(req, body)
        done(u.status, `dynalite answered ${u.status}; reset after ${Math.floor(u.body.length / 2)} of ${u.body.length} bytes`)
        res.writeHead(u.status, {
          'Content-Type': u.headers['content-type'] || JSON_TYPE,
          'Content-Length': String(u.body.length),
          'x-amz-crc32': String(crc32(u.body)),
        })
        res.write(u.body.subarray(0, Math.floor(u.body.length / 2)), () => later(30, () => reset(sock)))
        return
      }
      case 'crc': {
        const u = await forward(req, body)
        done(u.status, 'x-amz-crc32 + 1')
        return passOn(res, u, { crcDelta: 1 })
      }
      case 'garbage': {
        const u = await forward(req, body)
        done(200, `dynalite answered ${u.status}; body replaced`)
        return answer(res, 200, Buffer.from('{"Attributes": {"id": {"S": <<garbage>> \u0000\u00ff'))
      }
      case 'apply-reset': {
        const u = await forward(req, body)
        done('reset', `dynalite answered ${u.status} (applied); reply dropped`)
        return reset(sock)
      }
      case 'apply-hold': {
        const u = await forward(req, body)
        const ms = rule.holdMs === undefined ? 1500 : rule.holdMs
        done('held', `dynalite answered ${u.status} (applied); reply held ${ms} ms, then dropped`)
        later(ms, () => reset(sock))
        return
      }
      case 'skew': {
        const skewMs = (rule.skewS === undefined ? 3600 : rule.skewS) * 1000
        const server = Date.now() + skewMs
        const sent = parseAmzDate(req.headers['x-amz-date'])
        if (Number.isFinite(sent) && Math.abs(sent - server) <= 5 * 60 * 1000) {
          entry.action = 'forward'
          const u = await forward(req, body)
          done(u.status, 'signed with the skewed clock')
          return passOn(res, u)
        }
        rule.fired++
        done(400, `X-Amz-Date ${req.headers['x-amz-date']} vs server ${amzDate(server)}`)
        const msg = sent < server
          ? `Signature expired: ${req.headers['x-amz-date']} is now earlier than ${amzDate(server - 300000)} (${amzDate(server)} - 5 min.)`
          : `Signature not yet current: ${req.headers['x-amz-date']} is still later than ${amzDate(server + 300000)} (${amzDate(server)} + 5 min.)`
        return answer(res, 400, amzError('com.amazon.coral.service#InvalidSignatureException', msg), {
          headers: { Date: new Date(server).toUTCString() },
        })
      }
      default:
        throw new Error(`faultproxy: unknown fault kind ${kind}`)
    }
  }

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((e) => {
        // dynalite unreachable or a bug here: say so loudly, as a 500 the
        // daemon will retry, and on the test's stderr.
        process.stderr.write(`faultproxy: ${e.stack || e}\n`)
        if (!res.headersSent && !req.socket.destroyed) answer(res, 500, amzError('faultproxy#Error', String(e.message || e)))
      })
    })
  })
  server.keepAliveTimeout = 30000
  server.requestTimeout = 0
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  server.on('clientError', (e, s) => reset(s))

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        // set(rule) applies to every request; set(rule, tag) to one cell's.
        set(rule, tag) {
          if (tag === undefined) globalRule = state(rule)
          else if (rule) rules.set(tag, state(rule))
          else rules.delete(tag)
        },
        clear() {
          globalRule = null
          rules.clear()
        },
        // How many requests a rule answered with its fault.
        fired(tag) {
          const r = tag === undefined ? globalRule : rules.get(tag)
          return r ? r.fired : 0
        },
        counts(tag) {
          if (tag === undefined) return { ...all.counts }
          return { ...((perTag.get(tag) || {}).counts || {}) }
        },
        total(tag) {
          return Object.values(this.counts(tag)).reduce((a, b) => a + b, 0)
        },
        log(tag) {
          if (tag === undefined) return all.log.slice()
          return ((perTag.get(tag) || {}).log || []).slice()
        },
        async close() {
          for (const t of timers) clearTimeout(t)
          timers.clear()
          for (const s of sockets) s.destroy()
          agent.destroy()
          await new Promise((r) => server.close(() => r()))
        },
      })
    })
  })
}

module.exports = { startFaultProxy, crc32, TAG_RE }
