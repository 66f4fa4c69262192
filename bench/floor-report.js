#!/usr/bin/env node
// Writes bench/floor.sh's report (markdown on stdout) from its runs.tsv:
// medians over the rounds of sessiond's and the floor's CPU per operation,
// what sessiond's own work adds, and both as multiples of /healthz.
// With a base build in the runs (BASE=), its CPU per operation beside
// sessiond's: a before/after within one run.
//   node bench/floor-report.js RUNS.tsv ROUNDS DURATION COMMIT [BASE_COMMIT]
'use strict'
const fs = require('fs')

const [file, rounds, duration, commit, baseCommit] = process.argv.slice(2)
const rows = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map(l => {
  const [round, op, conns, target, ops, cpu, p50, non2xx, latency, dyn, machine] = l.split('\t')
  return {
    round, op, conns: +conns, target, ops: +ops, cpu: +cpu, p50: +p50, non2xx: +non2xx,
    perCall: latency === 'call', dyn: dyn === undefined ? NaN : +dyn, machine: machine === undefined ? NaN : +machine
  }
})

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function med (op, conns, target, key) {
  const xs = rows.filter(r => r.op === op && r.conns === conns && r.target === target)
    .map(r => r[key])
  return xs.length ? median(xs) : NaN
}

// issue 12's CPU targets, as multiples of sessiond's GET /healthz.
const goal = { get: 3, touch: 3.5, put: 4, create: 4, patch: 6 }
const f1 = x => x.toFixed(1)
const hz = med('healthz', 16, 'sessiond', 'cpu')
const fhz = med('healthz', 16, 'floor', 'cpu')
const ops = [...new Set(rows.map(r => r.op))].filter(o => o !== 'healthz')
const conns = [...new Set(rows.map(r => r.conns))].sort((a, b) => a - b)
const bad = rows.reduce((n, r) => n + r.non2xx, 0)

const out = []
out.push(`# sessiond against the floor, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`)
out.push('')
out.push('The floor (bench/floor.c) is libmicrohttpd 0.9.75 in external epoll and one libcurl')
out.push('multi handle per worker, as in sessiond, forwarding each request as the DynamoDB calls')
out.push('sessiond makes for it (bench/wrk/ceiling.lua\'s bodies, PATCH two calls) and answering')
out.push('a fixed session document: no signing, no JSON, no validation, no logging. What it')
out.push('spends per request is what any server built on these libraries spends on this machine.')
out.push(`Both on one dynalite, the same wrk load, interleaved; medians of ${rounds} round(s) of ${duration} s;`)
out.push(`sessiond ${commit}, log.level = warn, 2 workers each. Non-2xx answers in all runs: ${bad}.`)
out.push('')
out.push(`GET /healthz at 16 connections: sessiond ${f1(hz)} µs/op, floor ${f1(fhz)} µs/op.`)
out.push('')
out.push('| workload | conns | sessiond ops/s | floor ops/s | ceiling ops/s | sessiond ÷ ceiling | floor ÷ ceiling | sessiond CPU µs/op | floor CPU µs/op | sessiond − floor | floor ÷ healthz | sessiond ÷ healthz | goal |')
out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
const n0 = x => Math.round(x).toLocaleString('en')
const pct = x => Number.isNaN(x) ? '' : Math.round(100 * x) + ' %'
for (const op of ops) {
  for (const c of conns) {
    const s = med(op, c, 'sessiond', 'cpu')
    const f = med(op, c, 'floor', 'cpu')
    const so = med(op, c, 'sessiond', 'ops')
    const fo = med(op, c, 'floor', 'ops')
    const co = med(op, c, 'ceiling', 'ops')
    if (Number.isNaN(s)) continue
    out.push(`| ${op} | ${c} | ${n0(so)} | ${n0(fo)} | ${Number.isNaN(co) ? '' : n0(co)} | ` +
      `${pct(so / co)} | ${pct(fo / co)} | ${f1(s)} | ${f1(f)} | ${f1(s - f)} | ` +
      `${(f / hz).toFixed(1)}× | ${(s / hz).toFixed(1)}× | ${goal[op] ? goal[op] + '×' : ''} |`)
  }
}
out.push('')
out.push('### Latency at one connection')
out.push('')
out.push('p50 in ms: what the extra hop costs a lone request, for the floor (the libraries alone) and')
out.push('for sessiond, against the ceiling (its PATCH p50 is per operation: both calls, timed by ceiling.lua).')
out.push('')
out.push('| workload | ceiling p50 | floor p50 | floor − ceiling | sessiond p50 | sessiond − ceiling |')
out.push('|---|--:|--:|--:|--:|--:|')
for (const op of ops) {
  // A ceiling p50 that could only be per call is shown, not compared.
  const perCall = rows.some(r => r.op === op && r.conns === 1 && r.target === 'ceiling' && r.perCall)
  const cp = perCall ? NaN : med(op, 1, 'ceiling', 'p50')
  const fp = med(op, 1, 'floor', 'p50')
  const sp = med(op, 1, 'sessiond', 'p50')
  if (Number.isNaN(sp)) continue
  const f2 = x => Number.isNaN(x) ? '' : x.toFixed(2)
  const shown = perCall ? `${f2(med(op, 1, 'ceiling', 'p50'))} per call` : f2(cp)
  out.push(`| ${op} | ${shown} | ${f2(fp)} | ${f2(fp - cp)} | ${f2(sp)} | ${f2(sp - cp)} |`)
}

