'use strict'
// HTTP/1.1 conformance under hostile input (issue 8): message framing and
// smuggling shapes, Host and sizes, control bytes, methods, malformed JSON,
// authentication, X-Request-Id, pipelining and slow clients. Raw bytes on a
// socket against three daemons (plain, with bearer tokens, with a 2 s
// connection_timeout); each case asserts the status RFC 9110/9112 and
// docs/api.md call for, and at the end every table holds exactly what the
// legitimate requests of the suite wrote.
//
// Where the RFC leaves a choice (obs-fold: 400 or replace with SP; a
// repeated identical Content-Length: 400 or collapse), the test accepts each
// allowed outcome and checks that it is carried out consistently (nothing
// smuggled, the connection in sync). Framing errors (RFC 9112 §6.3) must
// also close the connection.
//
// Some answers come from libmicrohttpd before the daemon's code sees the
// request (HTML bodies, no X-Request-Id); the daemon's own answers are
// problem+json with an X-Request-Id. Set SESSIOND_HOSTILE_REPORT=FILE to get
// one line per case: name, expected, actual, who answered.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')

const { startDaemon, request, rawTalk, parseResponses } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 30000 }
// Cases that libmicrohttpd 0.9.75 (Debian 12) decides before the daemon sees
// the request, in ways its API cannot reveal: skipped with the reason, so
// the suite states the gap instead of hiding it. A newer libmicrohttpd
// closes each of them.
const MHD_GAP = (why) => ({ ...T, skip: `libmicrohttpd 0.9.75: ${why}` })
const MAX_BODY = 100000
const MAX_TTL = 3600
const TOKEN = 'hostile-token-0123456789abcdefABCDEF'
const SLOW_TIMEOUT_S = 2
const SANE_RID = /^[A-Za-z0-9._:\/+=@-]{1,128}$/

let seq = 0
const newId = (tag) => `h2-${tag}-${process.pid}-${++seq}`
const json = (o) => JSON.stringify(o)
const now = () => Math.floor(Date.now() / 1000)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------
// Raw exchanges

// Sends chunks (see rawTalk) on a fresh connection and collects the answers.
// Settles when the peer closes, or `responses` complete responses arrived and
// then closeWaitMs passed without a close (closed = false), or after totalMs.
// Resolves with { responses, res (the first), rest (bytes after the last
// complete response), raw, closed, closedBy, ms }.
async function talk(port, chunks, { responses: want = 1, methods = [], closeWaitMs = 100, totalMs = 8000, pauseMs = 20 } = {}) {
  const ready = (buf) => parseResponses(buf, methods).responses.length >= want
  const r = await rawTalk(port, chunks, { ready, waitMs: closeWaitMs, totalMs, pauseMs })
  const p = parseResponses(r.buf, methods)
  return { ...p, res: p.responses[0], raw: r.buf.toString('latin1'), closed: r.closed, closedBy: r.closedBy, ms: r.ms }
}

const show = (x) => {
  const s = x.raw === undefined ? String(x) : x.raw
  return JSON.stringify(s.length > 1200 ? s.slice(0, 1200) + '…' : s) + (x.closed === undefined ? '' : ` (closed=${x.closed}/${x.closedBy}, ${x.ms} ms)`)
}

// Who wrote the answer: the daemon's answers are problem+json (or JSON)
// and carry X-Request-Id; libmicrohttpd's own are HTML without one.
function who(r) {
  const res = r && r.res
  if (r && r.who) return r.who
  if (!res) return r && r.raw === '' ? 'nobody (no bytes)' : 'unparsable'
  if (res.headers['x-request-id']) return 'daemon'
  if (/<html>/i.test(res.body)) return 'MHD'
  return 'unknown'
}

const REPORT = process.env.SESSIOND_HOSTILE_REPORT
function note(name, expected, r) {
  if (!REPORT) return
  const actual = r && r.res ? String(r.res.status) + (r.closed ? ' +close' : '') : r && r.closed ? 'closed, no answer' : 'no answer'
  fs.appendFileSync(REPORT, `${name}\t${expected}\t${actual}\t${who(r)}\n`)
}

// The answer's status is one of `statuses`; with close, the server also
// ended the connection after it (RFC 9112 §6.3 for framing errors).
function expectStatus(name, r, statuses, { close = false } = {}) {
  if (!Array.isArray(statuses)) statuses = [statuses]
  note(name, statuses.join(' or ') + (close ? ' +close' : ''), r)
  assert.ok(r.res, `${name}: a complete response came back: ${show(r)}`)
  assert.ok(statuses.includes(r.res.status), `${name}: status ${statuses.join(' or ')}, got ${JSON.stringify(r.res.statusLine)}: ${show(r)}`)
  if (close) assert.ok(r.closed, `${name}: the server closes the connection after a framing error: ${show(r)}`)
  if (r.res.status >= 400 && r.res.headers['x-request-id']) {
    assert.match(r.res.headers['content-type'][0], /^application\/problem\+json/, `${name}: a problem document: ${show(r)}`)
  }
}

// ---------------------------------------------------------------------------
// Requests

const H = 'Host: 127.0.0.1\r\n'
function req(method, path, { body, type = 'application/json', headers = '', version = 'HTTP/1.1', host = H, cl = true } = {}) {
  let s = `${method} ${path} ${version}\r\n${host}`
  if (body !== undefined && type) s += `Content-Type: ${type}\r\n`
  if (body !== undefined && cl) s += `Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n`
  return s + headers + '\r\n' + (body === undefined ? '' : body)
}
const put = (id, body, opts = {}) => req('PUT', `/v1/sessions/${id}`, { body, ...opts })
const chunk = (s) => `${Buffer.byteLength(s, 'latin1').toString(16)}\r\n${s}\r\n`

// ---------------------------------------------------------------------------

