'use strict'
// Test harness for the end-to-end suite: writes libconfig settings files,
// starts the real sessiond binary against the test DynamoDB engine (dynalite,
// SESSIOND_TEST_DDB_ENDPOINT), waits for its "listening on" line and stops
// it again. Also small HTTP helpers shared by the test files: fetch wrappers
// and raw-socket exchanges for hostile bytes (one answer, or a pipeline).
//
// Environment:
//   SESSIOND_TEST_DDB_ENDPOINT  the dynalite endpoint (required for daemons)
//   SESSIOND_BIN                the binary (default <repo>/build/sessiond)
//   SESSIOND_TEST_VERBOSE=1     print each daemon's stderr when it stops

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')

const ROOT = path.resolve(__dirname, '..', '..', '..')
const START_TIMEOUT_MS = 20000
const STOP_TIMEOUT_MS = 10000
const STDERR_KEEP = 4 * 1024 * 1024

const ACCESS_KEY_ID = 'AKIDEXAMPLE'
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'

function bin() {
  const v = process.env.SESSIOND_BIN
  return v ? path.resolve(process.cwd(), v) : path.join(ROOT, 'build', 'sessiond')
}

function ddbEndpoint() {
  const e = process.env.SESSIOND_TEST_DDB_ENDPOINT
  if (!e) throw new Error('SESSIOND_TEST_DDB_ENDPOINT is not set (start one with scripts/dynalite.sh start DIR)')
  return e
}

let tableSeq = 0
// A table name no other daemon, test file or run uses (dynalite: 3..255
// characters of [A-Za-z0-9_.-]).
function uniqueTable(tag = 't') {
  return `sessiond-${tag}-${process.pid}-${Date.now().toString(36)}-${++tableSeq}-${crypto.randomBytes(3).toString('hex')}`
}

// ---------------------------------------------------------------------------
// Settings

function defaultSettings() {
  return {
    listen: { port: 0 },
    dynamodb: {
      endpoint: process.env.SESSIOND_TEST_DDB_ENDPOINT || '',
      create_table: true,
      table: uniqueTable(),
    },
    credentials: {
      access_key_id: ACCESS_KEY_ID,
      secret_access_key: SECRET_ACCESS_KEY,
    },
    reaper: { enabled: false },
    log: { level: 'debug' },
  }
}

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Raw)
}

// Deep-merges over into a copy of base: groups merge, anything else
// (arrays included) replaces, null removes the setting, undefined is ignored.
function merge(base, over) {
  const out = { ...base }
  for (const [k, v] of Object.entries(over || {})) {
    if (v === undefined) continue
    if (v === null) delete out[k]
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = merge(out[k], v)
    else out[k] = v
  }
  return out
}

// raw('text') puts text into the settings file verbatim (for wrong types).
class Raw {
  constructor(text) {
    this.text = text
  }
}
const raw = (text) => new Raw(text)

