'use strict'
// Encryption at rest (api.md "Version 1.1 additions", config.md
// `encryption`): the stored sess is sealed and never holds the plaintext,
// a ciphertext moved to another item or altered does not open (500, and
// no data in the log), keys are rotated across two daemons that share a
// table without losing a session, SIGHUP adds keys and a bad key file
// (world-readable, a FIFO, the wrong length) is refused with "FILE:
// message" at start (-t, exit 1) and at SIGHUP (the old keys stay), and
// encryption.required makes a plain sess count as absent.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { startDaemon, runDaemon, renderSettings, defaultSettings, merge, uniqueTable } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const ddb = ddbLib.client()
const now = () => Math.floor(Date.now() / 1000)
const CANARY = 'canary-' + crypto.randomBytes(8).toString('hex')
const SEALED = /^sessiond:enc:1:([A-Za-z0-9._-]+):[A-Za-z0-9_-]+$/

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-enc-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

// A key file of 32 random bytes in hex, mode 0600 unless told.
function keyFile(name, { mode = 0o600, text } = {}) {
  const f = path.join(dir, name)
  fs.rmSync(f, { force: true })
  fs.writeFileSync(f, text !== undefined ? text : crypto.randomBytes(32).toString('hex') + '\n', { mode })
  fs.chmodSync(f, mode)
  return f
}

async function call(d, method, p, body, headers = {}) {
  const res = await fetch(d.url + p, {
    method,
    headers: body !== undefined ? { 'Content-Type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', ...headers } : headers,
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15000),
  })
  const text = await res.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: res.status, json, text, etag: res.headers.get('etag') }
}

const stored = async (d, id) => ddb.getItem(d.table, ddb.key(id))

async function until(check, ms = 10000) {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${check}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// SIGHUP, then waits for the line that says the reload is over.
async function hup(d, done) {
  const before = d.stderr().length
  d.child.kill('SIGHUP')
  await until(() => done.test(d.stderr().slice(before)))
  return d.stderr().slice(before)
}

function rewriteKeys(d, keys, extra = '') {
  const text = fs.readFileSync(d.file, 'utf8').replace(/encryption = \{[^}]*\};/, `encryption = {\n  keys = [${keys.map((k) => JSON.stringify(k)).join(', ')}];\n${extra}};`)
  fs.writeFileSync(d.file, text)
}

async function metrics(d) {
  return (await fetch(d.url + '/metrics')).text()
}