describe('hostile input (issue 8)', () => {
  const ddb = ddbLib.client()
  let A // plain daemon
  let B // bearer tokens
  let C // short connection_timeout
  const legit = { A: new Set(), B: new Set(), C: new Set() }
  const rawA = (chunks, opts) => talk(A.port, chunks, opts)
  const absent = async (d, id) => assert.equal(await ddb.getItem(d.table, ddb.key(id)), undefined, `nothing was written for ${JSON.stringify(id)}`)

  before(async () => {
    ;[A, B, C] = await Promise.all([
      startDaemon({ limits: { max_body: MAX_BODY, connection_timeout: 10 }, session: { max_ttl: MAX_TTL, default_ttl: 600 } }),
      startDaemon({ limits: { max_body: MAX_BODY, connection_timeout: 10 }, auth: { tokens: [TOKEN] } }),
      startDaemon({ limits: { max_body: MAX_BODY, connection_timeout: SLOW_TIMEOUT_S, max_connections: 2000 } }),
    ])
  }, T)
  after(async () => {
    await Promise.all([A, B, C].filter(Boolean).map((d) => d.stop()))
  }, T)

  // -------------------------------------------------------------------------
  describe('message framing and smuggling shapes', () => {
    it('Content-Length repeated with the same value: 400 and close, or collapsed (RFC 9110 §8.6)', T, async () => {
      for (const [tag, headers] of [
        ['two lines', (n) => `Content-Length: ${n}\r\nContent-Length: ${n}\r\n`],
        ['a list', (n) => `Content-Length: ${n}, ${n}\r\n`],
      ]) {
        const id = newId('clsame')
        const body = json({ data: { a: 1 } })
        const r = await rawA(put(id, body, { cl: false, headers: headers(body.length) }))
        expectStatus(`CL repeated, same value (${tag})`, r, [400, 201])
        if (r.res.status === 400) {
          assert.ok(r.closed, `a framing refusal closes: ${show(r)}`)
          await absent(A, id)
        } else legit.A.add(id)
      }
    })

    for (const [tag, value, statuses] of [
      ['negative', '-1', [400]],
      ['with a plus sign', '+11', [400]],
      ['hexadecimal', '0xb', [400]],
      ['trailing garbage', '11abc', [400]],
      ['empty', '', [400]],
      // A valid 1*DIGIT that does not fit in 64 bits: RFC 9110 §8.6 asks only
      // that it is not mis-parsed; "too large" (413) and "invalid" (400) both
      // refuse it.
      ['overflowing 64 bits', '18446744073709551627', [400, 413]],
      ['overflowing, 40 digits', '9'.repeat(40), [400, 413]],
    ]) {
      it(`Content-Length ${tag} (${JSON.stringify(value)}): ${statuses.join(' or ')} and close`, T, async () => {
        const id = newId('badcl')
        const r = await rawA(put(id, json({ data: {} }), { cl: false, headers: `Content-Length: ${value}\r\n` }))
        expectStatus(`CL ${tag}`, r, statuses, { close: true })
        await absent(A, id)
      })
    }

    it('CL.TE smuggling: Transfer-Encoding before Content-Length, a request hidden after the last chunk: 400 and close', T, async () => {
      const id = newId('clte')
      const hidden = newId('clte-hidden')
      const smuggled = put(hidden, json({ data: { smuggled: true } }))
      const body = chunk(json({ data: {} })) + '0\r\n\r\n' + smuggled
      const r = await rawA(
        `PUT /v1/sessions/${id} HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
        { responses: 2 }
      )
      expectStatus('CL.TE smuggle', r, 400, { close: true })
      assert.equal(r.responses.length, 1, `one answer only: ${show(r)}`)
      await absent(A, id)
      await absent(A, hidden)
    })

    it('TE.CL smuggling: a short Content-Length before chunked framing: 400 and close, the hidden request never runs', T, async () => {
      const id = newId('tecl')
      const hidden = newId('tecl-hidden')
      const smuggled = put(hidden, json({ data: { smuggled: true } }))
      const body = `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`
      const r = await rawA(
        `PUT /v1/sessions/${id} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 4\r\n` +
          `Transfer-Encoding: chunked\r\n\r\n${body}`,
        { responses: 2 }
      )
      expectStatus('TE.CL smuggle', r, 400, { close: true })
      assert.equal(r.responses.length, 1, `one answer only: ${show(r)}`)
      await absent(A, id)
      await absent(A, hidden)
    })

    it('Transfer-Encoding: chunked on two lines, or "chunked, chunked": 400 and close (chunked at most once, RFC 9112 §7)', T, async () => {
      for (const te of ['Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', 'Transfer-Encoding: chunked, chunked\r\n']) {
        const id = newId('te2')
        const r = await rawA(put(id, chunk(json({ data: {} })) + '0\r\n\r\n', { cl: false, headers: te }))
        expectStatus(`TE ${JSON.stringify(te)}`, r, 400, { close: true })
        await absent(A, id)
      }
    })

    it('Transfer-Encoding whose final coding is not chunked (gzip, identity, xchunked): 400 and close (RFC 9112 §6.3 item 4)', T, async () => {
      for (const te of ['gzip', 'identity', 'xchunked', 'chunked, gzip']) {
        const id = newId('tenc')
        const r = await rawA(put(id, json({ data: {} }), { cl: false, headers: `Transfer-Encoding: ${te}\r\n` }))
        expectStatus(`TE ${te}`, r, 400, { close: true })
        await absent(A, id)
      }
    })

    it('Transfer-Encoding "gzip, chunked" (an unknown coding under chunked): 501 and close (RFC 9112 §6.1)', T, async () => {
      const id = newId('tegz')
      const r = await rawA(put(id, chunk(json({ data: {} })) + '0\r\n\r\n', { cl: false, headers: 'Transfer-Encoding: gzip, chunked\r\n' }))
      expectStatus('TE gzip, chunked', r, 501, { close: true })
      await absent(A, id)
    })

    it('Transfer-Encoding on HTTP/1.0: framing treated as faulty, the connection closed after it (RFC 9112 §6.1)', T, async () => {
      // The RFC lets the server process the message but not the bytes after
      // it: a pipelined request must not run.
      const id = newId('te10')
      const hidden = newId('te10-next')
      const r = await rawA(
        put(id, chunk(json({ data: {} })) + '0\r\n\r\n', { cl: false, version: 'HTTP/1.0', headers: 'Transfer-Encoding: chunked\r\n' }) +
          put(hidden, json({ data: {} })),
        { responses: 2 }
      )
      expectStatus('TE on HTTP/1.0', r, [400, 201], { close: true })
      assert.equal(r.responses.length, 1, `nothing answered after it: ${show(r)}`)
      if (r.res.status === 201) legit.A.add(id)
      else await absent(A, id)
      await absent(A, hidden)
    })

    for (const [tag, size, statuses] of [
      ['not hex ("zz")', 'zz', [400]],
      ['negative ("-b")', '-b', [400]],
      ['empty', '', [400]],
      // 17 hex digits: RFC 9112 §7.1 wants the overflow caught; 413 or 400.
      ['overflowing 64 bits', '1' + '0'.repeat(16), [400, 413]],
    ]) {
      it(`chunk size ${tag}: ${statuses.join(' or ')} and close`, T, async () => {
        const id = newId('badchunk')
        const body = `${size}\r\n${json({ data: {} })}\r\n0\r\n\r\n`
        const r = await rawA(put(id, body, { cl: false, headers: 'Transfer-Encoding: chunked\r\n' }))
        expectStatus(`chunk size ${tag}`, r, statuses, { close: true })
        await absent(A, id)
      })
    }

    it('chunk data longer than its size (no CRLF where it should be): 400 and close', T, async () => {
      const id = newId('chunklen')
      const body = `4\r\n${json({ data: {} })}\r\n0\r\n\r\n`
      const r = await rawA(put(id, body, { cl: false, headers: 'Transfer-Encoding: chunked\r\n' }))
      expectStatus('chunk data overrun', r, 400, { close: true })
      await absent(A, id)
    })

    it('one chunk announced far over max_body, data flowing past it: 413 and close', T, async () => {
      const id = newId('hugechunk')
      const chunks = [put(id, '', { cl: false, headers: 'Transfer-Encoding: chunked\r\n' }) + '7fffffff\r\n{"data":{"x":"']
      for (let i = 0; i < 6; i++) chunks.push('y'.repeat(32768))
      const r = await rawA(chunks, { pauseMs: 20, totalMs: 8000 })
      expectStatus('one huge chunk', r, 413, { close: true })
      await absent(A, id)
    })

    it('a complete chunked body over max_body in 1 KiB chunks: 413 and close', T, async () => {
      const id = newId('manychunks')
      let body = chunk('{"data":{"x":"')
      const piece = chunk('z'.repeat(1024))
      while (body.length < MAX_BODY + 20000) body += piece
      body += chunk('"}}') + '0\r\n\r\n'
      const r = await rawA(put(id, body, { cl: false, headers: 'Transfer-Encoding: chunked\r\n' }))
      expectStatus('many small chunks over max_body', r, 413, { close: true })
      await absent(A, id)
    })

    it('whitespace before the colon of Content-Length, a request in the body: 400 and close (RFC 9112 §5.1)', T, async () => {
      const id = newId('wscl')
      const hidden = newId('wscl-hidden')
      const smuggled = put(hidden, json({ data: { smuggled: true } }))
      for (const sep of [' :', '\t:']) {
        const r = await rawA(
          `PUT /v1/sessions/${id} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length${sep} ${smuggled.length}\r\n\r\n${smuggled}`,
          { responses: 2 }
        )
        expectStatus(`WS before colon (Content-Length${sep})`, r, 400, { close: true })
        assert.equal(r.responses.length, 1, `the body is not run as a request: ${show(r)}`)
      }
      await absent(A, id)
      await absent(A, hidden)
    })

    it('whitespace before the colon of any header field: 400 (RFC 9112 §5.1 MUST)', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: 'X-Anything : 1\r\n' }))
      expectStatus('WS before colon (X-Anything)', r, 400)
    })

    it('obs-fold in an ordinary header: 400 and close (RFC 9112 §5.2)', T, async () => {
      // The RFC allows a 400 or reading the fold as a space. libmicrohttpd
      // 0.9.75 merges the continuation into the field *name* ("X-A: 1" +
      // " 2" arrives as "X-A2: 1"), often a valid token: the daemon tells
      // the fold by where that name lies (http_check.c) and refuses it.
      for (const [tag, headers] of [
        ['X-Request-Id, value on the next line', 'X-Request-Id:\r\n fold-ok\r\n'],
        ['SP', 'X-A: 1\r\n 2\r\n'],
        ['HTAB, twice', 'X-A: 1\r\n\t2\r\n  3\r\n'],
        ['followed by another field', 'X-A: 1\r\n 2\r\nX-B: 3\r\n'],
      ]) {
        const r = await rawA(req('GET', '/healthz', { headers }))
        expectStatus(`obs-fold (${tag})`, r, 400, { close: true })
        assert.equal(who(r), 'daemon', `the daemon's own refusal: ${show(r)}`)
        assert.match(r.res.body, /obsolete line folding/, `says why: ${show(r)}`)
      }
    })

    it('obs-fold in Content-Length, a request in the body: the body is never run as a request', T, async () => {
      // Allowed: 400 (reject) or Content-Length read as the folded value, in
      // which case the body is not JSON: 400 again. Never Content-Length 0
      // with the body then parsed as the next request.
      const id = newId('foldcl')
      const hidden = newId('foldcl-hidden')
      const smuggled = put(hidden, json({ data: { smuggled: true } }))
      const r = await rawA(
        `PUT /v1/sessions/${id} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length:\r\n ${smuggled.length}\r\n\r\n${smuggled}`,
        { responses: 2 }
      )
      expectStatus('obs-fold in Content-Length', r, 400)
      assert.equal(r.responses.length, 1, `the body is not run as a request: ${show(r)}`)
      await absent(A, id)
      await absent(A, hidden)
    })
  })

  // -------------------------------------------------------------------------
  describe('Host, sizes and protocol', () => {
    it('HTTP/1.1 without Host: 400 (RFC 9112 §3.2)', T, async () => {
      const r = await rawA(req('GET', '/healthz', { host: '' }))
      expectStatus('no Host on HTTP/1.1', r, 400)
    })

    it('two Host header lines: 400 (RFC 9112 §3.2)', T, async () => {
      const r = await rawA(req('GET', '/healthz', { host: H + 'Host: evil.example\r\n' }))
      expectStatus('two Host lines', r, 400)
    })

    it('HTTP/1.0 without Host: served (control)', T, async () => {
      const r = await rawA(req('GET', '/healthz', { host: '', version: 'HTTP/1.0' }))
      expectStatus('no Host on HTTP/1.0', r, 200)
    })

    it('a 100 KiB request target: 414 (RFC 9112 §3)', T, async () => {
      const r = await rawA(req('GET', `/v1/sessions/${'a'.repeat(100 * 1024)}`))
      expectStatus('100 KiB URI', r, 414)
    })

    it('an id of 257 characters: 400; 256 are fine (api.md)', T, async () => {
      const long = 'L'.repeat(257)
      const r = await rawA(put(long, json({ data: {} })))
      expectStatus('257-character id', r, 400)
      await absent(A, long)
      const ok = 'K'.repeat(255) + (seq++ % 10)
      const r2 = await rawA(put(ok, json({ data: {} })))
      expectStatus('256-character id (control)', r2, 201)
      legit.A.add(ok)
    })

    it('one 100 KiB header field: 431 (RFC 6585)', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: `X-Big: ${'b'.repeat(100 * 1024)}\r\n` }))
      expectStatus('100 KiB header', r, 431)
    })

    it('a head a little over the per-connection memory (an 8 KiB field): 431, and the daemon serves on', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: `X-Big: ${'b'.repeat(8192)}\r\n` }))
      expectStatus('8 KiB header', r, 431)
      expectStatus('a plain request after it', await rawA(req('GET', '/healthz')), 200)
    })

    it('a 6 KiB header field is still served', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: `X-Big: ${'b'.repeat(6144)}\r\n` }))
      expectStatus('6 KiB header', r, 200)
    })

    it('5,000 header fields: 431', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: 'X-N: 1\r\n'.repeat(5000) }))
      expectStatus('5000 headers', r, 431)
    })

    it('the HTTP/2 connection preface on the plain port: 505 and close (RFC 9110 §15.6.6)', T, async () => {
      const r = await rawA('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
      expectStatus('HTTP/2 preface', r, 505, { close: true })
    })

    it('a TLS ClientHello on the plain port: 400 or a close at once, not held until connection_timeout',
      MHD_GAP('it waits for a line end before it parses anything; the connection is closed after limits.connection_timeout'), async () => {
      // Fixed bytes (no LF among them): record type 22, TLS 1.0 record
      // version, a ClientHello with TLS 1.2 and 32 bytes of "random". 0x16 is
      // no token character, so no request line can start with it (RFC 9112
      // §2.2: an invalid request-line SHOULD get a 400).
      const hello = Buffer.from('160301003a010000360303' + '11'.repeat(32) + '000002130101000000', 'hex')
      const r = await talk(A.port, hello, { totalMs: 3000 })
      note('TLS ClientHello', '400 or close within 3 s', r)
      assert.ok(r.closed || (r.res && r.res.status === 400), `answered 400 or closed within 3 s (connection_timeout is 10 s): ${show(r)}`)
      if (r.res) assert.equal(r.res.status, 400, show(r))
    })

    it("every refusal is one well-framed response: exactly Content-Length bytes of body, nothing after it",
      MHD_GAP('its own 400 for a bad Content-Length or a missing Host sends the response head twice (reproduced without sessiond)'), async () => {
      // Covers libmicrohttpd's own refusals (Content-Length errors, missing
      // Host) as well as the daemon's.
      const cases = [
        ['negative CL', put(newId('frame'), '{}', { cl: false, headers: 'Content-Length: -1\r\n' })],
        ['CL list', put(newId('frame'), '{}', { cl: false, headers: 'Content-Length: 2, 2\r\n' })],
        ['overflowing CL', put(newId('frame'), '{}', { cl: false, headers: `Content-Length: ${'9'.repeat(30)}\r\n` })],
        ['no Host', req('GET', '/healthz', { host: '' })],
        ['bad chunk size', put(newId('frame'), 'zz\r\n{}\r\n0\r\n\r\n', { cl: false, headers: 'Transfer-Encoding: chunked\r\n' })],
        ['CL+TE', put(newId('frame'), '2\r\n{}\r\n0\r\n\r\n', { cl: false, headers: 'Transfer-Encoding: chunked\r\nContent-Length: 12\r\n' })],
        ['100 KiB URI', req('GET', `/${'u'.repeat(100 * 1024)}`)],
        ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
      ]
      const bad = []
      for (const [tag, bytes] of cases) {
        const r = await rawA(bytes)
        note(`well-framed: ${tag}`, 'one response, nothing after it', { ...r, res: r.res && { ...r.res, status: r.rest === '' ? `${r.res.status} ok` : `${r.res.status} +${r.rest.length} stray bytes` } })
        if (!r.res || r.rest !== '') bad.push(`${tag}: ${show(r)}`)
      }
      assert.deepEqual(bad, [], 'responses with bytes beyond their Content-Length')
    })

    it('HTTP/0.9 request line (no version): 400 and close', T, async () => {
      const r = await rawA('GET /healthz\r\n\r\n')
      expectStatus('HTTP/0.9 line', r, 400, { close: true })
    })
  })

  // -------------------------------------------------------------------------
  describe('control bytes in the target, the id and header values', () => {
    it('a raw NUL after a known path (GET /healthz<NUL>/x): 400, never the /healthz answer', T, async () => {
      const r = await rawA(req('GET', '/healthz\x00/x'))
      expectStatus('raw NUL after /healthz', r, 400)
    })

    it('a raw NUL inside a PUT id: 400, nothing written under either half', T, async () => {
      const id = newId('nul')
      const r = await rawA(put(`${id}\x00tail`, json({ data: {} })))
      expectStatus('raw NUL in PUT id', r, 400)
      await absent(A, id)
    })

    it('%00 after a known path (GET /healthz%00): 400 or 404, never the /healthz answer', T, async () => {
      // Percent-encoded NUL is a syntactically valid target naming no
      // resource: 404 (api.md, unknown path) or 400 (the daemon refuses
      // encoded control bytes anywhere).
      const r = await rawA(req('GET', '/healthz%00'))
      expectStatus('%00 after /healthz', r, [400, 404])
    })

    it('encoded control bytes, bad escapes and non-unreserved characters in the id: 400, nothing written', T, async () => {
      for (const enc of ['a%7Fb', 'a%1Fb', 'a%09b', '%00', 'a%zzb', 'a%4', 'a%2Fb', 'a%C3%A9b', 'a%20b', 'a%25b']) {
        const id = newId('enc')
        const r = await rawA(put(`${id}${enc}`, json({ data: {} })))
        expectStatus(`encoded ${enc} in id`, r, 400)
        await absent(A, id)
      }
    })

    it('a NUL inside a header value: 400, or the value replaced and not reflected (RFC 9110 §5.5)',
      MHD_GAP('a header value is handed over as a C string cut at the NUL'), async () => {
      const r = await rawA(req('GET', '/healthz', { headers: 'X-Request-Id: ab\x00cd\r\n' }))
      expectStatus('NUL in X-Request-Id', r, [400, 200])
      if (r.res.status === 200) {
        const rid = r.res.headers['x-request-id'][0]
        assert.ok(!['ab', 'ab cd', 'cd'].includes(rid), `a request id with a NUL in it is not echoed, not even in part: got ${JSON.stringify(rid)}`)
      }
    })
  })

  // -------------------------------------------------------------------------
  describe('methods', () => {
    // RFC 9110 §9.1 makes 501 the answer to an unrecognized method, a
    // SHOULD; api.md says "other methods on a known path: 405 with Allow,
    // unknown path: 404". The contract wins where it speaks: any method a
    // known path does not serve gets 405 + Allow, unknown paths 404.
    it('an unknown method on /healthz: 405 with Allow: GET, HEAD', T, async () => {
      const r = await rawA(req('BREW', '/healthz'))
      expectStatus('BREW /healthz', r, 405)
      assert.deepEqual(r.res.headers.allow, ['GET, HEAD'])
    })

    it('an unknown method on a session: 405 with the session methods in Allow', T, async () => {
      const r = await rawA(req('FROB', '/v1/sessions/abc'))
      expectStatus('FROB /v1/sessions/abc', r, 405)
      const allow = r.res.headers.allow[0].split(/,\s*/).sort()
      assert.deepEqual(allow, ['DELETE', 'GET', 'HEAD', 'PATCH', 'PUT'])
    })

    it('an unknown method on an unknown path: 404', T, async () => {
      const r = await rawA(req('BREW', '/coffee'))
      expectStatus('BREW /coffee', r, 404)
    })

    it('methods are case-sensitive: "get /healthz" is 405 (RFC 9110 §9.1)', T, async () => {
      const r = await rawA(req('get', '/healthz'))
      expectStatus('get /healthz', r, 405)
    })

    it('TRACE, OPTIONS and DELETE on /healthz: 405 with Allow', T, async () => {
      for (const m of ['TRACE', 'OPTIONS', 'DELETE']) {
        const r = await rawA(req(m, '/healthz'))
        expectStatus(`${m} /healthz`, r, 405)
        assert.deepEqual(r.res.headers.allow, ['GET, HEAD'])
      }
    })

    it('a control byte inside the method (G\\x01T): 400, an invalid request line (RFC 9112 §3)', T, async () => {
      const r = await rawA(req('G\x01T', '/healthz'))
      expectStatus('G\\x01T /healthz', r, 400)
    })

    it('absolute-form target (GET http://host/healthz): served like /healthz (RFC 9112 §3.2.2 MUST accept)', T, async () => {
      const r = await rawA(req('GET', `http://127.0.0.1:${A.port}/healthz`))
      expectStatus('absolute-form /healthz', r, 200)
    })
  })

  // -------------------------------------------------------------------------
  describe('malformed JSON and bad values', () => {
    const refused = async (name, body, { id = newId('json'), type } = {}) => {
      const r = await rawA(put(id, body, type ? { type } : {}))
      expectStatus(name, r, 400)
      await absent(A, id)
    }

    it('invalid UTF-8 (stray byte, overlong, encoded surrogate, truncated sequence) and a lone \\ud800: 400', T, async () => {
      for (const [tag, s] of [
        ['\\xff', '\xff'],
        ['overlong \\xc0\\xaf', '\xc0\xaf'],
        ['surrogate \\xed\\xa0\\x80', '\xed\xa0\x80'],
        ['truncated \\xe2\\x82', '\xe2\x82'],
        ['escaped lone surrogate', '\\ud800'],
      ]) {
        await refused(`invalid UTF-8: ${tag}`, `{"data":{"s":"a${s}b"}}`)
      }
      // an invalid byte in a member name too
      await refused('invalid UTF-8 in a key', '{"data":{"k\xffk":1}}')
    })

    it('depth bombs: 90,000 "[" and 65 levels refused, 64 levels accepted', T, async () => {
      await refused('depth bomb 90000 [', `{"data":{"a":${'['.repeat(90000)}}}`)
      await refused('depth bomb 90000 { unclosed', `{"data":${'{"a":'.repeat(18000)}`)
      const nest = (levels) => `{"data":${'{"a":'.repeat(levels - 2)}{}${'}'.repeat(levels - 2)}}`
      await refused('65 levels', nest(65))
      const id = newId('depth64')
      const r = await rawA(put(id, nest(64)))
      expectStatus('64 levels (control)', r, 201)
      legit.A.add(id)
    })

    it('number overflow in ttl, expires and data: 400', T, async () => {
      for (const [tag, body] of [
        ['ttl 1e400', '{"data":{},"ttl":1e400}'],
        ['ttl 2^64', '{"data":{},"ttl":18446744073709551616}'],
        ['expires 10^30', '{"data":{},"expires":1000000000000000000000000000000}'],
        ['data integer 10^30', '{"data":{"n":1000000000000000000000000000000}}'],
        ['data real 1e999', '{"data":{"n":1e999}}'],
        ['data real -1e999', '{"data":{"n":-1e999}}'],
      ]) {
        await refused(`number overflow: ${tag}`, body)
      }
    })

    it('trailing garbage after the object: 400; trailing whitespace is fine', T, async () => {
      for (const tail of [' x', '{}', ',', ']', '}', '\x00', '// c', ' {"data":{}}']) {
        await refused(`trailing ${JSON.stringify(tail)}`, `{"data":{}}${tail}`)
      }
      const id = newId('ws')
      const r = await rawA(put(id, ' \r\n\t{"data":{}} \n\t'))
      expectStatus('surrounding whitespace (control)', r, 201)
      legit.A.add(id)
    })

    it('not an object at the top, empty, duplicate keys, unknown members: 400', T, async () => {
      for (const body of ['[]', '"x"', '1', 'null', '', ' ', '{', '{"data":{},"data":{"a":1}}', '{"data":{},"bogus":1}', "{'data':{}}", '{data:{}}']) {
        await refused(`body ${JSON.stringify(body)}`, body)
      }
    })

    it('data of the wrong type on PUT and POST: 400', T, async () => {
      for (const v of ['[]', '"x"', '1', 'null', 'true', '[{"a":1}]']) {
        await refused(`PUT data ${v}`, `{"data":${v}}`)
        const r = await rawA(req('POST', '/v1/sessions', { body: `{"data":${v}}` }))
        expectStatus(`POST data ${v}`, r, 400)
      }
    })

    it('ttl of the wrong type or out of range: 400', T, async () => {
      for (const v of ['"60"', '60.5', '1.0', '1e3', 'true', 'null', '[60]', '{}', '0', '-1', String(MAX_TTL + 1), '-9223372036854775808']) {
        await refused(`ttl ${v}`, `{"data":{},"ttl":${v}}`)
      }
    })

    it('expires of the wrong type, in the past, now, or past max_ttl: 400', T, async () => {
      const t = now()
      for (const v of [`"${t + 60}"`, `${t + 60}.5`, 'null', 'true', '[1]', String(t - 3600), String(t - 1), String(t), '0', '-1', String(t + MAX_TTL + 600)]) {
        await refused(`expires ${v}`, `{"data":{},"expires":${v}}`)
      }
    })

    it('both ttl and expires: 400, whichever comes first and even when both are valid', T, async () => {
      const t = now()
      await refused('ttl and expires', `{"data":{},"ttl":60,"expires":${t + 60}}`)
      await refused('expires and ttl', `{"expires":${t + 60},"ttl":60,"data":{}}`)
    })

    it('a malformed merge patch leaves the session as it was', T, async () => {
      const id = newId('patch')
      const ok = await rawA(put(id, json({ data: { keep: 1 } })))
      expectStatus('PUT before PATCH (control)', ok, 201)
      legit.A.add(id)
      for (const body of ['{"a":"\xff"}', '{"a":1} x', `{"a":${'['.repeat(5000)}}`, '[]', '{"a":1e999}']) {
        const r = await rawA(req('PATCH', `/v1/sessions/${id}`, { body, type: 'application/merge-patch+json' }))
        expectStatus(`PATCH ${JSON.stringify(body.slice(0, 20))}`, r, 400)
      }
      const item = await ddb.getItem(A.table, ddb.key(id))
      assert.deepEqual(JSON.parse(item.sess.S), { keep: 1 })
      assert.equal(item.version.N, '1')
    })

    it('a wrong or missing Content-Type with a body: 415, nothing written', T, async () => {
      for (const type of ['text/plain', 'application/jsonx', 'application/merge-patch+json', 'application/x-www-form-urlencoded', null]) {
        const id = newId('ct')
        const r = await rawA(put(id, json({ data: {} }), { type }))
        expectStatus(`PUT Content-Type ${type}`, r, 415)
        await absent(A, id)
      }
    })
  })

  // -------------------------------------------------------------------------
  describe('authentication variants (tokens configured)', () => {
    const rawB = (chunks, opts) => talk(B.port, chunks, opts)
    const cases = [
      ['missing', ''],
      ['wrong scheme (Basic)', `Authorization: Basic ${Buffer.from('u:' + TOKEN).toString('base64')}\r\n`],
      ['wrong scheme (Token)', `Authorization: Token ${TOKEN}\r\n`],
      ['scheme only', 'Authorization: Bearer\r\n'],
      ['empty token', 'Authorization: Bearer \r\n'],
      ['truncated token', `Authorization: Bearer ${TOKEN.slice(0, -1)}\r\n`],
      ['extended token', `Authorization: Bearer ${TOKEN}x\r\n`],
      ['token in a list', `Authorization: Bearer ${TOKEN}, Bearer ${TOKEN}\r\n`],
      ['duplicated header, both valid', `Authorization: Bearer ${TOKEN}\r\nAuthorization: Bearer ${TOKEN}\r\n`],
      ['duplicated header, wrong then valid', `Authorization: Bearer nope\r\nAuthorization: Bearer ${TOKEN}\r\n`],
      ['token without scheme', `Authorization: ${TOKEN}\r\n`],
    ]
    for (const [tag, headers] of cases) {
      it(`Authorization ${tag}: 401 with WWW-Authenticate: Bearer, nothing written`, T, async () => {
        const id = newId('auth')
        const r = await rawB(put(id, json({ data: {} }), { headers }))
        expectStatus(`auth ${tag}`, r, 401)
        assert.ok((r.res.headers['www-authenticate'] || []).some((v) => /^Bearer\b/i.test(v)), `WWW-Authenticate: Bearer: ${show(r)}`)
        await absent(B, id)
      })
    }

    it('no token and a malformed id: 401, not 400 (nothing learned about ids)', T, async () => {
      for (const bad of ['bad%20id', 'L'.repeat(300), 'a%2Fb']) {
        const r = await rawB(put(bad, json({ data: {} })))
        expectStatus(`auth missing + bad id ${bad.slice(0, 10)}`, r, 401)
      }
    })

    it('the right token, scheme in any case: served (RFC 9110 §11.1); /healthz needs none', T, async () => {
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const id = newId('authok')
        const r = await rawB(put(id, json({ data: { ok: 1 } }), { headers: `Authorization: ${scheme} ${TOKEN}\r\n` }))
        expectStatus(`auth ok (${scheme})`, r, 201)
        legit.B.add(id)
      }
      const h = await rawB(req('GET', '/healthz'))
      expectStatus('healthz without token', h, 200)
    })
  })

  // -------------------------------------------------------------------------
  describe('X-Request-Id', () => {
    for (const rid of ['abc-123', 'x'.repeat(128), 'a:b/c+d=e@f_g.h']) {
      it(`a sane id is echoed: ${JSON.stringify(rid.length > 20 ? rid.slice(0, 8) + '…' + rid.length : rid)}`, T, async () => {
        const r = await rawA(req('GET', '/healthz', { headers: `X-Request-Id: ${rid}\r\n` }))
        expectStatus('sane X-Request-Id', r, 200)
        assert.deepEqual(r.res.headers['x-request-id'], [rid])
      })
    }

    const insane = [
      ['129 characters', 'r'.repeat(129)],
      ['6 KiB', 'r'.repeat(6144)],
      ['a space', 'a b'],
      ['a tab', 'a\tb'],
      ['a double quote', 'a"b'],
      ['a single quote', "a'b"],
      ['angle brackets', '<script>x</script>'],
      ['a comma', 'a,b'],
      ['a semicolon', 'a;b'],
      ['a backslash', 'a\\b'],
      ['\\x01', 'a\x01b'],
      ['\\x7f', 'a\x7fb'],
      ['a bare CR', 'a\rb'],
      ['ESC sequence', 'a\x1b[31mred'],
      ['UTF-8 é', 'caf\xc3\xa9'],
      ['a latin1 byte', 'caf\xe9'],
      ['percent-encoded CRLF', 'a%0d%0aX-Injected:%20yes'],
    ]
    for (const [tag, rid] of insane) {
      it(`an insane id with ${tag} is replaced by a generated one, never reflected`, T, async () => {
        const r = await rawA(req('GET', '/healthz', { headers: `X-Request-Id: ${rid}\r\n` }))
        expectStatus(`X-Request-Id with ${tag}`, r, 200)
        const got = r.res.headers['x-request-id']
        assert.equal(got.length, 1, show(r))
        assert.notEqual(got[0], rid.trim(), `not reflected: ${show(r)}`)
        assert.match(got[0], SANE_RID, `a generated id: ${show(r)}`)
        assert.ok(!r.raw.includes(rid) || rid.length < 3, `the raw value appears nowhere in the answer: ${show(r)}`)
        assert.equal(r.res.headers['x-injected'], undefined)
      })
    }

    it('two X-Request-Id headers (both sane): a generated id', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: 'X-Request-Id: one\r\nX-Request-Id: two\r\n' }))
      expectStatus('two X-Request-Id', r, 200)
      const got = r.res.headers['x-request-id']
      assert.equal(got.length, 1)
      assert.ok(!['one', 'two', 'one, two', 'one,two'].includes(got[0]), show(r))
      assert.match(got[0], SANE_RID)
    })

    it('an empty X-Request-Id: a generated id', T, async () => {
      const r = await rawA(req('GET', '/healthz', { headers: 'X-Request-Id:\r\n' }))
      expectStatus('empty X-Request-Id', r, 200)
      assert.match(r.res.headers['x-request-id'][0], SANE_RID)
    })

    it('a refusal carries the request id too (400 for a bad id)', T, async () => {
      const r = await rawA(put('a%00b', json({ data: {} }), { headers: 'X-Request-Id: refused-1\r\n' }))
      expectStatus('bad id with X-Request-Id', r, 400)
      assert.deepEqual(r.res.headers['x-request-id'], ['refused-1'])
    })
  })

  // -------------------------------------------------------------------------
  describe('pipelining', () => {
    it('seven pipelined requests in one write are answered in order', T, async () => {
      const id = newId('pipe')
      const rid = (i) => `X-Request-Id: pipe-${i}\r\n`
      const reqs = [
        ['GET', req('GET', '/healthz', { headers: rid(0) })],
        ['PUT', put(id, json({ data: { n: 1 } }), { headers: rid(1) })],
        ['GET', req('GET', `/v1/sessions/${id}`, { headers: rid(2) })],
        ['HEAD', req('HEAD', `/v1/sessions/${id}`, { headers: rid(3) })],
        ['GET', req('GET', `/v1/sessions/${newId('pipe-missing')}`, { headers: rid(4) })],
        ['PATCH', req('PATCH', `/v1/sessions/${id}`, { body: json({ m: 2 }), type: 'application/merge-patch+json', headers: rid(5) })],
        ['GET', req('GET', `/v1/sessions/${id}`, { headers: rid(6) })],
      ]
      const r = await rawA(reqs.map((x) => x[1]).join(''), { responses: reqs.length, methods: reqs.map((x) => x[0]) })
      note('7 pipelined requests', '200 201 200 200 404 200 200, in order', {
        ...r,
        res: { status: r.responses.map((x) => x.status).join(' '), headers: r.res ? r.res.headers : {} },
      })
      assert.equal(r.responses.length, reqs.length, `all answered: ${show(r)}`)
      assert.deepEqual(
        r.responses.map((x) => x.status),
        [200, 201, 200, 200, 404, 200, 200],
        show(r)
      )
      assert.deepEqual(
        r.responses.map((x) => (x.headers['x-request-id'] || [])[0]),
        reqs.map((_, i) => `pipe-${i}`),
        `answers in request order: ${show(r)}`
      )
      assert.deepEqual(JSON.parse(r.responses[2].body).data, { n: 1 })
      assert.equal(r.responses[3].body, '', 'HEAD has no body')
      assert.deepEqual(JSON.parse(r.responses[6].body).data, { n: 1, m: 2 })
      assert.equal(r.rest, '', `nothing after the last answer: ${show(r)}`)
      legit.A.add(id)
    })

    it('refusals in the middle of a pipeline: later answers stay in order; after a close nothing more runs', T, async () => {
      // Keeping the connection after a bodiless refusal is the daemon's
      // choice, not the RFC's; what must hold: answers in request order, and
      // when one says Connection: close, no later request has run.
      const ids = [newId('pipe2-a'), newId('pipe2-b'), newId('pipe2-c')]
      const reqs = [
        ['GET', req('GET', '/nope', { headers: 'X-Request-Id: p2-0\r\n' }), 404],
        ['BREW', req('BREW', '/healthz', { headers: 'X-Request-Id: p2-1\r\n' }), 405],
        ['PUT', put(ids[0], json({ data: {} }), { headers: 'X-Request-Id: p2-2\r\n' }), 201],
        ['GET', req('GET', '/v1/sessions/bad%20id', { headers: 'X-Request-Id: p2-3\r\n' }), 400],
        ['PUT', put(ids[1], json({ data: {} }), { headers: 'X-Request-Id: p2-4\r\n' }), 201],
        ['GET', req('GET', '/v1/sessions/bad%01id', { headers: 'X-Request-Id: p2-5\r\n' }), 400],
        ['PUT', put(ids[2], json({ data: {} }), { headers: 'X-Request-Id: p2-6\r\n' }), 201],
      ]
      const r = await rawA(reqs.map((x) => x[1]).join(''), { responses: reqs.length, methods: reqs.map((x) => x[0]) })
      note('pipeline with refusals', reqs.map((x) => x[2]).join(' ') + ' (a prefix, ending at a close)', {
        ...r,
        res: { status: r.responses.map((x) => x.status).join(' '), headers: r.res ? r.res.headers : {} },
      })
      assert.ok(r.responses.length >= 1, show(r))
      r.responses.forEach((x, i) => {
        assert.equal(x.status, reqs[i][2], `answer ${i}: ${show(r)}`)
        assert.deepEqual(x.headers['x-request-id'], [`p2-${i}`], `answer ${i} in order: ${show(r)}`)
      })
      const last = r.responses[r.responses.length - 1]
      if (r.responses.length < reqs.length) {
        assert.ok(/close/i.test((last.headers.connection || []).join()) && r.closed, `an early end comes with Connection: close: ${show(r)}`)
      }
      assert.equal(r.rest, '', `nothing after the last answer: ${show(r)}`)
      const putAt = [2, 4, 6]
      for (let k = 0; k < ids.length; k++) {
        if (putAt[k] < r.responses.length) legit.A.add(ids[k])
        else await absent(A, ids[k])
      }
    })

    it('a refused request with a body that holds a request: the body never runs', T, async () => {
      // 415 before the body is read: the daemon either closes (the body and
      // what follows are never parsed) or reads the body away; either way
      // the request inside the body does not run.
      const hidden = newId('pipe3-hidden')
      const after = newId('pipe3-after')
      const smuggled = put(hidden, json({ data: { smuggled: true } }))
      const bytes =
        req('PUT', `/v1/sessions/${newId('pipe3')}`, { body: smuggled, type: 'text/plain' }) + put(after, json({ data: {} }))
      const r = await rawA(bytes, { responses: 3, methods: ['PUT', 'PUT', 'PUT'] })
      expectStatus('415 with a request in its body', r, 415)
      await absent(A, hidden)
      if (r.responses.length > 1) {
        assert.deepEqual(r.responses.map((x) => x.status), [415, 201], show(r))
        legit.A.add(after)
      } else await absent(A, after)
    })
  })

  // -------------------------------------------------------------------------
  describe(`slow clients (connection_timeout ${SLOW_TIMEOUT_S} s)`, () => {
    const N_HEAD = 150
    const N_BODY = 100
    const N_CHUNKED = 50

    // Opens a connection, writes bytes and stalls. Resolves once connected;
    // .closedAt is set when the server ends it.
    function stall(port, bytes) {
      return new Promise((resolve, reject) => {
        const s = { sock: net.connect({ host: '127.0.0.1', port }), closedAt: 0, wroteAt: 0, data: '' }
        s.sock.on('data', (d) => (s.data += d.toString('latin1')))
        s.sock.on('close', () => (s.closedAt = s.closedAt || Date.now()))
        s.sock.on('end', () => (s.closedAt = s.closedAt || Date.now()))
        s.sock.on('error', () => (s.closedAt = s.closedAt || Date.now()))
        s.sock.once('connect', () => {
          s.sock.write(bytes, 'latin1', () => {
            s.wroteAt = Date.now()
            resolve(s)
          })
        })
        s.sock.once('error', (e) => (s.wroteAt ? null : reject(e)))
      })
    }

    it(`${N_HEAD + N_BODY + N_CHUNKED} stalled headers and bodies do not stop others; all are closed after connection_timeout`, { timeout: 40000 }, async () => {
      const stalled = await Promise.all([
        ...Array.from({ length: N_HEAD }, (_, i) => stall(C.port, `GET /healthz HTTP/1.1\r\n${H}X-Slow: ${i}\r\n`)),
        ...Array.from({ length: N_BODY }, (_, i) =>
          stall(C.port, `PUT /v1/sessions/${newId('slowbody')}-${i} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":{`)
        ),
        ...Array.from({ length: N_CHUNKED }, (_, i) =>
          stall(C.port, `PUT /v1/sessions/${newId('slowchunk')}-${i} HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"data":{`)
        ),
      ])
      // An idle keep-alive connection after a complete request, too.
      const idle = await stall(C.port, req('GET', '/healthz'))

      // While all of them are open, normal clients are served.
      const id = newId('slow-ok')
      const p = await request(C.url, 'PUT', `/v1/sessions/${id}`, { json: { data: { ok: true } }, timeoutMs: 5000 })
      const g = await request(C.url, 'GET', `/v1/sessions/${id}`, { timeoutMs: 5000 })
      const h = await rawA(req('GET', '/healthz')) // and the other daemon, just as a control
      const openDuring = stalled.filter((s) => !s.closedAt).length
      note(`normal PUT+GET while ${stalled.length} stalled`, '201, 200', { res: { status: `${p.status}, ${g.status}` }, who: 'daemon' })
      assert.equal(p.status, 201, p.text)
      assert.equal(g.status, 200, g.text)
      assert.equal(h.res.status, 200)
      legit.C.add(id)
      assert.equal(openDuring, stalled.length, `all stalled connections were still open while the normal requests were served (${openDuring}/${stalled.length})`)
      assert.ok(stalled.every((s) => s.data === ''), 'stalled clients got no answer')

      // Then the server closes every one of them.
      const limit = (SLOW_TIMEOUT_S + 4) * 1000
      const all = [...stalled, idle]
      const t0 = Date.now()
      while (all.some((s) => !s.closedAt) && Date.now() - t0 < limit) await sleep(100)
      const open = all.filter((s) => !s.closedAt).length
      note('stalled connections closed', `all ${all.length} closed within ${SLOW_TIMEOUT_S}+4 s`, { res: { status: `${all.length - open}/${all.length} closed` }, who: 'MHD (connection_timeout)' })
      assert.equal(open, 0, `every stalled connection is closed within ${SLOW_TIMEOUT_S} s + 4 s of idling`)
      const early = all.filter((s) => s.closedAt - s.wroteAt < SLOW_TIMEOUT_S * 1000 - 1100)
      assert.equal(early.length, 0, `none closed well before connection_timeout (${early.length} early)`)
      for (const s of all) s.sock.destroy()
      // Stalled bodies wrote nothing. On new connections: fetch's pooled
      // one from the PUT went idle with the stalled ones, so the daemon
      // closes it at about this moment ("other side closed", seen once).
      const h2 = await talk(C.port, req('GET', '/healthz'))
      assert.equal(h2.res.status, 200)
      // Every close was counted: the count gates new connections
      // (limits.max_connections), so a close missed or counted twice would
      // turn clients away or let too many in. Once fetch's pooled
      // connection has idled out (connection_timeout), the one asking is
      // the only one open.
      let open2
      for (let i = 0; i < 80; i++) {
        const m = await talk(C.port, req('GET', '/metrics'))
        open2 = Number(/^sessiond_http_connections (\d+)$/m.exec(m.res?.body || '')?.[1])
        if (open2 === 1) break
        await sleep(100)
      }
      assert.equal(open2, 1, 'connections counted open when only the one asking is')
    })
  })

  // -------------------------------------------------------------------------
  describe('afterwards', () => {
    for (const k of ['A', 'B', 'C']) {
      it(`daemon ${k} still serves and its table holds exactly what legitimate requests wrote`, T, async () => {
        const d = { A, B, C }[k]
        const h = await request(d.url, 'GET', '/healthz')
        assert.equal(h.status, 200, h.text)
        const items = await ddb.scan(d.table)
        assert.deepEqual(
          items.map((i) => i.id.S).sort(),
          [...legit[k]].map((id) => `sess:${id}`).sort(),
          `table ${d.table}`
        )
        assert.ok(!d.exited(), 'still running')
      })
    }
  })
})