function renderValue(v, indent) {
  if (v instanceof Raw) return v.text
  if (typeof v === 'string') {
    return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t') + '"'
  }
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} to a settings file`)
    if (Number.isInteger(v)) return Math.abs(v) > 2147483647 ? `${v}L` : String(v)
    const s = String(v)
    return /[.eE]/.test(s) ? s : s + '.0'
  }
  if (Array.isArray(v)) return '[' + v.map((x) => renderValue(x, indent)).join(', ') + ']'
  if (isPlainObject(v)) {
    const pad = '  '.repeat(indent + 1)
    const body = Object.entries(v).map(([k, x]) => `${pad}${k} = ${renderValue(x, indent + 1)};\n`)
    return '{\n' + body.join('') + '  '.repeat(indent) + '}'
  }
  throw new Error(`cannot write ${typeof v} to a settings file`)
}

// The libconfig text of a settings object (top-level keys are settings or
// groups). Each setting sits on a line of its own.
function renderSettings(settings) {
  return Object.entries(settings)
    .map(([k, v]) => `${k} = ${renderValue(v, 0)};\n`)
    .join('')
}

// 1-based number of the first line of text that contains needle.
function lineOf(text, needle) {
  const i = text.split('\n').findIndex((l) => l.includes(needle))
  if (i < 0) throw new Error(`"${needle}" is not in the settings text`)
  return i + 1
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-it-'))
}

// ---------------------------------------------------------------------------
// Processes

const live = new Set()
process.on('exit', () => {
  // Last resort: never leave a daemon behind, whatever happened to a test.
  for (const child of live) {
    try {
      child.kill('SIGKILL')
    } catch {}
  }
})

// The first match of re in text(), polled until it appears or ms pass
// (then null). A request's log line is written after its answer, at the
// end of the worker's loop turn, so it may trail the answer a little.
async function waitMatch(text, re, ms) {
  const end = Date.now() + ms
  for (;;) {
    const m = re.exec(text())
    if (m || Date.now() >= end) return m
    await new Promise((r) => setTimeout(r, 5))
  }
}

function tail(s, n = 4000) {
  return s.length > n ? '…' + s.slice(-n) : s
}

// Starts a daemon on the settings defaults merged with overrides. Resolves
// with { url, host, port, table, settings, file, stderr(), stop(), child }
// once it printed "listening on http://HOST:PORT"; rejects with the stderr
// collected so far if it exits first or takes longer than 20 s.
function startDaemon(overrides = {}, { env } = {}) {
  ddbEndpoint()
  const settings = merge(defaultSettings(), overrides)
  const dir = tempDir()
  const file = path.join(dir, 'sessiond.conf')
  fs.writeFileSync(file, renderSettings(settings))
  const child = spawn(bin(), ['-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(env || {}) },
  })
  live.add(child)

  let err = ''
  let out = ''
  let exitCode = null
  let exitSignal = null
  let exited = false
  const exitWaiters = []
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (s) => {
    out = (out + s).slice(-STDERR_KEEP)
  })

  const exitedP = new Promise((resolve) => {
    const onGone = (code, signal) => {
      if (exited) return
      exited = true
      exitCode = code
      exitSignal = signal
      live.delete(child)
      resolve()
      for (const w of exitWaiters) w()
    }
    // 'close', not 'exit': by then every byte of stderr has been read.
    child.on('close', onGone)
    // Could not be spawned at all (no such binary): no 'close' may follow.
    child.on('error', () => {
      if (child.pid === undefined) onGone(null, null)
    })
  })

  let stopping = null
  const stop = () => {
    if (stopping) return stopping
    stopping = (async () => {
      if (!exited) {
        try {
          child.kill('SIGTERM')
        } catch {}
        const t = setTimeout(() => {
          try {
            child.kill('SIGKILL')
          } catch {}
        }, STOP_TIMEOUT_MS)
        await exitedP
        clearTimeout(t)
      }
      if (process.env.SESSIOND_TEST_VERBOSE) {
        process.stderr.write(`--- sessiond (${settings.dynamodb.table}) stderr ---\n${err}\n---\n`)
      }
      fs.rmSync(dir, { recursive: true, force: true })
      return exitCode === null ? `signal ${exitSignal}` : exitCode
    })()
    return stopping
  }

  return new Promise((resolve, reject) => {
    let done = false
    const fail = (why) => {
      if (done) return
      done = true
      clearTimeout(timer)
      stop().then(() =>
        reject(new Error(`${why}\nbinary: ${bin()}\nsettings:\n${renderSettings(settings)}stderr:\n${tail(err)}\nstdout:\n${tail(out)}`))
      )
    }
    const timer = setTimeout(() => fail(`sessiond did not print "listening on" within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    child.on('error', (e) => fail(`cannot run sessiond: ${e.message}`))
    exitWaiters.push(() => fail(`sessiond exited (code ${exitCode}, signal ${exitSignal}) before listening`))
    child.stderr.on('data', (s) => {
      err = (err + s).slice(-STDERR_KEEP)
      if (done) return
      const m = /listening on http:\/\/(\S+):(\d+)/.exec(err)
      if (!m) return
      done = true
      clearTimeout(timer)
      const host = m[1]
      const port = Number(m[2])
      resolve({
        url: `http://${host}:${port}`,
        host: host.replace(/^\[|\]$/g, ''),
        port,
        table: settings.dynamodb.table,
        settings,
        file,
        child,
        stderr: () => err,
        // Resolves with the first match of re in stderr (from offset since)
        // once there is one, or null after ms: for lines that trail an
        // answer, and, with a short ms, for lines that must not come.
        logged: (re, ms = 5000, since = 0) => waitMatch(() => err.slice(since), re, ms),
        stdout: () => out,
        exited: () => exited,
        // Resolves with the exit code (or "signal X") once it has exited by
        // itself; sends nothing.
        wait: () => exitedP.then(() => (exitCode === null ? `signal ${exitSignal}` : exitCode)),
        stop,
      })
    })
  })
}