describe('encryption at rest', () => {
  let d
  let k1
  before(async () => {
    k1 = keyFile('k1.key')
    d = await startDaemon({ encryption: { keys: [`k1:${k1}`] } })
  })
  after(async () => {
    if (d) assert.equal(await d.stop(), 0)
  })

  it('round-trips every endpoint while the stored sess never holds the plaintext', async () => {
    const c = await call(d, 'POST', '/v1/sessions', { data: { user: CANARY, n: 1 } })
    assert.equal(c.status, 201)
    const id = c.json.id
    let item = await stored(d, id)
    assert.match(item.sess.S, SEALED)
    assert.equal(item.sess.S.match(SEALED)[1], 'k1')
    assert.ok(!item.sess.S.includes(CANARY))
    assert.equal(item.expires.N, String(c.json.expires), 'expires stays plain for TTL and the reaper')
    assert.equal(item.version.N, '1')
    assert.equal(item.type.S, 'connect-session')

    const g = await call(d, 'GET', `/v1/sessions/${id}`)
    assert.equal(g.status, 200)
    assert.deepEqual(g.json.data, { user: CANARY, n: 1 })

    const p = await call(d, 'PATCH', `/v1/sessions/${id}`, { n: 2 })
    assert.equal(p.status, 200)
    assert.deepEqual(p.json.data, { user: CANARY, n: 2 })
    const u = await call(d, 'PUT', `/v1/sessions/${id}`, { data: { user: CANARY, n: 3 } }, { 'If-Match': p.etag })
    assert.equal(u.status, 200)
    assert.deepEqual(u.json.data, { user: CANARY, n: 3 })
    const t = await call(d, 'POST', `/v1/sessions/${id}/touch`, { ttl: 500 })
    assert.equal(t.status, 200)
    item = await stored(d, id)
    assert.match(item.sess.S, SEALED)
    assert.ok(!item.sess.S.includes(CANARY))
    assert.equal((await call(d, 'GET', `/v1/sessions/${id}`)).json.data.n, 3)

    // Two writes of the same data seal with fresh nonces.
    const again = await call(d, 'PUT', `/v1/sessions/${id}`, { data: { user: CANARY, n: 3 } })
    assert.equal(again.status, 200)
    assert.notEqual((await stored(d, id)).sess.S, item.sess.S)

    const m = await metrics(d)
    assert.match(m, /^sessiond_encryption_key_info\{key="k1",role="encrypt"\} 1$/m)
    assert.match(m, /^sessiond_encryption_reads_total\{key="k1"\} [1-9]\d*$/m)
    assert.match(m, /^sessiond_encryption_writes_total\{key="k1"\} [1-9]\d*$/m)
  })

  it('a ciphertext copied to another item does not decrypt (500), and PATCH leaves it be', async () => {
    const a = await call(d, 'PUT', '/v1/sessions/enc-copy-a', { data: { secret: CANARY } })
    assert.equal(a.status, 201)
    const src = await stored(d, 'enc-copy-a')
    const copy = { ...src, id: { S: 'sess:enc-copy-b' } }
    await ddb.putItem(d.table, copy)
    const before = d.stderr().length
    const g = await call(d, 'GET', '/v1/sessions/enc-copy-b')
    assert.equal(g.status, 500)
    assert.ok(!g.text.includes(CANARY))
    const p = await call(d, 'PATCH', '/v1/sessions/enc-copy-b', { more: 1 })
    assert.equal(p.status, 500)
    assert.deepEqual(await stored(d, 'enc-copy-b'), copy, 'the PATCH did not write')
    const log = d.stderr().slice(before)
    assert.match(log, /key id "k1": the stored session does not decrypt/)
    assert.match(log, /session sha256:[0-9a-f]{16}/)
    assert.ok(!log.includes('enc-copy-b'), 'the log names a hash of the id, not the id')
    assert.ok(!log.includes(CANARY))
    // The original still opens.
    assert.equal((await call(d, 'GET', '/v1/sessions/enc-copy-a')).status, 200)
    // A PUT without If-Match replaces the undecryptable item by design.
    const put = await call(d, 'PUT', '/v1/sessions/enc-copy-b', { data: { fresh: true } })
    assert.equal(put.status, 200)
    assert.deepEqual((await call(d, 'GET', '/v1/sessions/enc-copy-b')).json.data, { fresh: true })
  })

  it('a tampered tag, an unknown key id or a truncated text is 500 with no data in the log', async () => {
    const r = await call(d, 'PUT', '/v1/sessions/enc-tamper', { data: { secret: CANARY } })
    assert.equal(r.status, 201)
    const item = await stored(d, 'enc-tamper')
    const text = item.sess.S
    const last = text[text.length - 2]
    const flipped = text.slice(0, -2) + (last === 'A' ? 'B' : 'A') + text.slice(-1)
    const before = d.stderr().length
    for (const bad of [flipped, text.replace(':k1:', ':k9:'), text.slice(0, 40), 'sessiond:enc:2:k1:AAAA']) {
      await ddb.putItem(d.table, { ...item, sess: { S: bad } })
      const g = await call(d, 'GET', '/v1/sessions/enc-tamper')
      assert.equal(g.status, 500, bad)
      assert.equal(g.json.status, 500)
      assert.ok(!g.text.includes(CANARY))
    }
    const log = d.stderr().slice(before)
    assert.match(log, /does not decrypt: does not authenticate/)
    assert.match(log, /key id "k9": the stored session does not decrypt: unknown key id/)
    assert.match(log, /malformed sealed text/)
    assert.ok(!d.stderr().includes(CANARY), 'the canary never reaches the log')
    const m = await metrics(d)
    assert.match(m, /^sessiond_encryption_decrypt_failures_total\{reason="bad_tag"\} [1-9]\d*$/m)
    assert.match(m, /^sessiond_encryption_decrypt_failures_total\{reason="unknown_key"\} [1-9]\d*$/m)
    assert.match(m, /^sessiond_encryption_decrypt_failures_total\{reason="malformed"\} [1-9]\d*$/m)
  })

  it('reads a plain sess as before when not required (the migration path), and seals it on the next write', async () => {
    await ddb.putItem(d.table, ddbLib.sessionItem('enc-plain', { data: { old: true }, expires: now() + 600 }))
    const g = await call(d, 'GET', '/v1/sessions/enc-plain')
    assert.equal(g.status, 200)
    assert.deepEqual(g.json.data, { old: true })
    assert.match(await metrics(d), /^sessiond_encryption_plain_reads_total\{absent="false"\} [1-9]\d*$/m)
    const p = await call(d, 'PATCH', '/v1/sessions/enc-plain', { more: 1 })
    assert.equal(p.status, 200)
    assert.match((await stored(d, 'enc-plain')).sess.S, SEALED)
  })

  it('SIGHUP adds a key; a world-readable, FIFO or wrong-length key file keeps the old keys', { timeout: 30000 }, async () => {
    const w = await call(d, 'PUT', '/v1/sessions/enc-hup', { data: { v: 1 } })
    assert.equal(w.status, 201)
    const bad = [
      [keyFile('hup-world.key', { mode: 0o644 }), /hup-world\.key: the key file may be read or written by group or others \(mode 0644\); run: chmod 600 \S*hup-world\.key/],
      [keyFile('hup-short.key', { text: 'abcd\n' }), /hup-short\.key: a key file must hold 64 hex digits/],
      [path.join(dir, 'hup-fifo.key'), /hup-fifo\.key: cannot read the key file: is a FIFO, not a regular file/],
    ]
    execFileSync('mkfifo', ['-m', '600', bad[2][0]])
    for (const [file, message] of bad) {
      rewriteKeys(d, [`k2:${file}`, `k1:${k1}`])
      const log = await hup(d, /SIGHUP: .*keeping the current settings/)
      assert.match(log, message)
      // Still k1 alone: writes seal under k1.
      assert.equal((await call(d, 'PUT', '/v1/sessions/enc-hup', { data: { v: 2 } })).status, 200)
      assert.equal((await stored(d, 'enc-hup')).sess.S.match(SEALED)[1], 'k1')
    }
    const k2 = keyFile('hup-k2.key')
    rewriteKeys(d, [`k2:${k2}`, `k1:${k1}`])
    await hup(d, /encryption: 2 key\(s\), the first encrypts: k2:/)
    assert.equal((await call(d, 'PUT', '/v1/sessions/enc-hup', { data: { v: 3 } })).status, 200)
    assert.equal((await stored(d, 'enc-hup')).sess.S.match(SEALED)[1], 'k2')
    assert.deepEqual((await call(d, 'GET', '/v1/sessions/enc-hup')).json.data, { v: 3 })
    assert.match(await metrics(d), /^sessiond_encryption_key_info\{key="k1",role="decrypt"\} 1$/m)
  })
})

