#!/usr/bin/env node
'use strict'
// `make bench-node`: the per-request cost of connect-sessiond against
// connect-dynamodb in the same express app.
//
// One express app (express + express-session, resave: false,
// saveUninitialized: false, a one-day cookie), run twice, each copy in a
// Node process of its own:
//   cdb       store: connect-dynamodb over the AWS SDK v3, to dynalite
//   sessiond  store: connect-sessiond, to sessiond, itself on the same dynalite
// Both use one table (sessiond's layout is connect-dynamodb's). Two routes:
//   GET  /read   reads the session (express-session: store get + touch)
//   POST /write  changes it       (express-session: store get + set)
// each request carrying the cookie of one of NSESS logged-in sessions,
// in turn. wrk drives them; rounds interleave the two apps (the order
// alternates each round), and each cell is a warm-up run whose numbers are
// thrown away plus a measured run. Reported: medians over rounds of
// requests/s and the app process's CPU time per request (utime + stime from
// /proc/PID/stat, before and after the measured run, divided by the
// requests), with sessiond's and dynalite's CPU per request alongside (the
// sessiond app hands its DynamoDB work to sessiond, so the app's CPU alone
// is not the whole bill).
//
// Then the DynamoDB calls per page view (issue 15): the same app on
// connect-dynamodb, and on connect-sessiond with session.touch_after 0 and
// 60, each copy with its own DynamoDB endpoint behind a counting proxy
// (tests/integration/lib/faultproxy.js, no fault set), PAGEVIEWS page views
// of each route, one after another, over 20 logged-in sessions already seen
// once. A third store in the timed table is connect-sessiond with
// touch_after = 60.
//
// Environment: ROUNDS (3), DURATION (s, 5), WARMUP (s, 2), CONNS (16),
// PAGEVIEWS (200),
// NSESS (500), SESSIOND_BIN (build/sessiond), SESSIOND_BENCH_DDB (use this
// DynamoDB endpoint instead of starting a dynalite).
//
// Internal: `overhead.js --serve cdb|sessiond --ddb URL --table T
// [--sessiond URL --token T]` runs one app and prints "listening on URL".

const { spawn, spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

const ROOT = path.resolve(__dirname, '..', '..', '..')
const TABLE = 'bench_node'
const COOKIE_MAX_AGE = 86400 * 1000 // the seed's: one day

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}

// ---------------------------------------------------------------------------
// The app