// Runs the binary with args to completion. When settingsText is a string it
// is written to a temporary file and "-c FILE" is appended to args (unless
// args already hold the placeholder "{FILE}", which is replaced). Resolves
// with { code, signal, stdout, stderr, file }. Kills it after timeoutMs.
function runDaemon(args = [], settingsText, { env, timeoutMs = 20000 } = {}) {
  let dir = null
  let file = null
  args = [...args]
  if (typeof settingsText === 'string') {
    dir = tempDir()
    file = path.join(dir, 'sessiond.conf')
    fs.writeFileSync(file, settingsText)
    if (args.includes('{FILE}')) args = args.map((a) => (a === '{FILE}' ? file : a))
    else args.push('-c', file)
  }
  return new Promise((resolve, reject) => {
    const child = spawn(bin(), args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env || process.env,
    })
    live.add(child)
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (s) => (stdout += s))
    child.stderr.on('data', (s) => (stderr += s))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      live.delete(child)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      live.delete(child)
      if (dir) fs.rmSync(dir, { recursive: true, force: true })
      if (timedOut) {
        reject(new Error(`sessiond ${args.join(' ')} did not exit within ${timeoutMs} ms\nstderr:\n${tail(stderr)}\nstdout:\n${tail(stdout)}`))
        return
      }
      resolve({ code, signal, stdout, stderr, file })
    })
  })
}

// ---------------------------------------------------------------------------
// HTTP helpers

// fetch wrapper: req(base, method, path, { json, body, headers, type })
// json is serialized (Content-Type application/json unless type says
// otherwise); body is sent as is. Resolves with
// { status, headers (Headers), text, json (parsed or undefined) }.
async function request(base, method, p, opts = {}) {
  const headers = { ...(opts.headers || {}) }
  let body
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json)
    if (opts.type !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = opts.type || 'application/json'
    }
  } else if (opts.body !== undefined) {
    body = opts.body
    if (opts.type) headers['Content-Type'] = opts.type
  }
  const res = await fetch(base + p, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs || 20000) })
  const text = await res.text()
  let parsed
  try {
    parsed = text.length ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: res.status, headers: res.headers, text, json: parsed, method, path: p, sent: body }
}

// A one-line description of an exchange for assertion messages.
function describeExchange(r) {
  const hs = []
  for (const [k, v] of r.headers) hs.push(`${k}: ${v}`)
  const sent = r.sent === undefined ? '' : ` body=${tail(String(r.sent), 300)}`
  return `${r.method} ${r.path}${sent} -> ${r.status} [${hs.join('; ')}] ${tail(r.text || '', 600)}`
}

// ---------------------------------------------------------------------------
// Raw exchanges on a socket, for bytes no HTTP client would send

// Sends chunks (string = latin1, or Buffer; or an array of them, written
// pauseMs apart) on a fresh TCP connection and collects what comes back.
// Settles when the peer closes (closed = true), waitMs after ready(bytes so
// far) first holds (closed = false), or after totalMs. Resolves with
// { buf, closed, closedBy ('end', 'close' or the socket error's code), ms }.
function rawTalk(port, chunks, { host = '127.0.0.1', ready, waitMs, totalMs, pauseMs }) {
  if (!Array.isArray(chunks)) chunks = [chunks]
  const t0 = Date.now()
  return new Promise((resolve) => {
    const sock = net.connect({ host, port })
    let buf = Buffer.alloc(0)
    let finished = false
    let waitTimer = null
    let closedBy = null
    const finish = (closed) => {
      if (finished) return
      finished = true
      clearTimeout(totalTimer)
      clearTimeout(waitTimer)
      sock.destroy()
      resolve({ buf, closed, closedBy, ms: Date.now() - t0 })
    }
    const totalTimer = setTimeout(() => finish(false), totalMs)
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (!waitTimer && ready(buf)) waitTimer = setTimeout(() => finish(false), waitMs)
    })
    for (const ev of ['end', 'close']) {
      sock.on(ev, () => {
        closedBy = closedBy || ev
        finish(true)
      })
    }
    sock.on('error', (e) => {
      // A reset after the answer (the server did not read our body) still
      // counts as the server closing the connection.
      closedBy = closedBy || e.code || 'error'
      finish(true)
    })
    sock.on('connect', async () => {
      for (let i = 0; i < chunks.length; i++) {
        if (finished || sock.destroyed) return
        const c = chunks[i]
        sock.write(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'))
        if (i + 1 < chunks.length) await new Promise((r) => setTimeout(r, pauseMs))
      }
    })
  })
}

