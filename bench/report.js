#!/usr/bin/env node
// Turns bench/run.sh's raw measurements into the Markdown report: medians
// over rounds, per workload and connection count, for sessiond, the peer
// and the ceiling.
//   node report.js RAW.tsv IDLE.tsv FACTS.tsv > report.md
'use strict'
const fs = require('fs')
const path = require('path')

const [rawFile, idleFile, factsFile] = process.argv.slice(2)

function tsv (file) {
  if (!file || !fs.existsSync(file)) return []
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n')
  const cols = head.split('\t')
  return lines.filter(Boolean).map((l) => {
    const v = l.split('\t')
    return Object.fromEntries(cols.map((c, i) => [c, v[i]]))
  })
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (!s.length) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (x, d = 0) => Number.isFinite(x)
  ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
  : '–'
const ms = (us) => fmt(us / 1000, us < 10000 ? 2 : 1)
const ratio = (a, b, d = 2) => Number.isFinite(a / b) && b ? fmt(a / b, d) : '–'
const pct = (x) => Number.isFinite(x) ? fmt(100 * x, 0) + ' %' : '–'

const raw = tsv(rawFile)
const facts = Object.fromEntries(tsv(factsFile).length
  ? fs.readFileSync(factsFile, 'utf8').trim().split('\n').map((l) => {
    const i = l.indexOf('\t')
    return [l.slice(0, i), l.slice(i + 1)]
  })
  : [])
const idle = tsv(idleFile)

// One row per run, derived.
const runs = raw.map((r) => {
  const n = (k) => Number(r[k])
  const ops = n('requests') / n('calls_per_op')
  const secs = n('duration_us') / 1e6
  return {
    round: n('round'),
    target: r.target,
    workload: r.workload,
    conns: n('conns'),
    ops,
    tput: ops / secs,
    p50: n('p50_us'),
    p99: n('p99_us'),
    cpu: ops ? n('svc_cpu_ns') / ops / 1000 : NaN,
    ticks_cpu: ops ? n('svc_ticks') * 10000 / ops : NaN,
    util: n('svc_cpu_ns') / 1e9 / secs,
    dyn: ops ? n('dyn_cpu_ns') / ops / 1000 : NaN,
    dynUtil: n('dyn_cpu_ns') / 1e9 / secs,
    hwm: n('svc_hwm_kb') / 1024,
    errors: n('sock_errors') + n('non2xx'),
    wrk: ops ? n('wrk_cpu_s') * 1e6 / ops : NaN,
    wrkUtil: n('wrk_cpu_s') / secs,
    busiest: n('busiest_ns') / 1e9 / secs,
    callsPerOp: n('calls_per_op'),
    perCall: r.latency === 'call' // latencies per DynamoDB call, not per operation
  }
})

const targets = ['sessiond', 'peer', 'ceiling']
const workloads = [...new Set(runs.map((r) => r.workload))].filter((w) => w !== 'healthz')
const connsList = [...new Set(runs.filter((r) => r.workload !== 'healthz').map((r) => r.conns))]
  .sort((a, b) => a - b)
const rounds = new Set(runs.map((r) => r.round)).size

// Medians over rounds of one (target, workload, conns) cell.
function cell (target, workload, conns) {
  const rs = runs.filter((r) => r.target === target && r.workload === workload && r.conns === conns)
  if (!rs.length) return null
  const m = (k) => median(rs.map((r) => r[k]))
  return {
    n: rs.length,
    tput: m('tput'),
    p50: m('p50'),
    p99: m('p99'),
    cpu: m('cpu'),
    ticksCpu: m('ticks_cpu'),
    util: m('util'),
    dyn: m('dyn'),
    dynUtil: m('dynUtil'),
    hwm: Math.max(...rs.map((r) => r.hwm)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    wrk: m('wrk'),
    wrkUtil: Math.max(...rs.map((r) => r.wrkUtil)),
    busiest: m('busiest'),
    callsPerOp: rs[0].callsPerOp,
    perCall: rs.some((r) => r.perCall)
  }
}

const label = {
  get: 'GET',
  put: 'PUT',
  patch: 'PATCH',
  touch: 'touch',
  create: 'create',
  mix: 'mix 90/5/5'
}
const W = (w) => label[w] || w
const out = []
const p = (s = '') => out.push(s)

p(`# sessiond benchmark, ${facts.date || ''}${facts.mode ? ' (QUICK: one short round, indicative only)' : ''}`)
p()
p('sessiond against the peer (what the seed\'s app does in-process: express + express-session +')
p('connect-dynamodb over the AWS SDK, as a Node service) and the ceiling (the same DynamoDB')
p('requests sent straight to dynalite), all on one dynalite on loopback, driven by wrk.')
p(`Medians of ${rounds} interleaved round(s); only ratios within one run mean anything on a shared machine.`)
p()

// ---- summary --------------------------------------------------------------------
p('## Summary')
p()
p('| workload | conns | sessiond ops/s | peer ops/s | ceiling ops/s | sessiond ÷ ceiling | sessiond ÷ peer | sessiond CPU µs/op | peer CPU µs/op | peer ÷ sessiond CPU |')
p('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
for (const w of workloads) {
  for (const c of connsList) {
    const s = cell('sessiond', w, c)
    const q = cell('peer', w, c)
    const k = cell('ceiling', w, c)
    if (!s) continue
    const bad = (x) => x && x.errors ? ' ⚠' : ''
    p(`| ${W(w)} | ${c} | ${fmt(s.tput)}${bad(s)} | ${q ? fmt(q.tput) + bad(q) : '–'} | ${k ? fmt(k.tput) + bad(k) : '–'} | ` +
      `${k ? pct(s.tput / k.tput) : '–'} | ${q ? ratio(s.tput, q.tput, 1) + '×' : '–'} | ` +
      `${fmt(s.cpu, 1)} | ${q ? fmt(q.cpu, 0) : '–'} | ${q ? ratio(q.cpu, s.cpu, 0) + '×' : '–'} |`)
  }
}
p()
if (runs.some((r) => r.errors && r.workload !== 'healthz')) {
  p('⚠: the cell had errors (non-2xx or socket errors); see the details, where it is marked invalid.')
  p()
}

// ---- targets --------------------------------------------------------------------
// The performance issue's goals, each from this run alone: CPU per operation
// as a multiple of the front end's own cost (GET /healthz) in the same run,
// against the peer, and against the ceiling.
const MULTIPLE = { get: 3, touch: 3.5, put: 4, create: 4, patch: 6 }
const hzCell = runs.some((r) => r.target === 'sessiond' && r.workload === 'healthz')
  ? cell('sessiond', 'healthz', runs.find((r) => r.target === 'sessiond' && r.workload === 'healthz').conns)
  : null
const yes = (b) => b ? 'yes' : '**no**'
p('## Targets')
p()
p('| goal | ' + connsList.map((c) => `${c} conn${c > 1 ? 's' : ''}`).join(' | ') + ' | met |')
p('|---|' + connsList.map(() => '--:|').join('') + '---|')
if (hzCell) {
  for (const w of Object.keys(MULTIPLE)) {
    if (!workloads.includes(w)) continue
    const cs = connsList.map((c) => cell('sessiond', w, c))
    const met = cs.every((x) => x && x.cpu / hzCell.cpu <= MULTIPLE[w])
    p(`| CPU/op ≤ ${MULTIPLE[w]}× GET /healthz's (${fmt(hzCell.cpu, 1)} µs), ${W(w)} | ` +
      cs.map((x) => x ? ratio(x.cpu, hzCell.cpu, 1) + '× (' + fmt(x.cpu, 1) + ' µs)' : '–').join(' | ') +
      ` | ${yes(met)} |`)
  }
}
for (const w of ['get', 'touch']) {
  if (!workloads.includes(w)) continue
  const cs = connsList.map((c) => cell('sessiond', w, c))
  const qs = connsList.map((c) => cell('peer', w, c))
  const met = cs.every((x, i) => x && qs[i] && qs[i].cpu / x.cpu >= 20)
  p(`| peer ÷ sessiond CPU/op ≥ 20× (long-term 30×), ${W(w)} | ` +
    cs.map((x, i) => x && qs[i] ? ratio(qs[i].cpu, x.cpu, 0) + '× (' + fmt(qs[i].cpu, 0) + ' µs)' : '–').join(' | ') +
    ` | ${yes(met)} |`)
}
for (const w of workloads) {
  const cs = connsList.map((c) => [c, cell('sessiond', w, c), cell('ceiling', w, c)])
  const judged = cs.filter(([c]) => c >= 16)
  const met = judged.length > 0 && judged.every(([, x, k]) => x && k && x.tput / k.tput >= 0.9)
  p(`| throughput ≥ 90 % of the ceiling at 16 and 64, ${W(w)} | ` +
    cs.map(([, x, k]) => x && k ? pct(x.tput / k.tput) : '–').join(' | ') + ` | ${yes(met)} |`)
}
for (const w of workloads) {
  const c1 = connsList[0]
  const x = cell('sessiond', w, c1)
  const k = cell('ceiling', w, c1)
  if (!x || !k) continue
  const d = (x.p50 - k.p50) / 1000
  // A ceiling whose calls could not be paired has a p50 per call: no goal.
  const shown = k.perCall
    ? `(${ms(x.p50)} vs ${ms(k.p50)} per call)`
    : `+${d.toFixed(2)} ms (${ms(x.p50)} vs ${ms(k.p50)})`
  p(`| p50 at ${c1} conn within 0.1 ms of the ceiling's, ${W(w)} | ` +
    connsList.map((c) => c === c1 ? shown : '').join(' | ') +
    ` | ${k.perCall ? '–' : yes(d <= 0.1)} |`)
}
{
  const cs = connsList.map((c) => workloads.map((w) => cell('sessiond', w, c)).filter(Boolean))
  const busiest = cs.map((xs) => xs.length ? Math.max(...xs.map((x) => x.busiest)) : NaN)
  const dyn = cs.map((xs) => xs.length ? Math.max(...xs.map((x) => x.dynUtil)) : NaN)
  const met = busiest.every((b) => !(b > 0.5))
  p('| no sessiond thread above 50 % of a core (busiest thread, any workload; dynalite\'s % in brackets) | ' +
    busiest.map((b, i) => `${pct(b)} (${pct(dyn[i])})`).join(' | ') + ` | ${yes(met)} |`)
}
if (connsList.length > 1) {
  const lo = connsList[0]
  const hi = connsList[connsList.length - 1]
  const rows = workloads.map((w) => [w, cell('sessiond', w, lo), cell('sessiond', w, hi)]).filter(([, a, b]) => a && b)
  const met = rows.every(([, a, b]) => b.cpu <= a.cpu)
  p(`| CPU/op at ${hi} ≤ CPU/op at ${lo} (every workload: ${hi} ÷ ${lo}) | ` +
    connsList.map((c) => c === hi ? rows.map(([w, a, b]) => `${W(w)} ${ratio(b.cpu, a.cpu, 2)}×`).join(', ') : '').join(' | ') +
    ` | ${yes(met)} |`)
}
if (hzCell) {
  p(`| GET /healthz ≤ 20 µs/op | ` + connsList.map((c) => c === 16 ? fmt(hzCell.cpu, 1) + ' µs' : '').join(' | ') +
    ` | ${yes(hzCell.cpu <= 20)} |`)
}
const idleSessiond = idle.find((r) => r.target === 'sessiond')
if (idleSessiond) {
  const per = (Number(idleSessiond.rss_after_kb) - Number(idleSessiond.rss_before_kb)) / Number(idleSessiond.connections)
  p(`| idle keep-alive connection ≤ 8 KiB | ` + connsList.map((c, i) => i === connsList.length - 1 ? fmt(per, 1) + ' KiB' : '').join(' | ') +
    ` | ${yes(per <= 8)} |`)
}
p()
const infoCell = cell('sessiond-info', 'get', 16)
const warnCell = cell('sessiond', 'get', 16)
if (infoCell && warnCell) {
  p('### The request log line')
  p()
  p('The same GET at 16 connections against a second daemon at `log.level = info` (the default: one line per request).')
  p()
  p('| log.level | ops/s | CPU µs/op | info − warn |')
  p('|---|--:|--:|--:|')
  p(`| warn | ${fmt(warnCell.tput)} | ${fmt(warnCell.cpu, 1)} | |`)
  p(`| info | ${fmt(infoCell.tput)} | ${fmt(infoCell.cpu, 1)} | ${fmt(infoCell.cpu - warnCell.cpu, 1)} µs |`)
  p()
}

const encRows = ['get', 'put'].map((w) => [w, cell('sessiond', w, 16), cell('sessiond-enc', w, 16)]).filter(([, a, b]) => a && b)
if (encRows.length) {
  p('### Encryption at rest')
  p()
  p('The same requests at 16 connections against a third daemon with `encryption.keys` set, on a table of its own whose every session it sealed (AES-256-GCM, the bench session of ' + fmt(fs.statSync(path.join(__dirname, 'session.json')).size) + ' bytes).')
  p()
  p('| workload | plain ops/s | encrypted ops/s | plain CPU µs/op | encrypted CPU µs/op | encryption adds |')
  p('|---|--:|--:|--:|--:|--:|')
  for (const [w, a, b] of encRows) {
    p(`| ${W(w)} | ${fmt(a.tput)} | ${fmt(b.tput)} | ${fmt(a.cpu, 1)} | ${fmt(b.cpu, 1)} | ${fmt(b.cpu - a.cpu, 1)} µs |`)
  }
  p()
}

// ---- growth ------------------------------------------------------------------------
if (connsList.length > 1) {
  const lo = connsList[0]
  const hi = connsList[connsList.length - 1]
  p(`## CPU per operation from ${lo} to ${hi} connections`)
  p()
  p(`| workload | sessiond µs/op at ${lo} | at ${hi} | growth | peer µs/op at ${lo} | at ${hi} | growth | dynalite µs/op (ceiling) at ${lo} | at ${hi} | growth |`)
  p('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const w of workloads) {
    const row = [W(w)]
    for (const t of targets) {
      const a = cell(t, w, lo)
      const b = cell(t, w, hi)
      row.push(a ? fmt(a.cpu, 1) : '–', b ? fmt(b.cpu, 1) : '–', a && b ? ratio(b.cpu, a.cpu, 2) + '×' : '–')
    }
    p('| ' + row.join(' | ') + ' |')
  }
  p()
}

// ---- the HTTP front end alone ------------------------------------------------------
const hz = ['sessiond', 'peer'].map((t) => [t, runs.filter((r) => r.workload === 'healthz' && r.target === t)])
  .filter(([, rs]) => rs.length)
if (hz.length) {
  p('## The HTTP front end alone')
  p()
  p('`GET /healthz` (no DynamoDB call): what one request costs each service before any session work.')
  p()
  p('| service | conns | ops/s | p50 ms | p99 ms | CPU µs/op | % of a core | errors |')
  p('|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [t, rs] of hz) {
    const x = cell(t, 'healthz', rs[0].conns)
    p(`| ${t} | ${rs[0].conns} | ${fmt(x.tput)} | ${ms(x.p50)} | ${ms(x.p99)} | ${fmt(x.cpu, 1)} | ${pct(x.util)} | ` +
      `${x.errors ? '**' + fmt(x.errors) + ': invalid**' : '0'} |`)
  }
  p()
}

// ---- idle connections ----------------------------------------------------------------
if (idle.length) {
  p('## Memory with idle keep-alive connections')
  p()
  p('Each connection has served one `GET /healthz` and then sits idle; VmRSS of the service process.')
  p()
  p('| service | idle connections held | VmRSS before | VmRSS holding them | per connection |')
  p('|---|--:|--:|--:|--:|')
  for (const r of idle) {
    const held = Number(r.connections)
    const b = Number(r.rss_before_kb)
    const a = Number(r.rss_after_kb)
    p(`| ${r.target} | ${fmt(held)} | ${fmt(b / 1024, 1)} MiB | ${fmt(a / 1024, 1)} MiB | ` +
      `${held ? fmt((a - b) / held, 1) + ' KiB' : '–'} |`)
  }
  p()
}

// ---- details -----------------------------------------------------------------------------
p('## Details')
p()
p('CPU µs/op and % of a core: the service process, all threads (for the ceiling: dynalite itself);')
p('busiest thread: the one thread of that process that ran most, in % of a core (near 100 %: that thread is the limit).')
p('dynalite µs/op: dynalite\'s CPU in the same window, per operation of the row. Peak RSS: VmHWM during')
p('the measured run (reset before it). wrk µs/op: the load generator\'s own CPU; one wrk thread')
p(`used at most ${pct(Math.max(...runs.filter((r) => r.workload !== 'healthz').map((r) => r.wrkUtil)))} ` +
  'of a core in any run of these workloads (more only in the much faster /healthz runs).')
p()
p('| workload | conns | target | ops/s | p50 ms | p99 ms | CPU µs/op | % of a core | busiest thread | dynalite µs/op | dynalite % of a core | peak RSS MiB | wrk µs/op | errors | of ceiling |')
p('|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
for (const w of workloads) {
  for (const c of connsList) {
    const k = cell('ceiling', w, c)
    for (const t of targets) {
      const x = cell(t, w, c)
      if (!x) continue
      const err = x.errors ? `**${fmt(x.errors)}: invalid**` : '0'
      const of = t === 'ceiling' ? '100 %' : k ? pct(x.tput / k.tput) : '–'
      p(`| ${W(w)} | ${c} | ${t} | ${fmt(x.tput)} | ${ms(x.p50)} | ${ms(x.p99)} | ${fmt(x.cpu, 1)} | ` +
        `${pct(x.util)} | ${pct(x.busiest)} | ${fmt(x.dyn, 0)} | ${pct(x.dynUtil)} | ${fmt(x.hwm, 1)} | ${fmt(x.wrk, 1)} | ${err} | ${of} |`)
    }
  }
}
p()
if (workloads.includes('patch')) {
  p('The ceiling\'s PATCH is two calls (GetItem, then the conditional UpdateItem), as sessiond makes them;')
  p('its ops/s and CPU count the pair as one operation; its latencies are per operation at one connection')
  p('(bench/wrk/ceiling.lua times the pair) and per call above, where wrk cannot pair the calls.')
  p()
}
p('The peer\'s writes are connect-dynamodb\'s (unconditional PutItem for PUT/create/PATCH, UpdateItem')
p('for touch); sessiond\'s and the ceiling\'s are version-conditional UpdateItem/PutItem calls.')
p()

// ---- facts -------------------------------------------------------------------------------
p('## Machine, versions and settings')
p()
for (const k of ['cpu', 'cores', 'memory', 'kernel', 'os', 'sessiond', 'libraries', 'node', 'peer', 'dynalite', 'wrk', 'settings', 'pinning']) {
  if (facts[k]) p(`- ${k}: ${facts[k]}`)
}
if (facts.wall) p(`- wall time of the run: ${Math.floor(facts.wall / 60)} min ${facts.wall % 60} s`)
p()
p('Reproduce: `make bench` (full) or `QUICK=1 make bench` (one short round); see bench/run.sh.')
process.stdout.write(out.join('\n') + '\n')