function serve(kind) {
  const express = require('express')
  const session = require('express-session')
  let store
  if (kind === 'cdb') {
    const { DynamoDBClient } = require('@aws-sdk/client-dynamodb')
    const DynamoDBStore = require('connect-dynamodb')(session)
    // An app's usual client: the SDK's defaults (keep-alive, retries).
    const client = new DynamoDBClient({
      endpoint: arg('ddb'),
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDBENCHNODE', secretAccessKey: 'bench-node-secret' },
    })
    store = new DynamoDBStore({ client, table: arg('table'), initialized: true })
  } else if (kind === 'sessiond' || kind === 'sessiond60') {
    const { SessiondStore } = require('..')
    store = new SessiondStore({ url: arg('sessiond'), token: arg('token') })
  } else {
    throw new Error(`--serve cdb|sessiond, not ${kind}`)
  }

  const app = express()
  app.use(express.json())
  app.use(
    session({
      store,
      secret: 'bench-node secret',
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: COOKIE_MAX_AGE },
    })
  )
  app.get('/healthz', (req, res) => res.json({ ok: true }))
  app.post('/login', (req, res) => {
    Object.assign(req.session, req.body)
    req.session.n = 0
    res.json({ ok: true })
  })
  app.get('/read', (req, res) => {
    if (!req.session.user) return res.status(401).json({ error: 'no session' })
    res.json({ user: req.session.user.name, cart: req.session.cart, n: req.session.n })
  })
  app.post('/write', (req, res) => {
    if (!req.session.user) return res.status(401).json({ error: 'no session' })
    req.session.n = (req.session.n || 0) + 1
    res.json({ n: req.session.n })
  })
  app.use((err, req, res, next) => {
    console.error(`${kind}: ${err && err.stack ? err.stack : err}`)
    if (res.headersSent) return
    res.status(500).json({ error: String(err && err.message) })
  })
  const server = app.listen(0, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`)
  })
  server.keepAliveTimeout = 30000
  server.headersTimeout = 31000
  const stop = () => server.close(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

// ---------------------------------------------------------------------------
// The driver

const say = (() => {
  const t0 = Date.now()
  return (msg) => process.stderr.write(`[bench-node ${String(Math.round((Date.now() - t0) / 1000)).padStart(3)}s] ${msg}\n`)
})()

const children = []
function cleanup() {
  for (const c of children.splice(0)) {
    try {
      c.kill('SIGTERM')
    } catch {}
  }
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))
process.on('SIGTERM', () => process.exit(143))

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
    s.on('error', reject)
  })
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitHttp(url, child, what, logFile) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) })
      if (r.ok) return
    } catch {}
    await sleep(100)
  }
  throw new Error(`${what} did not start:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`)
}

// Spawns an app copy; resolves with { child, pid, url }.
async function startApp(kind, state, extra) {
  const log = path.join(state, `app-${kind}.log`)
  const fd = fs.openSync(log, 'w')
  const child = spawn(process.execPath, [__filename, '--serve', kind, ...extra], {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, NODE_ENV: 'production', AWS_EC2_METADATA_DISABLED: 'true' },
  })
  fs.closeSync(fd)
  children.push(child)
  for (let i = 0; i < 300; i++) {
    const m = /^listening on (\S+)/m.exec(fs.readFileSync(log, 'utf8'))
    if (m) {
      await waitHttp(m[1] + '/healthz', child, `the ${kind} app`, log)
      return { child, pid: child.pid, url: m[1], log }
    }
    if (child.exitCode !== null) break
    await sleep(100)
  }
  throw new Error(`the ${kind} app did not start:\n${fs.readFileSync(log, 'utf8').slice(-4000)}`)
}

// utime + stime of pid, in clock ticks.
function cpuTicks(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return Number(f[11]) + Number(f[12])
}

async function login(appUrl, data) {
  const r = await fetch(appUrl + '/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  })
  if (r.status !== 200) throw new Error(`login: ${r.status} ${await r.text()}`)
  const sc = r.headers.getSetCookie().find((c) => c.startsWith('sid='))
  if (!sc) throw new Error('login: no session cookie')
  return sc.split(';')[0]
}

const WRK_LUA = `
-- wrk -s this URL -- METHOD PATH COOKIEFILE
local reqs = {}
local n = 0
function init(args)
	local method, path, file = args[1], args[2], args[3]
	for line in io.lines(file) do
		n = n + 1
		reqs[n] = wrk.format(method, path, { ["Cookie"] = line })
	end
	math.randomseed(os.time() + n)
	i = math.random(n)
end
function request()
	i = i % n + 1
	return reqs[i]
end
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d sockerr=%d status=%d\\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		e.connect + e.read + e.write + e.timeout, e.status))
end
`

function wrk({ url, method, route, cookies, seconds, conns, lua }) {
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s', '-s', lua, url + route, '--', method, route, cookies],
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 }
  )
  const m = /^RESULT (.*)$/m.exec(r.stdout || '')
  if (!m) throw new Error(`wrk failed (${r.status}): ${r.stdout}\n${r.stderr}`)
  const v = {}
  for (const kv of m[1].split(' ')) {
    const [k, x] = kv.split('=')
    v[k] = Number(x)
  }
  return v
}

function ensureWrk() {
  if (spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).status === 0) return
  say('installing wrk (apt)')
  const sudo = process.getuid && process.getuid() === 0 ? '' : 'sudo '
  execFileSync('sh', ['-c', `${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq --no-install-recommends wrk`], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })

async function main() {
  const ROUNDS = Number(process.env.ROUNDS || 3)
  const DURATION = Number(process.env.DURATION || 5)
  const WARMUP = Number(process.env.WARMUP || 2)
  const CONNS = Number(process.env.CONNS || 16)
  const NSESS = Number(process.env.NSESS || 500)
  const bin = path.resolve(ROOT, process.env.SESSIOND_BIN || 'build/sessiond')
  const tick = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  if (!fs.existsSync(bin)) throw new Error(`no sessiond binary at ${bin} (make all, or set SESSIOND_BIN)`)
  ensureWrk()

  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-bench-node-'))
  const ddbDir = path.join(state, 'dynalite')
  let ddb = process.env.SESSIOND_BENCH_DDB
  let ddbPid = null
  if (!ddb) {
    ddb = execFileSync(path.join(ROOT, 'scripts', 'dynalite.sh'), ['start', ddbDir], { encoding: 'utf8' }).trim()
    ddbPid = Number(fs.readFileSync(path.join(ddbDir, 'pid'), 'utf8'))
    process.on('exit', () => {
      try {
        execFileSync(path.join(ROOT, 'scripts', 'dynalite.sh'), ['stop', ddbDir], { stdio: 'ignore' })
      } catch {}
      fs.rmSync(state, { recursive: true, force: true })
    })
  } else {
    process.on('exit', () => fs.rmSync(state, { recursive: true, force: true }))
  }
  say(`dynalite on ${ddb}${ddbPid ? ` (pid ${ddbPid})` : ''}`)

  // sessiond, creating the table both apps use.
  const token = crypto.randomBytes(16).toString('hex')
  const port = await freePort()
  const conf = path.join(state, 'sessiond.conf')
  fs.writeFileSync(
    conf,
    `# Written by clients/node/bench/overhead.js.
listen = { address = "127.0.0.1"; port = ${port}; threads = 0; };
dynamodb = { endpoint = "${ddb}"; table = "${TABLE}"; create_table = true; };
credentials = { access_key_id = "AKIDBENCHNODE"; secret_access_key = "bench-node-secret"; };
auth = { tokens = ["${token}"]; };
reaper = { enabled = false; };
log = { level = "warn"; };
`
  )
  const sLog = path.join(state, 'sessiond.log')
  const sfd = fs.openSync(sLog, 'w')
  const sessiond = spawn(bin, ['-c', conf], { stdio: ['ignore', sfd, sfd] })
  fs.closeSync(sfd)
  children.push(sessiond)
  const sessiondUrl = `http://127.0.0.1:${port}`
  await waitHttp(sessiondUrl + '/readyz', sessiond, 'sessiond', sLog)
  say(`sessiond on ${sessiondUrl} (pid ${sessiond.pid}, ${bin})`)

  // A second sessiond, with touch throttling.
  const s60 = await startSessiond(bin, state, 's60', ddb, token, 60)
  children.push(s60.child)
  say(`sessiond (touch_after = 60) on ${s60.url} (pid ${s60.child.pid})`)

  const apps = {
    cdb: await startApp('cdb', state, ['--ddb', ddb, '--table', TABLE]),
    sessiond: await startApp('sessiond', state, ['--sessiond', sessiondUrl, '--token', token]),
    sessiond60: await startApp('sessiond60', state, ['--sessiond', s60.url, '--token', token]),
  }
  const daemonPid = { cdb: null, sessiond: sessiond.pid, sessiond60: s60.child.pid }
  const STORES = Object.keys(apps)
  const storeName = {
    cdb: 'connect-dynamodb',
    sessiond: 'connect-sessiond, touch_after 0',
    sessiond60: 'connect-sessiond, touch_after 60',
  }
  for (const [k, a] of Object.entries(apps)) say(`app on ${k}: ${a.url} (pid ${a.pid})`)

  // NSESS logged-in sessions per app, with the bench's session contents.
  const data = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'session.json'), 'utf8'))
  delete data.cookie
  say(`logging in ${NSESS} sessions on each app`)
  for (const [k, a] of Object.entries(apps)) {
    const cookies = []
    for (let i = 0; i < NSESS; i += 50) {
      cookies.push(...(await Promise.all(Array.from({ length: Math.min(50, NSESS - i) }, () => login(a.url, data)))))
    }
    a.cookies = path.join(state, `cookies-${k}.txt`)
    fs.writeFileSync(a.cookies, cookies.join('\n') + '\n')
  }
  const lua = path.join(state, 'bench.lua')
  fs.writeFileSync(lua, WRK_LUA)

  const routes = [
    { name: 'read', method: 'GET', route: '/read', what: 'GET /read (get + touch)' },
    { name: 'write', method: 'POST', route: '/write', what: 'POST /write (get + set)' },
  ]
  const rows = [] // { round, route, store, ... }
  say(`measuring: ${ROUNDS} round(s) x 2 routes x 2 stores, ${WARMUP} s warm-up + ${DURATION} s each, ${CONNS} connections`)
  for (let round = 1; round <= ROUNDS; round++) {
    for (const rt of routes) {
      const order = round % 2 ? STORES : [...STORES].reverse()
      for (const kind of order) {
        const a = apps[kind]
        const opts = { url: a.url, method: rt.method, route: rt.route, cookies: a.cookies, conns: CONNS, lua }
        if (WARMUP > 0) wrk({ ...opts, seconds: WARMUP })
        const c0 = cpuTicks(a.pid)
        const s0 = daemonPid[kind] ? cpuTicks(daemonPid[kind]) : 0
        const d0 = ddbPid ? cpuTicks(ddbPid) : 0
        const v = wrk({ ...opts, seconds: DURATION })
        const c1 = cpuTicks(a.pid)
        const s1 = daemonPid[kind] ? cpuTicks(daemonPid[kind]) : 0
        const d1 = ddbPid ? cpuTicks(ddbPid) : 0
        const us = (ticks) => (v.requests ? ((ticks / tick) * 1e6) / v.requests : 0)
        const row = {
          round,
          route: rt.name,
          store: kind,
          requests: v.requests,
          rps: v.requests / (v.duration_us / 1e6),
          appUs: us(c1 - c0),
          sessiondUs: us(s1 - s0),
          ddbUs: ddbPid ? us(d1 - d0) : NaN,
          p50: v.p50_us / 1000,
          p99: v.p99_us / 1000,
          errors: v.sockerr + v.status,
        }
        rows.push(row)
        say(
          `  r${round} ${rt.name.padEnd(5)} ${kind.padEnd(10)} ${fmt(row.rps).padStart(6)} req/s  app ${fmt(row.appUs, 1).padStart(7)} µs/req  ` +
            `sessiond ${fmt(row.sessiondUs, 1).padStart(6)}  dynalite ${fmt(row.ddbUs, 1).padStart(7)}  p50 ${fmt(row.p50, 2)} ms  errors ${row.errors}`
        )
      }
    }
  }

  // ---- the report
  const pkg = (n) => require(require.resolve(`${n}/package.json`, { paths: [ROOT] })).version
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m) || [])[1] || '?'
  const out = []
  out.push(`## connect-sessiond vs connect-dynamodb: one express app, per request`)
  out.push('')
  out.push(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; ${cpu}, ${os.cpus().length} cores; node ${process.version}; ` +
      `express ${pkg('express')}, express-session ${pkg('express-session')}, connect-dynamodb ${pkg('connect-dynamodb')}, ` +
      `@aws-sdk/client-dynamodb ${pkg('@aws-sdk/client-dynamodb')}, connect-sessiond ${require('../package.json').version}, dynalite ${pkg('dynalite')}. ` +
      `wrk -t1 -c${CONNS}, ${WARMUP} s warm-up + ${DURATION} s measured per cell, medians of ${ROUNDS} interleaved round(s), ` +
      `${NSESS} sessions per app (${JSON.stringify(data).length}-byte data + cookie). CPU from /proc/PID/stat (utime + stime, ${1000 / tick} ms ticks).`
  )
  out.push('')
  out.push('| route | store | requests/s | app CPU µs/req | sessiond CPU µs/req | app + sessiond µs/req | dynalite CPU µs/req | p50 ms | p99 ms | errors |')
  out.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|')
  const med = {}
  for (const rt of routes) {
    for (const kind of STORES) {
      const rs = rows.filter((r) => r.route === rt.name && r.store === kind)
      const m = (k) => median(rs.map((r) => r[k]))
      const app = m('appUs')
      const viaDaemon = kind !== 'cdb'
      const sd = viaDaemon ? m('sessiondUs') : NaN
      med[`${rt.name}/${kind}`] = { rps: m('rps'), app, total: viaDaemon ? median(rs.map((r) => r.appUs + r.sessiondUs)) : app }
      out.push(
        `| ${rt.what} | ${storeName[kind]} | ${fmt(m('rps'))} | ${fmt(app, 1)} | ` +
          `${viaDaemon ? fmt(sd, 1) : '–'} | ${fmt(med[`${rt.name}/${kind}`].total, 1)} | ` +
          `${ddbPid ? fmt(m('ddbUs'), 1) : '?'} | ${fmt(m('p50'), 2)} | ${fmt(m('p99'), 2)} | ${rs.reduce((s, r) => s + r.errors, 0)} |`
      )
    }
  }
  out.push('')
  for (const rt of routes) {
    const c = med[`${rt.name}/cdb`]
    for (const kind of ['sessiond', 'sessiond60']) {
      const s = med[`${rt.name}/${kind}`]
      out.push(
        `- ${rt.what}, ${storeName[kind]}: ${fmt(s.rps / c.rps, 2)}× the requests/s of connect-dynamodb; ` +
          `app CPU per request ${fmt(s.app, 1)} µs vs ${fmt(c.app, 1)} µs (${fmt(c.app / s.app, 2)}× less); ` +
          `app + sessiond ${fmt(s.total, 1)} µs vs ${fmt(c.total, 1)} µs.`
      )
    }
  }
  out.push('')
  out.push(...(await callsPerPageView({ bin, state, ddb, token, data, routes })))
  process.stdout.write(out.join('\n') + '\n')
  const bad = rows.filter((r) => r.errors > 0)
  if (bad.length) say(`errors in ${bad.length} run(s)`)
  // The children keep the event loop alive: stop them, then leave.
  const gone = children.map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', r))))
  cleanup()
  await Promise.race([Promise.all(gone), sleep(10000)])
  process.exit(bad.length ? 1 : 0)
}

// A sessiond on its own port: { child, url }.
async function startSessiond(bin, state, name, ddb, token, touchAfter) {
  const port = await freePort()
  const conf = path.join(state, `sessiond-${name}.conf`)
  fs.writeFileSync(
    conf,
    `# Written by clients/node/bench/overhead.js.
listen = { address = "127.0.0.1"; port = ${port}; threads = 0; };
dynamodb = { endpoint = "${ddb}"; table = "${TABLE}"; create_table = true; };
credentials = { access_key_id = "AKIDBENCHNODE"; secret_access_key = "bench-node-secret"; };
auth = { tokens = ["${token}"]; };
session = { touch_after = ${touchAfter}; };
reaper = { enabled = false; };
log = { level = "warn"; };
`
  )
  const log = path.join(state, `sessiond-${name}.log`)
  const fd = fs.openSync(log, 'w')
  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', fd, fd] })
  fs.closeSync(fd)
  const url = `http://127.0.0.1:${port}`
  await waitHttp(url + '/readyz', child, `sessiond ${name}`, log)
  return { child, url }
}