describe('key rotation across two daemons sharing a table', () => {
  it('adds k2 second, then first; both daemons read everything and nothing is lost', { timeout: 60000 }, async () => {
    const r1 = keyFile('rot-k1.key')
    const r2 = keyFile('rot-k2.key')
    const table = uniqueTable('enc')
    const a = await startDaemon({ dynamodb: { table }, encryption: { keys: [`k1:${r1}`] } })
    const b = await startDaemon({ dynamodb: { table }, encryption: { keys: [`k1:${r1}`] } })
    const ids = []
    const write = async (dm, tag) => {
      const r = await call(dm, 'POST', '/v1/sessions', { data: { tag } })
      assert.equal(r.status, 201)
      ids.push([r.json.id, tag])
    }
    const readAll = async () => {
      for (const dm of [a, b])
        for (const [id, tag] of ids) {
          const g = await call(dm, 'GET', `/v1/sessions/${id}`)
          assert.equal(g.status, 200, `${tag} through ${dm === a ? 'A' : 'B'}`)
          assert.equal(g.json.data.tag, tag)
        }
    }
    try {
      await write(a, 'a-k1')
      await write(b, 'b-k1')
      // Step 1: k2 second on both: every daemon can read it, none writes it yet.
      for (const dm of [a, b]) {
        rewriteKeys(dm, [`k1:${r1}`, `k2:${r2}`])
        await hup(dm, /encryption: 2 key\(s\), the first encrypts: k1:/)
      }
      await write(a, 'a-step1')
      await readAll()
      // Step 2: k2 first on A only (B has not reloaded yet): B reads A's k2 items.
      rewriteKeys(a, [`k2:${r2}`, `k1:${r1}`])
      await hup(a, /encryption: 2 key\(s\), the first encrypts: k2:/)
      await write(a, 'a-k2')
      assert.equal((await stored(a, ids.at(-1)[0])).sess.S.match(SEALED)[1], 'k2')
      await write(b, 'b-still-k1')
      await readAll()
      rewriteKeys(b, [`k2:${r2}`, `k1:${r1}`])
      await hup(b, /encryption: 2 key\(s\), the first encrypts: k2:/)
      await write(b, 'b-k2')
      assert.equal((await stored(b, ids.at(-1)[0])).sess.S.match(SEALED)[1], 'k2')
      // Old items are re-encrypted under k2 when next written.
      const [oldId] = ids[0]
      assert.equal((await call(b, 'PATCH', `/v1/sessions/${oldId}`, { touched: true })).status, 200)
      assert.equal((await stored(b, oldId)).sess.S.match(SEALED)[1], 'k2')
      await readAll()
      assert.match(await metrics(b), /^sessiond_encryption_reads_total\{key="k2"\} [1-9]\d*$/m)
    } finally {
      assert.equal(await a.stop(), 0)
      assert.equal(await b.stop(), 0)
    }
  })
})

