'use strict'
// The users' index added to an existing table (UpdateTable) and the v1.1
// endpoints against moto (python3 -m moto.server), which implements what
// dynalite lacks here: dynalite accepts UpdateTable's new index and adds
// nothing. Skipped, saying why, where moto is not installed.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const net = require('node:net')

const { startDaemon, request, describeExchange: ex, uniqueTable } = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 60000 }
const now = () => Math.floor(Date.now() / 1000)

const haveMoto = spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0
const SKIP = haveMoto ? false : 'moto is not installed (pip install "moto[server]"); dynalite cannot add an index to an existing table'

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
    s.on('error', reject)
  })
}

describe('the users index on moto', { skip: SKIP }, () => {
  let moto
  let endpoint
  before(async () => {
    const port = await freePort()
    moto = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
    endpoint = `http://127.0.0.1:${port}`
    for (let i = 0; i < 200; i++) {
      try {
        await fetch(endpoint + '/', { signal: AbortSignal.timeout(500) })
        return
      } catch {
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    throw new Error('moto.server did not start')
  }, T)
  after(() => {
    if (moto) moto.kill('SIGTERM')
  })

  it('create_table adds the index to an existing table; its sessions are listed, revoked and regenerated', T, async () => {
    const ddb = ddbLib.client(endpoint)
    const table = uniqueTable('moto')
    await ddb.call('CreateTable', {
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    })
    // A session written before the index existed, owner in "uid" (as a
    // connect-dynamodb app's specialKeys would): the backfill indexes it.
    await ddb.call('PutItem', { TableName: table, Item: { ...ddbLib.sessionItem('before-index', { data: { a: 1 }, expires: now() + 600 }), uid: { S: 'mia' } } })
    const d = await startDaemon({ dynamodb: { endpoint, table, create_table: true }, users: { index: 'by-user' } })
    try {
      assert.match(d.stderr(), /adding index by-user/)
      const t = await ddb.call('DescribeTable', { TableName: table })
      assert.equal(t.Table.GlobalSecondaryIndexes[0].IndexStatus, 'ACTIVE')
      const c = await request(d.url, 'POST', '/v1/sessions', { json: { data: {}, user: 'mia' } })
      assert.equal(c.status, 201, ex(c))
      let r = await request(d.url, 'GET', '/v1/users/mia/sessions?limit=1')
      assert.equal(r.status, 200, ex(r))
      assert.equal(r.json.sessions.length, 1)
      const r2 = await request(d.url, 'GET', `/v1/users/mia/sessions?cursor=${r.json.next}`)
      const ids = [...r.json.sessions, ...r2.json.sessions].map((s) => s.id)
      assert.deepEqual(new Set(ids), new Set(['before-index', c.json.id]))
      r = await request(d.url, 'POST', '/v1/sessions/before-index/regenerate')
      assert.equal(r.status, 201, ex(r))
      assert.equal(r.json.user, 'mia')
      assert.equal((await request(d.url, 'GET', '/v1/sessions/before-index')).status, 404)
      r = await request(d.url, 'DELETE', '/v1/users/mia/sessions')
      assert.deepEqual(r.json, { deleted: 2 }, ex(r))
    } finally {
      await d.stop()
    }
  })
})
