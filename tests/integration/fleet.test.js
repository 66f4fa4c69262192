'use strict'
// A fleet: three daemons on one table, the clients spread round-robin across
// them as a load balancer spreads them. sessiond keeps no session state of
// its own, so the fleet must behave as one service: merge patches sent to
// different daemons all survive, the reaper lease gives one pass (and one
// table scan) per interval for the whole fleet, a killed lease holder is
// replaced, and a session rewritten through any daemon during a pass is
// never reaped. The figures it observes (retries, 409s, scans, take-over
// time) are printed as test diagnostics for the closing notes.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startDaemon } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const LEASE_KEY = 'sessiond/reaper-lease'
const now = () => Math.floor(Date.now() / 1000)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function eventually(check, ms, what) {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`)
    await sleep(100)
  }
}

async function metricsText(d) {
  return (await fetch(`${d.url}/metrics`)).text()
}

// The sum of every sample of a family whose labels contain all of `want`.
function metricSum(text, name, want = {}) {
  let sum = 0
  const re = new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm')
  for (const m of text.matchAll(re)) {
    const labels = m[1] || ''
    if (Object.entries(want).every(([k, v]) => labels.includes(`${k}="${v}"`))) sum += Number(m[2])
  }
  return sum
}

async function metric(d, name, want) {
  return metricSum(await metricsText(d), name, want)
}

async function owner(d) {
  const m = /^sessiond_reaper_info\{owner="([0-9a-f]+)"\} 1$/m.exec(await metricsText(d))
  assert.ok(m, 'sessiond_reaper_info names the lease identity')
  return m[1]
}

async function startFleet(n, overrides = {}) {
  const first = await startDaemon(overrides)
  const fleet = [first]
  try {
    for (let i = 1; i < n; i++) {
      fleet.push(await startDaemon({ ...overrides, dynamodb: { ...(overrides.dynamodb || {}), table: first.table } }))
    }
  } catch (e) {
    await stopFleet(fleet)
    throw e
  }
  return fleet
}

async function stopFleet(fleet) {
  const codes = []
  for (const d of fleet) if (d && !d.exited()) codes.push(await d.stop())
  return codes
}

function roundRobin(fleet) {
  let i = 0
  return () => fleet[i++ % fleet.length]
}

const json = (body, type = 'application/json') => ({
  headers: { 'Content-Type': type },
  body: JSON.stringify(body),
})

describe('a fleet of three daemons: the request path', () => {
  let fleet
  before(async () => {
    // A generous request deadline: 150 patches of one session queue on each
    // daemon and conflict across daemons; the point is correctness, not speed.
    fleet = await startFleet(3, { limits: { request_timeout_ms: 60000 } })
  })
  after(async () => {
    for (const code of await stopFleet(fleet || [])) assert.equal(code, 0)
  })

  it('3 x 50 merge patches of different keys of one session, spread over the fleet, all survive', { timeout: 180000 }, async (t) => {
    const next = roundRobin(fleet)
    const created = await fetch(`${next().url}/v1/sessions`, { method: 'POST', ...json({ data: { start: true }, ttl: 3600 }) })
    assert.equal(created.status, 201)
    const { id } = await created.json()
    const conflictsBefore = await Promise.all(fleet.map((d) => metric(d, 'sessiond_version_conflicts_total')))

    const statuses = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        fetch(`${next().url}/v1/sessions/${id}`, {
          method: 'PATCH',
          ...json({ [`k${i}`]: i }, 'application/merge-patch+json'),
        }).then(async (r) => {
          await r.arrayBuffer()
          return r.status
        })
      )
    )
    const conflicts = (await Promise.all(fleet.map((d) => metric(d, 'sessiond_version_conflicts_total'))))
      .map((v, i) => v - conflictsBefore[i])
    const count409 = statuses.filter((s) => s === 409).length
    t.diagnostic(`version conflicts retried per daemon: ${conflicts.join(', ')} (total ${conflicts.reduce((a, b) => a + b, 0)}); 409 answers: ${count409}`)
    process.stderr.write(`# fleet: 150 cross-daemon patches: retries ${conflicts.join('+')}, 409s ${count409}\n`)
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every patch answered 200')

    for (const d of fleet) {
      const r = await fetch(`${d.url}/v1/sessions/${id}`)
      assert.equal(r.status, 200)
      const s = await r.json()
      assert.equal(s.version, 151, `version on ${d.url}`)
      for (let i = 0; i < 150; i++) assert.equal(s.data[`k${i}`], i, `key k${i} survived`)
      assert.equal(s.data.start, true)
    }
  })

  it('a write through one daemon is read by the others at once, a delete too', async () => {
    const [a, b, c] = fleet
    const put = await fetch(`${a.url}/v1/sessions/fleet-one`, { method: 'PUT', ...json({ data: { n: 1 }, ttl: 600 }) })
    assert.equal(put.status, 201)
    for (const d of [b, c]) assert.equal((await (await fetch(`${d.url}/v1/sessions/fleet-one`)).json()).data.n, 1)
    const cond = await fetch(`${b.url}/v1/sessions/fleet-one`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'If-Match': '"1"' },
      body: JSON.stringify({ data: { n: 2 } }),
    })
    assert.equal(cond.status, 200)
    const stale = await fetch(`${c.url}/v1/sessions/fleet-one`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', 'If-Match': '"1"' },
      body: JSON.stringify({ data: { n: 3 } }),
    })
    assert.equal(stale.status, 412, 'a version another daemon moved on is refused')
    assert.equal((await fetch(`${c.url}/v1/sessions/fleet-one`, { method: 'DELETE' })).status, 204)
    for (const d of fleet) assert.equal((await fetch(`${d.url}/v1/sessions/fleet-one`)).status, 404)
  })
})

