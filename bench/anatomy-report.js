'use strict'
// bench/anatomy.sh's report: from `perf script` text of socket system calls
// (wrk, the server, dynalite), the hops of every lone request, in Markdown.
//
//   ANATOMY_SERVER_PIDS="PID ..." ANATOMY_DYNALITE_PID=PID \
//     node bench/anatomy-report.js OP PIN REV TARGET FILE [TARGET FILE ...]
//
// FILE: `perf script -F comm,pid,tid,cpu,time,event,trace`. Events count
// only from wrk and from the processes named (so another node or server
// on the machine is not taken for dynalite or the server).
//
// A request is the run of events: wrk writes; the server reads it; per
// DynamoDB call the server writes, dynalite reads and writes, the server
// reads; the server writes its answer; wrk reads it. Runs that do not
// follow that order (a retry, an event perf lost) are left out and counted.

const fs = require('node:fs')

const [op, pin, rev, ...pairs] = process.argv.slice(2)
const CALLS = op === 'patch' ? 2 : 1
const LINE = /^\s*(\S+)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$/
const SERVERS = new Set((process.env.ANATOMY_SERVER_PIDS || '').split(/\s+/).filter(Boolean))
const DYNALITE = process.env.ANATOMY_DYNALITE_PID || ''

// Who: W (wrk), N (dynalite), S (sessiond or the floor), by process.
function actor(comm, pid) {
  if (comm === 'wrk') return 'W'
  if (pid === DYNALITE) return 'N'
  if (SERVERS.has(pid)) return 'S'
  return null
}

function events(file) {
  const out = []
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = LINE.exec(line)
    if (!m) continue
    const who = actor(m[1], m[2])
    if (!who) continue
    const [, , , , , time, ev, rest] = m
    let dir
    if (ev.startsWith('syscalls:sys_exit_')) {
      const ret = BigInt('0x' + rest.trim().replace(/^0x/, ''))
      if (ret === 0n || ret >= 1n << 63n) continue // EOF or an error (EAGAIN)
      dir = 'in'
    } else {
      dir = 'out'
    }
    out.push({ us: Number(time) * 1e6, key: who + dir })
  }
  return out
}

// The expected keys of one request and the names of the hops between them.
function shape() {
  const keys = ['Wout', 'Sin']
  const hops = ['wrk → server', 'server: request']
  for (let i = 1; i <= CALLS; i++) {
    const call = CALLS > 1 ? ` ${i}` : ''
    keys.push('Sout', 'Nin', 'Nout', 'Sin')
    hops.push(`server → dynalite${call}`, `dynalite: call${call}`, `dynalite → server${call}`,
      i < CALLS ? `server: between calls` : 'server: answer')
  }
  keys.push('Sout', 'Win')
  hops.push('server → wrk')
  return { keys, hops }
}

const median = (all) => {
  const v = all.filter(Number.isFinite) // a rep that matched nothing has no hops
  if (!v.length) return NaN
  const s = [...v].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function anatomy(file, keys) {
  const ev = events(file)
  const hops = keys.slice(1).map(() => [])
  const totals = []
  let starts = 0
  for (let i = 0; i + keys.length <= ev.length; ) {
    if (ev[i].key === 'Wout') starts++
    let ok = true
    for (let k = 0; k < keys.length && ok; k++) ok = ev[i + k].key === keys[k]
    if (!ok) {
      i++
      continue
    }
    for (let k = 1; k < keys.length; k++) hops[k - 1].push(ev[i + k].us - ev[i + k - 1].us)
    totals.push(ev[i + keys.length - 1].us - ev[i].us)
    i += keys.length
  }
  return { n: totals.length, starts, total: median(totals), hops: hops.map(median) }
}

const { keys, hops } = shape()
const runs = []
for (let i = 0; i + 1 < pairs.length; i += 2) runs.push({ target: pairs[i], ...anatomy(pairs[i + 1], keys) })
const targets = [...new Set(runs.map((r) => r.target))]
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '–')
const sgn = (x) => (Number.isFinite(x) ? (x > 0 ? '+' : x < 0 ? '−' : '') + Math.abs(x).toFixed(0) : '–')
// Hop kinds: the server's own work, dynalite's, or a hand-over.
const kind = (h) => (h.startsWith('server:') ? 'server' : h.startsWith('dynalite:') ? 'dynalite' : 'hand-over')
const reps = targets.map((t) => runs.filter((r) => r.target === t))
const med = (t, f) => median(reps[targets.indexOf(t)].map(f))

const lines = []
lines.push(`# Anatomy of a lone ${op.toUpperCase()}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`, '')
lines.push(`One connection (wrk -c1), sessiond ${rev} and the floor (bench/floor.c) taking turns on one dynalite,`)
lines.push(`${runs.length / targets.length} rep(s) each; every rep traces 1 s of a 3 s run with \`perf record -a\` on the socket`)
lines.push('system calls of wrk, the server and dynalite. A hop is the time between two of those calls,')
lines.push('at the median over the requests of a rep; the tables give the median over reps.')
lines.push(`${pin === '1' ? 'Pinned: the server on CPU 1, wrk and dynalite on CPU 0.' : 'Not pinned: the scheduler places every process.'}`)
lines.push('Tracing slows every system call a little, alike for both servers: compare hops, not totals', 'with `make bench`.', '')
lines.push('| hop | kind | ' + targets.map((t) => `${t} µs`).join(' | ') + (targets.length === 2 ? ` | ${targets[0]} − ${targets[1]} |` : ' |'))
lines.push('|---|---|' + targets.map(() => '--:').join('|') + (targets.length === 2 ? '|--:|' : '|'))
const sums = { server: {}, dynalite: {}, 'hand-over': {} }
hops.forEach((h, k) => {
  const v = targets.map((t) => med(t, (r) => r.hops[k]))
  targets.forEach((t, j) => { sums[kind(h)][t] = (sums[kind(h)][t] || 0) + v[j] })
  lines.push(`| ${h} | ${kind(h)} | ${v.map(f0).join(' | ')}${targets.length === 2 ? ` | ${sgn(v[0] - v[1])} |` : ' |'}`)
})
for (const k of Object.keys(sums)) {
  const v = targets.map((t) => sums[k][t])
  lines.push(`| **all ${k} hops** | | ${v.map((x) => `**${f0(x)}**`).join(' | ')}${targets.length === 2 ? ` | **${sgn(v[0] - v[1])}** |` : ' |'}`)
}
const tot = targets.map((t) => med(t, (r) => r.total))
lines.push(`| **request, wrk's write to its read** | | ${tot.map((x) => `**${f0(x)}**`).join(' | ')}${targets.length === 2 ? ` | **${sgn(tot[0] - tot[1])}** |` : ' |'}`)
lines.push('', '### Each rep', '')
lines.push('| rep | target | requests matched | of started | request µs | ' + hops.map((h) => h).join(' | ') + ' |')
lines.push('|--:|---|--:|--:|--:|' + hops.map(() => '--:').join('|') + '|')
const count = {}
for (const r of runs) {
  count[r.target] = (count[r.target] || 0) + 1
  lines.push(`| ${count[r.target]} | ${r.target} | ${r.n} | ${r.starts} | ${f0(r.total)} | ${r.hops.map(f0).join(' | ')} |`)
}
lines.push('', 'Reproduce: `make bench-anatomy` (OP, REPS, PIN; see bench/anatomy.sh).')
console.log(lines.join('\n'))