// Sends bytes as rawTalk does and reads the first answer. Resolves with
// { raw, statusLine, status, headers (lower-cased names → array of values),
// body, interim, closed, closedBy } once the peer closed the connection, or
// at most waitMs after the first complete response head (closed is then
// false).
async function rawExchange(port, chunks, { host = '127.0.0.1', waitMs = 3000, totalMs = 10000, pauseMs = 50 } = {}) {
  const ready = (buf) => buf.indexOf('\r\n\r\n') >= 0
  const r = await rawTalk(port, chunks, { host, ready, waitMs, totalMs, pauseMs })
  return { ...parseResponse(r.buf), closed: r.closed, closedBy: r.closedBy }
}

// The status line and header fields of one response head (latin1 text
// without its final CRLF CRLF): { statusLine, status (0 when the line does
// not start like a status line), headers (lower-cased names → array of
// values) }.
function parseHead(head) {
  const lines = head.split('\r\n')
  const m = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(lines[0] || '')
  const headers = {}
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':')
    if (i <= 0) continue
    const k = l.slice(0, i).trim().toLowerCase()
    ;(headers[k] = headers[k] || []).push(l.slice(i + 1).trim())
  }
  return { statusLine: lines[0] || '', status: m ? Number(m[1]) : 0, headers }
}

// Parses the first HTTP response in buf (interim 1xx responses are kept in
// interim[] and skipped); its body is every byte after the head.
function parseResponse(buf) {
  const out = { raw: buf.toString('latin1'), statusLine: '', status: 0, headers: {}, body: '', interim: [] }
  let rest = out.raw
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    const h = parseHead(end >= 0 ? rest.slice(0, end) : rest)
    if (h.status >= 100 && h.status < 200 && end >= 0) {
      out.interim.push(h.statusLine)
      rest = rest.slice(end + 4)
      continue
    }
    out.statusLine = h.statusLine
    out.status = h.status
    out.headers = h.headers
    out.body = end >= 0 ? rest.slice(end + 4) : ''
    return out
  }
}

// Splits buf into complete responses, their bodies delimited by
// Content-Length (pipelined answers follow each other directly, "...}HTTP/1.1
// 200"); a HEAD answer, 1xx, 204 and 304 have none. methods[i] is the method
// of the i-th request, so HEAD answers are framed right. Returns
// { responses: [{ statusLine, status, headers, body, head, interim }],
// rest (latin1 bytes after the last complete response, or from an unframed
// one on) }.
function parseResponses(buf, methods = []) {
  const responses = []
  let rest = buf
  const interim = []
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) break
    const head = rest.subarray(0, end).toString('latin1')
    const { statusLine, status, headers } = parseHead(head)
    if (!/^HTTP\/\d\.\d \d{3}(?: .*)?$/.test(statusLine)) break // not a response: leave it in rest
    if (status >= 100 && status < 200) {
      interim.push(statusLine)
      rest = rest.subarray(end + 4)
      continue
    }
    const method = methods[responses.length] || 'GET'
    let len = 0
    if (method !== 'HEAD' && status !== 204 && status !== 304) {
      const cl = headers['content-length']
      if (!cl || cl.length !== 1 || !/^\d+$/.test(cl[0])) break // unframed: leave it in rest
      len = Number(cl[0])
    }
    if (rest.length < end + 4 + len) break // incomplete
    const body = rest.subarray(end + 4, end + 4 + len).toString('latin1')
    responses.push({ statusLine, status, headers, body, head, interim: interim.splice(0) })
    rest = rest.subarray(end + 4 + len)
  }
  return { responses, rest: rest.toString('latin1') }
}

module.exports = {
  ROOT,
  ACCESS_KEY_ID,
  SECRET_ACCESS_KEY,
  bin,
  ddbEndpoint,
  uniqueTable,
  defaultSettings,
  merge,
  raw,
  renderSettings,
  lineOf,
  startDaemon,
  runDaemon,
  request,
  describeExchange,
  rawTalk,
  rawExchange,
  parseResponse,
  parseResponses,
}
