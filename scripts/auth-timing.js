#!/usr/bin/env node
// Measures, not assumes, that the bearer-token check takes the same time
// whatever is wrong with a token: first byte wrong, last byte wrong, wrong
// length, right token. Starts dynalite and sessiond (build/sessiond or
// $SESSIOND_BIN), sends interleaved GETs over keep-alive connections and
// prints the latency distribution of each kind. A benchmark to read, not a
// test: run it with `make bench-auth`.
'use strict'
const http = require('node:http')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const top = path.join(__dirname, '..')
const N = Number(process.env.N || 20000)
const TOKEN = 'k'.repeat(40) + 'Tz9'

async function main() {
  const state = execFileSync('mktemp', ['-d']).toString().trim()
  process.env.SESSIOND_TEST_DDB_ENDPOINT = execFileSync(path.join(top, 'scripts/dynalite.sh'),
    ['start', state]).toString().trim()
  const { startDaemon } = require(path.join(top, 'tests/integration/lib/daemon'))
  const d = await startDaemon({ auth: { tokens: [TOKEN] }, log: { level: 'info' } })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const kinds = {
    'right token': TOKEN,
    'first byte wrong': 'X' + TOKEN.slice(1),
    'last byte wrong': TOKEN.slice(0, -1) + 'X',
    'wrong length (short)': TOKEN.slice(0, 8),
    'wrong length (long)': TOKEN + 'x'.repeat(200),
  }
  const times = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]))
  const get = (token) => new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    http.get({ host: '127.0.0.1', port: d.port, path: '/v1/sessions/timing', agent,
      headers: { Authorization: `Bearer ${token}` } }, (res) => {
      res.resume()
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1000))
    }).on('error', reject)
  })
  const names = Object.keys(kinds)
  for (let i = 0; i < 500; i++) await get(kinds[names[i % names.length]]) // warm-up
  // A random order, so no kind always follows the slow right-token request.
  for (let i = 0; i < N; i++) {
    const k = names[Math.floor(Math.random() * names.length)]
    times[k].push(await get(kinds[k]))
  }
  const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))]
  console.log(`| token | n | p10 µs | p50 µs | p90 µs | mean µs |`)
  console.log(`|---|---|---|---|---|---|`)
  for (const k of names) {
    const a = times[k].sort((x, y) => x - y)
    const mean = a.reduce((s, x) => s + x, 0) / a.length
    console.log(`| ${k} | ${a.length} | ${pct(a, 0.1).toFixed(1)} | ${pct(a, 0.5).toFixed(1)} | ` +
      `${pct(a, 0.9).toFixed(1)} | ${mean.toFixed(1)} |`)
  }
  agent.destroy()
  await d.stop()
  execFileSync(path.join(top, 'scripts/dynalite.sh'), ['stop', state])
}
main().catch((e) => { console.error(e); process.exit(1) })
