#!/usr/bin/env node
// Prepares a `make bench` run: creates the ceiling's table and the sessions
// every workload reads or updates, bench-000001 .. bench-NNNNNN, in all three
// places: through sessiond's PUT, through the peer's PUT (so each stores them
// in its own format), and as sessiond-format items straight into the
// ceiling's table. Runs from bench/peer so the AWS SDK resolves there.
// With --sessiond-enc URL, also through the daemon that encrypts at rest.
//   node prep.js --sessiond URL --peer URL --dynalite URL --table NAME --n N --data FILE
//                [--sessiond-enc URL]
// --peer and --dynalite (with --table) may be left out (bench/fleet.sh).
'use strict'
const fs = require('fs')
const http = require('http')
const path = require('path')

function has (name) {
  return process.argv.includes('--' + name)
}

function arg (name) {
  const i = process.argv.indexOf('--' + name)
  if (i < 0 || i + 1 >= process.argv.length) throw new Error('missing --' + name)
  return process.argv[i + 1]
}

const n = Number(arg('n'))
const data = fs.readFileSync(arg('data'), 'utf8').trim()
const ttl = 86400
const id = (i) => 'bench-' + String(i).padStart(6, '0')
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

function put (base, i) {
  return new Promise((resolve, reject) => {
    const body = '{"data":' + data + ',"ttl":' + ttl + '}'
    const u = new URL('/v1/sessions/' + id(i), base)
    const req = http.request(u, {
      method: 'PUT',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
    }, (res) => {
      res.resume()
      res.on('end', () => res.statusCode < 300
        ? resolve()
        : reject(new Error(u + ': HTTP ' + res.statusCode)))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function pool (count, width, fn) {
  let next = 1
  const worker = async () => {
    while (next <= count) await fn(next++)
  }
  await Promise.all(Array.from({ length: width }, worker))
}

async function ceiling (endpoint, table) {
  // Loaded here: only the ceiling needs the SDK, which `make bench` installs
  // in bench/peer and `make bench-fleet` does not.
  const sdk = require(path.join(__dirname, 'peer', 'node_modules', '@aws-sdk', 'client-dynamodb'))
  const client = new sdk.DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench-secret' }
  })
  try {
    await client.send(new sdk.CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST'
    }))
  } catch (err) {
    if (err.name !== 'ResourceInUseException') throw err
  }
  for (let t = 0; ; t++) {
    const d = await client.send(new sdk.DescribeTableCommand({ TableName: table }))
    if (d.Table.TableStatus === 'ACTIVE') break
    if (t > 300) throw new Error('table ' + table + ' never became ACTIVE')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const expires = String(Math.floor(Date.now() / 1000) + ttl)
  const batches = []
  for (let i = 1; i <= n; i += 25) {
    const items = []
    for (let j = i; j < i + 25 && j <= n; j++) {
      items.push({
        PutRequest: {
          Item: {
            id: { S: 'sess:' + id(j) },
            expires: { N: expires },
            type: { S: 'connect-session' },
            sess: { S: data },
            version: { N: '1' }
          }
        }
      })
    }
    batches.push(items)
  }
  await pool(batches.length, 8, async (b) => {
    let req = { [table]: batches[b - 1] }
    while (req && Object.keys(req).length) {
      const out = await client.send(new sdk.BatchWriteItemCommand({ RequestItems: req }))
      req = out.UnprocessedItems
    }
  })
  client.destroy()
}

async function main () {
  await Promise.all([
    pool(n, 16, (i) => put(arg('sessiond'), i)),
    has('peer') ? pool(n, 16, (i) => put(arg('peer'), i)) : null,
    has('sessiond-enc') ? pool(n, 16, (i) => put(arg('sessiond-enc'), i)) : null,
    has('dynalite') ? ceiling(arg('dynalite'), arg('table')) : null
  ])
  agent.destroy()
}

main().catch((err) => {
  console.error('prep: ' + (err && err.stack ? err.stack : err))
  process.exit(1)
})