// The index of the daemon that holds the reaper lease, waiting for one: a
// lease of one interval renewed every half interval can lapse for a moment
// on a slow run (ThreadSanitizer).
async function holderIndex(fleet) {
  let held = []
  await eventually(async () => {
    held = await Promise.all(fleet.map((d) => metric(d, 'sessiond_reaper_lease_held')))
    return held.includes(1)
  }, 10000, 'a daemon holds the lease')
  return held.indexOf(1)
}

describe('a fleet of three daemons: one reaper', () => {
  const ddb = ddbLib.client()
  const REAP = { enabled: true, interval: 1, max_deletes_per_second: 5, segments: 1 }
  let fleet
  before(async () => {
    fleet = await startFleet(3, { reaper: REAP })
  })
  after(async () => {
    await stopFleet(fleet || [])
  })

  it('run 1: exactly one daemon holds the lease, and the fleet scans the table once per pass', { timeout: 60000 }, async (t) => {
    const owners = await Promise.all(fleet.map(owner))
    assert.equal(new Set(owners).size, 3, 'every daemon has its own lease identity')
    // Let every daemon try a few passes (their first one comes after a random
    // fraction of the interval).
    const attempts = async (d) =>
      (await metric(d, 'sessiond_reaper_passes_total')) + (await metric(d, 'sessiond_reaper_skipped_passes_total'))
    await eventually(async () => (await Promise.all(fleet.map(attempts))).every((n) => n >= 2), 30000, 'every daemon tried twice')

    // Sample the lease for a few intervals: at every sample at most one
    // daemon says it holds the lease, and that is the lease item's owner.
    const holders = new Set()
    const scansBefore = await Promise.all(fleet.map((d) => metric(d, 'sessiond_dynamodb_requests_total', { operation: 'Scan' })))
    const passesBefore = await Promise.all(fleet.map((d) => metric(d, 'sessiond_reaper_passes_total')))
    const started = Date.now()
    for (let i = 0; i < 12; i++) {
      const held = await Promise.all(fleet.map((d) => metric(d, 'sessiond_reaper_lease_held')))
      const item = await ddb.getItem(fleet[0].table, { id: { S: LEASE_KEY } })
      assert.ok(item && item.owner && item.lease_until, 'the lease item names its owner and term')
      assert.ok(held.filter((h) => h === 1).length <= 1, `one holder at a time: ${held}`)
      const k = held.indexOf(1)
      if (k >= 0) {
        holders.add(owners[k])
        // The metric and the table agree (the lease may just have been
        // renewed, never handed over while held).
        assert.equal(item.owner.S, owners[k], 'the daemon saying it holds the lease is the owner in the table')
      }
      await sleep(250)
    }
    const seconds = (Date.now() - started) / 1000
    const scans = (await Promise.all(fleet.map((d) => metric(d, 'sessiond_dynamodb_requests_total', { operation: 'Scan' }))))
      .map((v, i) => v - scansBefore[i])
    const passes = (await Promise.all(fleet.map((d) => metric(d, 'sessiond_reaper_passes_total'))))
      .map((v, i) => v - passesBefore[i])
    t.diagnostic(`over ${seconds.toFixed(1)} s with interval 1 s: passes per daemon ${passes.join(', ')}, Scan calls per daemon ${scans.join(', ')}`)
    process.stderr.write(`# fleet: reaper over ${seconds.toFixed(1)} s (interval 1 s): passes ${passes.join('+')}, scans ${scans.join('+')}\n`)
    assert.equal(holders.size, 1, 'one daemon held the lease throughout')
    const k = owners.indexOf([...holders][0])
    for (let i = 0; i < 3; i++) {
      if (i === k) continue
      assert.equal(scans[i], 0, `daemon ${i} does not hold the lease and never scans`)
      assert.equal(passes[i], 0, `daemon ${i} runs no pass`)
    }
    // One segment, an all-but-empty table: one Scan per pass, and no more
    // passes than intervals (plus the one under way at either end).
    assert.equal(scans[k], passes[k], 'the holder scans once per pass')
    assert.ok(passes[k] <= Math.ceil(seconds) + 1, `one pass per interval for the fleet: ${passes[k]} in ${seconds} s`)
  })

  it('run 3: a session rewritten through other daemons during a pass survives', { timeout: 90000 }, async () => {
    // A slow pass (5 deletes a second) over 30 expired sessions; once it has
    // started deleting, rewrite every one through the daemons that do not
    // hold the lease.
    const live = fleet.filter((d) => !d.exited())
    const t0 = now()
    const ids = Array.from({ length: 30 }, (_, i) => `fleet-race-${i}`)
    const k = await holderIndex(fleet)
    const deletedBefore = await metric(live[k], 'sessiond_reaper_deleted_total')
    const conflictsBefore = await metric(live[k], 'sessiond_reaper_conflicts_total')
    for (const id of ids) await ddb.putItem(live[0].table, ddbLib.sessionItem(id, { expires: t0 - 5, version: 1 }))
    await eventually(async () => (await metric(live[k], 'sessiond_reaper_deleted_total')) > deletedBefore, 20000,
      'the holder\'s pass started deleting')
    const others = live.filter((_, i) => i !== k)
    const next = roundRobin(others)
    for (const id of ids) {
      const r = await fetch(`${next().url}/v1/sessions/${id}`, { method: 'PUT', ...json({ data: { kept: id }, ttl: 600 }) })
      assert.ok(r.status === 200 || r.status === 201, `PUT ${id}: ${r.status}`)
    }
    const passes = await metric(live[k], 'sessiond_reaper_passes_total')
    await eventually(async () => (await metric(live[k], 'sessiond_reaper_passes_total')) >= passes + 2, 30000, 'two more passes')
    for (const id of ids) {
      const r = await fetch(`${next().url}/v1/sessions/${id}`)
      // A PUT that came after the reaper's delete re-created it (201); one
      // that came before made it live again: either way it is there now.
      assert.equal(r.status, 200, `${id} survived`)
      assert.deepEqual((await r.json()).data, { kept: id })
    }
    assert.ok((await metric(live[k], 'sessiond_reaper_conflicts_total')) > conflictsBefore,
      'some of the holder\'s deletes lost their condition to a rewrite through another daemon')
  })

  it('run 2: when the holder is killed (SIGKILL), another daemon reaps within two intervals of its lease', { timeout: 60000 }, async (t) => {
    const k = await holderIndex(fleet)
    const victim = fleet[k]
    const survivors = fleet.filter((_, i) => i !== k)
    const survivorOwners = await Promise.all(survivors.map(owner))
    const killedAt = Date.now()
    victim.child.kill('SIGKILL')
    assert.equal(await victim.wait(), 'signal SIGKILL')
    const lease = await ddb.getItem(victim.table, { id: { S: LEASE_KEY } })
    const deadLeaseUntil = Number(lease.lease_until.N)
    await ddb.putItem(victim.table, ddbLib.sessionItem('after-kill', { expires: now() - 1, version: 1 }))

    let takenAt = 0
    await eventually(async () => {
      const item = await ddb.getItem(victim.table, { id: { S: LEASE_KEY } })
      if (item && survivorOwners.includes(item.owner.S)) takenAt = takenAt || Date.now()
      return takenAt && !(await ddb.getItem(victim.table, { id: { S: 'sess:after-kill' } }))
    }, 20000, 'a survivor took the lease and reaped')
    const took = (takenAt - killedAt) / 1000
    t.diagnostic(`lease taken over ${took.toFixed(2)} s after SIGKILL (the dead lease ran to ${deadLeaseUntil - Math.floor(killedAt / 1000)} s after it)`)
    process.stderr.write(`# fleet: lease take-over ${took.toFixed(2)} s after SIGKILL\n`)
    // Never before the dead holder's lease ran out (no overlapping passes).
    // The lease lasts one interval and is renewed every half interval, so a
    // survivor takes it within two intervals of the kill; the term is kept
    // in whole seconds (one more) and the machine is shared (one more).
    assert.ok(takenAt / 1000 >= deadLeaseUntil, 'no survivor took a lease that was still valid')
    assert.ok(took <= 2 * REAP.interval + 2, `taken over within two intervals (+ 2 s of clock granularity and noise): ${took} s`)
    const passes = await Promise.all(survivors.map((d) => metric(d, 'sessiond_reaper_passes_total')))
    assert.ok(passes.some((p) => p >= 1), `a survivor runs passes now: ${passes}`)
  })
})