// Per round, one target's figure against another's from the same round:
// the two ran seconds apart, so what the machine did meanwhile weighs on
// both. The median and range of those paired figures over the rounds.
function paired (op, conns, target, other, key, fn) {
  const xs = []
  for (const r of rows) {
    if (r.op !== op || r.conns !== conns || r.target !== target) continue
    const o = rows.find(x => x.op === op && x.conns === conns && x.target === other && x.round === r.round)
    if (o) xs.push(fn(r[key], o[key]))
  }
  if (!xs.length) return null
  return { med: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length }
}
const span = (p, f) => p ? `${f(p.med)} (${f(p.min)} to ${f(p.max)})` : ''
const ratio = (a, b) => a / b
const diff = (a, b) => a - b
const hasMachine = rows.some(r => !Number.isNaN(r.machine))
const verdict = (s, f, ok) => !s ? '' : ok(s.med) ? 'met'
  : !f ? 'missed' : ok(f.med) ? 'missed; the floor meets it' : 'missed; the floor misses too'
// The verdict reads the unrounded median: print enough digits to show it.
const pct1 = x => Number.isNaN(x) ? '' : (100 * x).toFixed(1) + ' %'

out.push('')
out.push('### Issue 12\'s throughput and latency goals, paired by round')
out.push('')
out.push('Each round runs sessiond, the floor and the ceiling seconds apart, so each round gives one')
out.push('ratio (throughput) or difference (p50) against that round\'s ceiling: the median of those')
out.push(`over the rounds (${rounds} here, fewer where a run is missing), and in brackets the lowest and highest.` +
  (hasMachine ? ' CPU: the whole machine\'s busy share of its cores during sessiond\'s run' : ''))
if (hasMachine) out.push('and the ceiling\'s, and dynalite\'s share of one core in each (medians).')
out.push('')
out.push('| workload | conns | sessiond ÷ ceiling | floor ÷ ceiling | goal ≥ 90 % | ' +
  (hasMachine ? 'machine busy: sessiond / ceiling run | dynalite: sessiond / ceiling run |' : ''))
out.push('|---|--:|--:|--:|---|' + (hasMachine ? '--:|--:|' : ''))
for (const op of ops) {
  for (const c of conns.filter(x => x >= 16)) {
    const s = paired(op, c, 'sessiond', 'ceiling', 'ops', ratio)
    const f = paired(op, c, 'floor', 'ceiling', 'ops', ratio)
    if (!s) continue
    let cpu = ''
    if (hasMachine) {
      cpu = ` ${pct(med(op, c, 'sessiond', 'machine') / 100)} / ${pct(med(op, c, 'ceiling', 'machine') / 100)} | ` +
        `${pct(med(op, c, 'sessiond', 'dyn') / 100)} / ${pct(med(op, c, 'ceiling', 'dyn') / 100)} |`
    }
    out.push(`| ${op} | ${c} | ${span(s, pct1)} | ${span(f, pct1)} | ${verdict(s, f, x => x >= 0.9)} |${cpu}`)
  }
}
out.push('')
out.push('| workload | sessiond p50 − ceiling p50, ms | floor p50 − ceiling p50, ms | goal ≤ 0.10 ms |')
out.push('|---|--:|--:|---|')
for (const op of ops) {
  if (rows.some(r => r.op === op && r.conns === 1 && r.target === 'ceiling' && r.perCall)) continue
  const f3 = x => x.toFixed(3)
  const s = paired(op, 1, 'sessiond', 'ceiling', 'p50', diff)
  const f = paired(op, 1, 'floor', 'ceiling', 'p50', diff)
  if (!s) continue
  out.push(`| ${op} | ${span(s, f3)} | ${span(f, f3)} | ${verdict(s, f, x => x <= 0.1)} |`)
}

if (rows.some(r => r.target === 'base')) {
  const bhz = med('healthz', 16, 'base', 'cpu')
  out.push('')
  out.push(`### Before and after: base ${baseCommit || ''} against sessiond ${commit}, same run`)
  out.push('')
  out.push('| workload | conns | base ops/s | sessiond ops/s | base CPU µs/op | sessiond CPU µs/op | change | base − floor | sessiond − floor |')
  out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|')
  out.push(`| healthz | 16 | ${n0(med('healthz', 16, 'base', 'ops'))} | ${n0(med('healthz', 16, 'sessiond', 'ops'))} | ` +
    `${f1(bhz)} | ${f1(hz)} | ${f1(hz - bhz)} | | |`)
  for (const op of ops) {
    for (const c of conns) {
      const s = med(op, c, 'sessiond', 'cpu')
      const b = med(op, c, 'base', 'cpu')
      const f = med(op, c, 'floor', 'cpu')
      if (Number.isNaN(b)) continue
      out.push(`| ${op} | ${c} | ${n0(med(op, c, 'base', 'ops'))} | ${n0(med(op, c, 'sessiond', 'ops'))} | ` +
        `${f1(b)} | ${f1(s)} | ${f1(s - b)} | ${f1(b - f)} | ${f1(s - f)} |`)
    }
  }
}
out.push('')
out.push('ceiling: the same DynamoDB calls sent by wrk straight to dynalite (bench/wrk/ceiling.lua;')
out.push('its PATCH is two calls, counted as one operation), the throughput issue 12 measures against.')
out.push('healthz: sessiond\'s GET /healthz CPU µs/op at 16 connections in this run (the front end')
out.push('alone, the unit of issue 12\'s CPU goals). A floor multiple above the goal means no server')
out.push('on these libraries meets that goal here, whatever its own code costs.')
out.push('')
out.push('Reproduce: `make bench-floor` (OPS, CONNS, ROUNDS, DURATION; see bench/floor.sh).')
console.log(out.join('\n'))
