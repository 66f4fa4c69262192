#!/usr/bin/env node
// `make soak`: a long mixed run against one release sessiond on a local
// dynalite, looking for leaks rather than speed. Not part of `make check`.
//
//   node bench/soak.js --bin build/bench/sessiond [--requests 1000000] [--conns 64]
//
// The mix: 88 % GET, 5 % PUT, 5 % touch, 1 % PATCH, 1 % DELETE over NSESS
// sessions (a DELETE makes later reads of that id 404 until a PUT brings it
// back; those 404s are expected, nothing else non-2xx is). Checks, printed
// with their figures:
//   - VmRSS at the end <= VmRSS after the first 10,000 requests + 2 MiB;
//   - open descriptors, apart from the DynamoDB pool's kept-alive
//     connections, back to their count before the run once the clients
//     have closed;
//   - no answer other than 2xx and the expected 404s, no transport error.
'use strict'
const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const http = require('http')
const net = require('net')
const os = require('os')
const path = require('path')

const top = path.join(__dirname, '..')
function arg (name, dflt) {
  const i = process.argv.indexOf('--' + name)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}
const BIN = path.resolve(top, arg('bin', 'build/bench/sessiond'))
const TOTAL = Number(arg('requests', 1000000))
const CONNS = Number(arg('conns', 64))
const NSESS = Number(arg('sessions', 2000))
const BASELINE_AT = 10000
const data = JSON.parse(fs.readFileSync(path.join(__dirname, 'session.json'), 'utf8'))

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => resolve(p))
  })
  s.on('error', reject)
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const kib = (pid, field) => {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : NaN
}
const fds = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS })
function call (port, method, p, body, type) {
  return new Promise((resolve) => {
    const headers = {}
    if (body !== undefined) {
      headers['Content-Type'] = type || 'application/json'
      headers['Content-Length'] = Buffer.byteLength(body)
    }
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', (e) => resolve('error: ' + e.code))
    req.end(body)
  })
}

async function metric (port, name) {
  return new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = ''
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm').exec(text)
        resolve(m ? Number(m[1]) : NaN)
      })
    }).on('error', () => resolve(NaN))
  })
}

async function main () {
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-soak-'))
  const endpoint = execFileSync(path.join(top, 'scripts/dynalite.sh'), ['start', path.join(state, 'ddb')], { encoding: 'utf8' }).trim()
  const port = await freePort()
  fs.writeFileSync(path.join(state, 'sessiond.conf'), `
listen = { address = "127.0.0.1"; port = ${port}; threads = 0; };
limits = { max_connections = 4096; connection_timeout = 30; };
dynamodb = { endpoint = "${endpoint}"; table = "soak"; create_table = true; };
credentials = { access_key_id = "AKIDSOAK"; secret_access_key = "soak-secret"; };
reaper = { enabled = false; };
log = { level = "warn"; };
`)
  const daemon = spawn(BIN, ['-c', path.join(state, 'sessiond.conf')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  daemon.stderr.on('data', (c) => { stderr += c })
  const stop = async () => {
    daemon.kill('SIGTERM')
    await new Promise((resolve) => daemon.once('exit', resolve))
    try { execFileSync(path.join(top, 'scripts/dynalite.sh'), ['stop', path.join(state, 'ddb')]) } catch (_) {}
    fs.rmSync(state, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < 300; i++) {
      if (await call(port, 'GET', '/readyz') === 200) break
      await sleep(100)
    }
    const id = (i) => 'soak-' + String(i).padStart(6, '0')
    const put = JSON.stringify({ data, ttl: 86400 })
    for (let i = 1; i <= NSESS; i += CONNS) {
      const batch = []
      for (let k = i; k < i + CONNS && k <= NSESS; k++) batch.push(call(port, 'PUT', `/v1/sessions/${id(k)}`, put))
      await Promise.all(batch)
    }
    agent.destroy() // the count before the run has no client connection
    await sleep(500)
    const fdStart = fds(daemon.pid)
    const poolStart = await metric(port, 'sessiond_dynamodb_connections')

    const patch = JSON.stringify({ soak: true, n: 1 })
    const counts = {}
    const unexpected = {}
    let sent = 0
    let done = 0
    let rssBase = NaN
    const t0 = Date.now()
    const one = async () => {
      while (sent < TOTAL) {
        sent++
        const r = Math.random() * 100
        const p = `/v1/sessions/${id(1 + Math.floor(Math.random() * NSESS))}`
        let kind, st
        if (r < 88) { kind = 'GET'; st = await call(port, 'GET', p) } else if (r < 93) { kind = 'PUT'; st = await call(port, 'PUT', p, put) } else if (r < 98) { kind = 'touch'; st = await call(port, 'POST', p + '/touch') } else if (r < 99) { kind = 'PATCH'; st = await call(port, 'PATCH', p, patch, 'application/merge-patch+json') } else { kind = 'DELETE'; st = await call(port, 'DELETE', p) }
        const key = `${kind} ${st}`
        counts[key] = (counts[key] || 0) + 1
        const ok = (typeof st === 'number' && st >= 200 && st < 300) || (st === 404 && kind !== 'PUT')
        if (!ok) unexpected[key] = (unexpected[key] || 0) + 1
        if (++done === BASELINE_AT) rssBase = kib(daemon.pid, 'VmRSS')
        if (done % 100000 === 0) process.stderr.write(`[soak] ${done} requests, ${Math.round(done * 1000 / (Date.now() - t0))}/s, VmRSS ${kib(daemon.pid, 'VmRSS')} kB\n`)
      }
    }
    await Promise.all(Array.from({ length: CONNS }, one))
    const secs = (Date.now() - t0) / 1000
    const rssEnd = kib(daemon.pid, 'VmRSS')
    agent.destroy()
    let fdEnd, poolEnd
    for (let i = 0; i < 50; i++) { // the daemon closes the client sockets
      await sleep(100)
      fdEnd = fds(daemon.pid)
      poolEnd = await metric(port, 'sessiond_dynamodb_connections')
      if (fdEnd - poolEnd <= fdStart - poolStart) break
    }
    const rssOk = rssEnd <= rssBase + 2048
    const fdOk = fdEnd - poolEnd === fdStart - poolStart
    const errOk = Object.keys(unexpected).length === 0 && daemon.exitCode === null
    console.log(`soak: ${done} requests at ${CONNS} connections in ${secs.toFixed(1)} s (${Math.round(done / secs)}/s)`)
    console.log('answers: ' + Object.keys(counts).sort().map((k) => `${k}: ${counts[k]}`).join(', '))
    console.log(`VmRSS after ${BASELINE_AT}: ${rssBase} kB; at the end: ${rssEnd} kB; growth ${rssEnd - rssBase} kB (limit 2048) ${rssOk ? 'ok' : 'FAILED'}`)
    console.log(`descriptors before: ${fdStart} (${poolStart} DynamoDB connections); after: ${fdEnd} (${poolEnd} DynamoDB connections) ${fdOk ? 'ok' : 'FAILED'}`)
    console.log(`unexpected answers: ${JSON.stringify(unexpected)} ${errOk ? 'ok' : 'FAILED'}`)
    if (!rssOk || !fdOk || !errOk) {
      process.stderr.write(stderr.split('\n').slice(-20).join('\n') + '\n')
      process.exitCode = 1
    }
  } finally {
    await stop()
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