describe('a fleet of three daemons: regenerate and revoke', () => {
  let fleet
  before(async () => {
    fleet = await startFleet(3, { users: { index: 'sessions-by-user' } })
  })
  after(async () => {
    for (const code of await stopFleet(fleet || [])) assert.equal(code, 0)
  })

  it('regenerate on A: the old id is 404 on B and C at once, the new one is there', async () => {
    const [a, b, c] = fleet
    const created = await fetch(`${b.url}/v1/sessions`, { method: 'POST', ...json({ data: { cart: [1, 2] }, user: 'fleet-u0', ttl: 600 }) })
    assert.equal(created.status, 201)
    const old = await created.json()
    const r = await fetch(`${a.url}/v1/sessions/${old.id}/regenerate`, { method: 'POST' })
    assert.equal(r.status, 201)
    const moved = await r.json()
    assert.notEqual(moved.id, old.id)
    for (const d of [b, c]) {
      assert.equal((await fetch(`${d.url}/v1/sessions/${old.id}`)).status, 404, `old id on ${d.url}`)
      const got = await fetch(`${d.url}/v1/sessions/${moved.id}`)
      assert.equal(got.status, 200)
      const s = await got.json()
      assert.deepEqual(s.data, { cart: [1, 2] })
      assert.equal(s.user, 'fleet-u0')
      assert.equal(s.version, 1)
    }
  })

  it('revoke on B: every session of the user is 404 on A and C, other users keep theirs', async () => {
    const [a, b, c] = fleet
    const next = roundRobin(fleet)
    const mine = []
    for (let i = 0; i < 12; i++) {
      const r = await fetch(`${next().url}/v1/sessions`, { method: 'POST', ...json({ data: { i }, user: 'fleet-u1', ttl: 600 + i }) })
      assert.equal(r.status, 201)
      mine.push((await r.json()).id)
    }
    const theirs = await (await fetch(`${c.url}/v1/sessions`, { method: 'POST', ...json({ data: {}, user: 'fleet-u2' }) })).json()
    const listed = await (await fetch(`${a.url}/v1/users/fleet-u1/sessions`)).json()
    assert.deepEqual(listed.sessions.map((s) => s.id).sort(), [...mine].sort(), 'every daemon lists what the others wrote')
    const r = await fetch(`${b.url}/v1/users/fleet-u1/sessions`, { method: 'DELETE' })
    assert.equal(r.status, 200)
    assert.equal((await r.json()).deleted, 12)
    for (const d of [a, c]) {
      for (const id of mine) assert.equal((await fetch(`${d.url}/v1/sessions/${id}`)).status, 404, `${id} on ${d.url}`)
      assert.deepEqual((await (await fetch(`${d.url}/v1/users/fleet-u1/sessions`)).json()).sessions, [])
      assert.equal((await fetch(`${d.url}/v1/sessions/${theirs.id}`)).status, 200)
    }
  })
})