describe('encryption.required', () => {
  it('makes a plain sess count as absent for GET, PATCH, touch and PUT', { timeout: 30000 }, async () => {
    const k = keyFile('req.key')
    const d = await startDaemon({ encryption: { keys: [`k1:${k}`], required: true } })
    try {
      const plain = ddbLib.sessionItem('enc-req', { data: { old: CANARY }, expires: now() + 600, version: 4 })
      await ddb.putItem(d.table, plain)
      assert.equal((await call(d, 'GET', '/v1/sessions/enc-req')).status, 404)
      assert.equal((await call(d, 'PATCH', '/v1/sessions/enc-req', { a: 1 })).status, 404)
      assert.equal((await call(d, 'POST', '/v1/sessions/enc-req/touch', {})).status, 404)
      assert.deepEqual(await stored(d, 'enc-req'), plain, 'neither PATCH nor touch wrote')
      assert.equal((await call(d, 'PUT', '/v1/sessions/enc-req', { data: { a: 1 } }, { 'If-None-Match': '*' })).status, 201)
      // Absent, so a PUT creates it afresh: version 1, sealed.
      await ddb.putItem(d.table, plain)
      const p = await call(d, 'PUT', '/v1/sessions/enc-req', { data: { fresh: 1 } })
      assert.equal(p.status, 201)
      assert.equal(p.json.version, 1)
      assert.match((await stored(d, 'enc-req')).sess.S, SEALED)
      assert.deepEqual((await call(d, 'GET', '/v1/sessions/enc-req')).json.data, { fresh: 1 })
      assert.equal((await call(d, 'POST', '/v1/sessions/enc-req/touch', {})).status, 200)
      assert.match(await metrics(d), /^sessiond_encryption_plain_reads_total\{absent="true"\} [1-9]\d*$/m)
      assert.ok(!d.stderr().includes(CANARY))
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })
})

describe('key files at start-up', () => {
  const text = (keys, extra = {}) => renderSettings(merge(defaultSettings(), { encryption: { keys, ...extra } }))

  it('accepts a good key file with -t', async () => {
    const r = await runDaemon(['-t'], text([`k1:${keyFile('ok.key')}`]))
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /configuration OK/)
  })

  for (const [name, make, message] of [
    ['world-readable', () => keyFile('world.key', { mode: 0o644 }), /^\S*world\.key: the key file may be read or written by group or others \(mode 0644\); run: chmod 600 \S*world\.key$/m],
    ['group-readable', () => keyFile('group.key', { mode: 0o640 }), /^\S*group\.key: .*\(mode 0640\); run: chmod 600/m],
    ['a FIFO', () => {
      const f = path.join(dir, 'fifo.key')
      fs.rmSync(f, { force: true })
      execFileSync('mkfifo', ['-m', '600', f])
      return f
    }, /^\S*fifo\.key: cannot read the key file: is a FIFO, not a regular file$/m],
    ['too short', () => keyFile('short.key', { text: 'ab'.repeat(31) + '\n' }), /^\S*short\.key: a key file must hold 64 hex digits \(32 random bytes: openssl rand -hex 32\), not 62 characters$/m],
    ['too long', () => keyFile('long.key', { text: 'ab'.repeat(33) }), /^\S*long\.key: a key file must hold 64 hex digits .*not 66 characters$/m],
    ['not hex', () => keyFile('nothex.key', { text: 'zz'.repeat(32) }), /^\S*nothex\.key: a key file must hold hex digits only/m],
    ['missing', () => path.join(dir, 'missing.key'), /^\S*missing\.key: cannot read the key file: cannot open: No such file or directory$/m],
  ]) {
    it(`refuses a key file that is ${name} (-t and start: exit 1, FILE: message)`, async () => {
      const f = make()
      for (const args of [['-t'], []]) {
        const r = await runDaemon(args, text([`k1:${f}`]))
        assert.equal(r.code, 1, r.stderr)
        assert.match(r.stderr, message)
      }
    })
  }

  it('refuses bad key lists with FILE:LINE: message', async () => {
    const k = keyFile('list.key')
    for (const [keys, extra, message] of [
      [['nokeyid'], {}, /:\d+: encryption.keys\[0\] must be "id:path"/],
      [['bad id:' + k], {}, /:\d+: encryption.keys\[0\] has a key id that is not 1 to 64 of/],
      [['k1:'], {}, /:\d+: encryption.keys\[0\] has no file after the key id/],
      [[`k1:${k}`, `k1:${k}`], {}, /:\d+: encryption.keys: key id "k1" is listed twice/],
      [[], { required: true }, /:\d+: encryption.required needs encryption.keys/],
    ]) {
      const r = await runDaemon(['-t'], text(keys, extra))
      assert.equal(r.code, 1, JSON.stringify(keys))
      assert.match(r.stderr, message)
    }
  })
})

