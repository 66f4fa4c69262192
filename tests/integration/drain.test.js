'use strict'
// Issue 15: the drain for load balancers (limits.drain). After SIGTERM the
// daemon keeps serving every request for limits.drain seconds while /readyz
// answers 503 {"status":"draining"} and every answer carries
// "Connection: close" (and libmicrohttpd really closes the connection after
// it); then the v1 stop follows and the exit status is 0. A second SIGTERM
// or SIGINT ends the drain at once; SIGINT alone does not drain. The times
// from SIGTERM to exit are printed as TAP diagnostics; only lower bounds
// that the drain guarantees are asserted (the machine may be slow).

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')

const { startDaemon } = require('./lib/daemon')

// One request on a keep-alive agent: { status, headers, body, closed }
// where closed says the server ended the connection after the answer.
function call(d, method, path, { agent, body } = {}) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'Content-Type': 'application/json' } : {}
    let sock = null
    let closed = false
    const req = http.request({ host: d.host, port: d.port, method, path, agent, headers }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        // The server's FIN arrives right after the answer when it closes.
        const settle = () => resolve({ status: res.statusCode, headers: res.headers, text, closed })
        if (closed) settle()
        else {
          const t = setTimeout(settle, 500)
          sock.once('close', () => {
            clearTimeout(t)
            settle()
          })
        }
      })
    })
    req.on('socket', (s) => {
      sock = s
      if (s.destroyed) closed = true
      s.once('close', () => (closed = true))
      s.once('end', () => (closed = true))
    })
    req.on('error', reject)
    req.setTimeout(10000, () => req.destroy(new Error('timeout')))
    if (body) req.write(JSON.stringify(body))
    req.end()
  })
}

const metric = (text, name) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)[1])

describe('drain', () => {
  it('serves every request with Connection: close while /readyz says draining, then exits 0', { timeout: 60000 }, async (t) => {
    const d = await startDaemon({ limits: { drain: 2 }, log: { level: 'info' } })
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      // Before: keep-alive, ready, not draining.
      const before = await call(d, 'PUT', '/v1/sessions/drain-1', { agent, body: { data: { a: 1 }, ttl: 600 } })
      assert.equal(before.status, 201)
      assert.notEqual(before.headers.connection, 'close')
      assert.equal(before.closed, false)
      assert.equal((await call(d, 'GET', '/readyz', { agent })).status, 200)
      assert.equal(metric((await call(d, 'GET', '/metrics', { agent })).text, 'sessiond_draining'), 0)

      const t0 = process.hrtime.bigint()
      d.child.kill('SIGTERM')
      await new Promise((r) => setTimeout(r, 200))
      const ready = await call(d, 'GET', '/readyz', { agent })
      assert.equal(ready.status, 503)
      assert.deepEqual(JSON.parse(ready.text), { status: 'draining' })
      const answers = [
        ready,
        await call(d, 'GET', '/v1/sessions/drain-1', { agent }),
        await call(d, 'PUT', '/v1/sessions/drain-2', { agent, body: { data: {}, ttl: 600 } }),
        await call(d, 'POST', '/v1/sessions/drain-1/touch', { agent }),
        await call(d, 'GET', '/v1/sessions/drain-1?touch=1', { agent }),
        await call(d, 'GET', '/healthz', { agent }),
        await call(d, 'GET', '/metrics', { agent }),
        await call(d, 'GET', '/v1/sessions/absent-1', { agent }),
      ]
      assert.deepEqual(answers.map((a) => a.status), [503, 200, 201, 200, 200, 200, 200, 404])
      for (const a of answers) {
        assert.equal(a.headers.connection, 'close')
        assert.equal(a.closed, true, 'the server closed the connection after the answer')
      }
      assert.equal(metric(answers[6].text, 'sessiond_draining'), 1)
      assert.equal(d.exited(), false)
      assert.equal(await d.wait(), 0)
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      t.diagnostic(`drain = 2: SIGTERM to exit ${ms.toFixed(0)} ms`)
      assert.ok(ms >= 1900, `the drain lasted its 2 s (${ms} ms)`)
      assert.match(d.stderr(), /draining for 2 s/)
      assert.match(d.stderr(), /drain over/)
    } finally {
      agent.destroy()
      await d.stop()
    }
  })

  it('a second SIGTERM ends the drain at once; exit 0', { timeout: 60000 }, async (t) => {
    const d = await startDaemon({ limits: { drain: 120 }, log: { level: 'info' } })
    try {
      const t0 = process.hrtime.bigint()
      d.child.kill('SIGTERM')
      await new Promise((r) => setTimeout(r, 200))
      assert.equal((await call(d, 'GET', '/readyz')).status, 503)
      assert.equal((await call(d, 'PUT', '/v1/sessions/drain-3', { body: { data: {}, ttl: 60 } })).status, 201)
      const t1 = process.hrtime.bigint()
      d.child.kill('SIGTERM')
      assert.equal(await d.wait(), 0)
      const end = process.hrtime.bigint()
      t.diagnostic(`drain = 120, second SIGTERM: exit ${(Number(end - t1) / 1e6).toFixed(0)} ms after it, ${(Number(end - t0) / 1e6).toFixed(0)} ms after the first`)
      assert.ok(Number(end - t0) / 1e9 < 100, 'the second signal ended the 120 s drain')
      assert.match(d.stderr(), /SIGTERM: ending the drain/)
    } finally {
      await d.stop()
    }
  })

  it('SIGINT stops without draining; drain = 0 is the v1 stop', { timeout: 60000 }, async (t) => {
    for (const [drain, sig] of [[120, 'SIGINT'], [0, 'SIGTERM']]) {
      const d = await startDaemon({ limits: { drain }, log: { level: 'info' } })
      try {
        const t0 = process.hrtime.bigint()
        d.child.kill(sig)
        assert.equal(await d.wait(), 0)
        const ms = Number(process.hrtime.bigint() - t0) / 1e6
        t.diagnostic(`drain = ${drain}, ${sig}: exit ${ms.toFixed(0)} ms after it`)
        assert.doesNotMatch(d.stderr(), /draining for/)
      } finally {
        await d.stop()
      }
    }
  })
})