describe('a fleet of two daemons: a key rotation with a reload between the steps', () => {
  const ddb = ddbLib.client()
  const fs = require('node:fs')
  const os = require('node:os')
  const path = require('node:path')
  const crypto = require('node:crypto')
  const { renderSettings, merge } = require('./lib/daemon')

  it('loses nothing: every write lands, every daemon reads every session at every step', { timeout: 120000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-fleet-keys-'))
    const key = (name) => {
      const file = path.join(dir, `${name}.key`)
      fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', { mode: 0o600 })
      return `${name}:${file}`
    }
    const k1 = key('k1')
    const k2 = key('k2')
    const fleet = await startFleet(2, { encryption: { keys: [k1] } })
    try {
      const reload = async (d, keys) => {
        const settings = merge(d.settings, { encryption: { keys } })
        fs.writeFileSync(d.file, renderSettings(settings))
        const before = d.stderr().length
        d.child.kill('SIGHUP')
        await eventually(async () => /reload|SIGHUP/i.test(d.stderr().slice(before)), 5000, 'the daemon logged the reload')
        await sleep(200)
      }
      const next = roundRobin(fleet)
      const ids = []
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${next().url}/v1/sessions`, { method: 'POST', ...json({ data: { n: i } }) })
        assert.equal(r.status, 201)
        ids.push((await r.json()).id)
      }
      let written = 0
      // Writes keep going through both daemons across all four reloads.
      const writeRound = async (tag) => {
        await Promise.all(ids.map(async (id, i) => {
          const r = await fetch(`${next().url}/v1/sessions/${id}`, {
            method: 'PATCH',
            ...json({ [tag]: i }, 'application/merge-patch+json'),
          })
          assert.equal(r.status, 200, `PATCH ${id} at ${tag}`)
          written++
        }))
      }
      const readAll = async (tags) => {
        for (const d of fleet) {
          for (const [i, id] of ids.entries()) {
            const r = await fetch(`${d.url}/v1/sessions/${id}`)
            assert.equal(r.status, 200, `${id} on ${d.url}`)
            const s = await r.json()
            for (const t of tags) assert.equal(s.data[t], i, `${t} of ${id} on ${d.url}`)
          }
        }
      }
      await writeRound('s0')
      await reload(fleet[0], [k1, k2]) // k2 added second: A reads it, still writes k1
      await writeRound('s1')
      await readAll(['s0', 's1'])
      await reload(fleet[1], [k1, k2])
      await writeRound('s2')
      await reload(fleet[0], [k2, k1]) // k2 first: A writes k2, B reads it
      await writeRound('s3')
      await readAll(['s0', 's1', 's2', 's3'])
      await reload(fleet[1], [k2, k1])
      await writeRound('s4')
      await readAll(['s0', 's1', 's2', 's3', 's4'])
      assert.equal(written, 50)
      for (const id of ids) {
        const item = await ddb.getItem(fleet[0].table, { id: { S: `sess:${id}` } })
        assert.match(item.sess.S, /^sessiond:enc:1:k2:/, 'rewritten under the new key')
      }
    } finally {
      await stopFleet(fleet)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