// DynamoDB calls per page view: each store's DynamoDB traffic through a
// counting proxy of its own, PAGEVIEWS sequential page views per route over
// sessions that were each seen once already (connect-sessiond learns the
// cookie's ttl from its first read). No wrk runs meanwhile: the proxies
// live in this process.
async function callsPerPageView({ bin, state, ddb, token, data, routes }) {
  const { startFaultProxy } = require('../../../tests/integration/lib/faultproxy')
  const N = Number(process.env.PAGEVIEWS || 200)
  const NS = 20
  const READ_OPS = ['GetItem', 'Query', 'Scan']
  const WRITE_OPS = ['PutItem', 'UpdateItem', 'DeleteItem']
  const configs = [
    { kind: 'cdb', name: 'connect-dynamodb' },
    { kind: 'sessiond', name: 'connect-sessiond, touch_after = 0', touchAfter: 0 },
    { kind: 'sessiond', name: 'connect-sessiond, touch_after = 60', touchAfter: 60 },
  ]
  const lines = [
    `### DynamoDB calls per page view`,
    '',
    `${N} sequential page views per route and store, over ${NS} logged-in sessions each read once before; ` +
      `every DynamoDB request counted by a proxy in front of dynalite (item operations only).`,
    '',
    '| route | store | GetItem | PutItem | UpdateItem | DeleteItem | reads per view | writes per view | DynamoDB calls per view |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const cfg of configs) {
    const proxy = await startFaultProxy(ddb)
    let daemon = null
    let app
    try {
      if (cfg.kind === 'cdb') {
        app = await startApp('cdb', state, ['--ddb', proxy.url, '--table', TABLE])
      } else {
        daemon = await startSessiond(bin, state, `count${cfg.touchAfter}`, proxy.url, token, cfg.touchAfter)
        children.push(daemon.child)
        app = await startApp('sessiond', state, ['--sessiond', daemon.url, '--token', token])
      }
      const cookies = []
      for (let i = 0; i < NS; i++) cookies.push(await login(app.url, data))
      for (const c of cookies) await (await fetch(app.url + '/read', { headers: { Cookie: c } })).text()
      for (const rt of routes) {
        const before = proxy.counts()
        for (let i = 0; i < N; i++) {
          const r = await fetch(app.url + rt.route, { method: rt.method, headers: { Cookie: cookies[i % NS] } })
          await r.text()
          if (r.status !== 200) throw new Error(`${cfg.name} ${rt.route}: ${r.status}`)
        }
        const after = proxy.counts()
        const d = (op) => ((after[op] || 0) - (before[op] || 0)) / N
        const reads = READ_OPS.reduce((a, op) => a + d(op), 0)
        const writes = WRITE_OPS.reduce((a, op) => a + d(op), 0)
        lines.push(
          `| ${rt.what} | ${cfg.name} | ${fmt(d('GetItem'), 2)} | ${fmt(d('PutItem'), 2)} | ${fmt(d('UpdateItem'), 2)} | ` +
            `${fmt(d('DeleteItem'), 2)} | ${fmt(reads, 2)} | ${fmt(writes, 2)} | ${fmt(reads + writes, 2)} |`
        )
        say(`  calls per view: ${rt.name} ${cfg.name}: reads ${fmt(reads, 2)}, writes ${fmt(writes, 2)}`)
      }
    } finally {
      for (const c of [app && app.child, daemon && daemon.child]) {
        if (c && c.exitCode === null) {
          const gone = new Promise((r) => c.once('exit', r))
          c.kill('SIGTERM')
          await Promise.race([gone, sleep(5000)])
        }
      }
      await proxy.close()
    }
  }
  return lines
}

if (process.argv.includes('--serve')) {
  serve(arg('serve'))
} else {
  main().catch((err) => {
    console.error(err && err.stack ? err.stack : err)
    process.exit(1)
  })
}