describe('reaper.rekey_per_second', () => {
  it('rewrites live sessions still under a retired key, keeping data and version', { timeout: 60000 }, async () => {
    const r1 = keyFile('rekey-k1.key')
    const r2 = keyFile('rekey-k2.key')
    const d = await startDaemon({
      encryption: { keys: [`k1:${r1}`] },
      reaper: { enabled: true, interval: 1, rekey_per_second: 50 },
    })
    try {
      const ids = []
      for (let i = 0; i < 5; i++) {
        const r = await call(d, 'POST', '/v1/sessions', { data: { i } })
        assert.equal(r.status, 201)
        ids.push(r.json.id)
      }
      assert.equal((await call(d, 'PATCH', `/v1/sessions/${ids[0]}`, { i: 0, patched: true })).status, 200)
      // An item under a key nobody has is left alone (and counted).
      const lost = await stored(d, ids[4])
      await ddb.putItem(d.table, { ...lost, sess: { S: lost.sess.S.replace(':k1:', ':k0:') } })
      rewriteKeys(d, [`k2:${r2}`, `k1:${r1}`])
      await hup(d, /encryption: 2 key\(s\), the first encrypts: k2:/)
      await until(async () => {
        for (const id of ids.slice(0, 4)) if ((await stored(d, id)).sess.S.match(SEALED)[1] !== 'k2') return false
        return true
      }, 30000)
      for (const [n, id] of ids.slice(0, 4).entries()) {
        const g = await call(d, 'GET', `/v1/sessions/${id}`)
        assert.equal(g.status, 200)
        assert.equal(g.json.data.i, n)
        assert.equal(g.json.version, n === 0 ? 2 : 1, 'a rewrite is not a new version')
      }
      assert.equal((await stored(d, ids[4])).sess.S.match(SEALED)[1], 'k0')
      const m = await metrics(d)
      assert.match(m, /^sessiond_reaper_rekeyed_total [4-9]$/m)
      assert.match(m, /^sessiond_reaper_rekey_skipped_total [1-9]\d*$/m)
      assert.match(d.stderr(), /reaper: rewrote \d+ session\(s\) under key id "k2"/)
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })
})
