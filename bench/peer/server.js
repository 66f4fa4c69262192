#!/usr/bin/env node
// The peer for `make bench`: what the seed's app does in-process, as a
// service. express + express-session's Store/Cookie + connect-dynamodb over
// the AWS SDK v3, with routes that call the store's get / set / touch /
// destroy directly by id (no cookies), shaped like sessiond's API so the
// same wrk scripts drive both:
//
//   POST   /v1/sessions            {"data": {...}, "ttl": N}  -> 201 (set, new id)
//   GET    /v1/sessions/:id                                  -> 200 | 404 (get)
//   PUT    /v1/sessions/:id        {"data": {...}, "ttl": N}  -> 200 (set)
//   PATCH  /v1/sessions/:id        merge-patch of data        -> 200 | 404 (get + set)
//   POST   /v1/sessions/:id/touch  [{"ttl": N}]               -> 200 (touch)
//   DELETE /v1/sessions/:id                                   -> 204 (destroy)
//   GET    /healthz                                           -> 200
//
// Usage: node server.js --endpoint URL [--port 0] [--table bench_peer]
// Prints "listening on http://127.0.0.1:PORT" once the table is ACTIVE.
'use strict'

const crypto = require('crypto')
const express = require('express')
const session = require('express-session')
const DynamoDBStore = require('connect-dynamodb')(session)
const { DynamoDBClient, DescribeTableCommand } = require('@aws-sdk/client-dynamodb')

function arg (name, dflt) {
  const i = process.argv.indexOf('--' + name)
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt
}

const endpoint = arg('endpoint')
const port = Number(arg('port', '0'))
const table = arg('table', 'bench_peer')
const defaultTtl = 86400 // the seed's cookie maxAge: one day
if (!endpoint) {
  console.error('usage: server.js --endpoint URL [--port N] [--table NAME]')
  process.exit(2)
}

// An app's usual client: the SDK's defaults (keep-alive agent, retries),
// static credentials (dynalite checks only that requests are signed).
const client = new DynamoDBClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDBENCHPEER', secretAccessKey: 'bench-peer-secret' }
})
const store = new DynamoDBStore({ table, client })

// What express-session puts in a session: the data plus a real Cookie, whose
// maxAge connect-dynamodb turns into `expires`.
function withCookie (data, ttl) {
  const sess = Object.assign({}, data)
  sess.cookie = new session.Cookie({ maxAge: ttl * 1000 })
  return sess
}

function ttlOf (body) {
  const t = body && body.ttl
  return Number.isInteger(t) && t > 0 ? t : defaultTtl
}

// RFC 7386 JSON merge patch.
function mergePatch (target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  if (target === null || typeof target !== 'object' || Array.isArray(target)) target = {}
  for (const k of Object.keys(patch)) {
    if (patch[k] === null) delete target[k]
    else target[k] = mergePatch(target[k], patch[k])
  }
  return target
}

const app = express()
app.use(express.json({ type: ['application/json', 'application/merge-patch+json'], limit: '400kb' }))

app.get('/healthz', (req, res) => res.json({ status: 'ok' }))

app.post('/v1/sessions', (req, res, next) => {
  const id = crypto.randomBytes(24).toString('base64url') // express-session's genid: uid(24)
  const sess = withCookie(req.body && req.body.data, ttlOf(req.body))
  store.set(id, sess, (err) => {
    if (err) return next(err)
    res.status(201).location('/v1/sessions/' + id).json({ id, data: sess })
  })
})

app.get('/v1/sessions/:id', (req, res, next) => {
  store.get(req.params.id, (err, sess) => {
    if (err) return next(err)
    if (!sess) return res.status(404).json({ status: 404, title: 'Not Found' })
    res.json({ id: req.params.id, data: sess })
  })
})

app.put('/v1/sessions/:id', (req, res, next) => {
  const sess = withCookie(req.body && req.body.data, ttlOf(req.body))
  store.set(req.params.id, sess, (err) => {
    if (err) return next(err)
    res.json({ id: req.params.id, data: sess })
  })
})

app.patch('/v1/sessions/:id', (req, res, next) => {
  store.get(req.params.id, (err, sess) => {
    if (err) return next(err)
    if (!sess) return res.status(404).json({ status: 404, title: 'Not Found' })
    // The merged data with the session's cookie, rebuilt as a Cookie.
    const maxAge = (sess.cookie && sess.cookie.originalMaxAge) || defaultTtl * 1000
    delete sess.cookie
    sess = mergePatch(sess, req.body)
    sess.cookie = new session.Cookie({ maxAge })
    store.set(req.params.id, sess, (err2) => {
      if (err2) return next(err2)
      res.json({ id: req.params.id, data: sess })
    })
  })
})

app.post('/v1/sessions/:id/touch', (req, res, next) => {
  const sess = withCookie({}, ttlOf(req.body))
  store.touch(req.params.id, sess, (err, out) => {
    if (err) return next(err)
    res.json({ id: req.params.id, expires: Number(out.expires) })
  })
})

app.delete('/v1/sessions/:id', (req, res, next) => {
  store.destroy(req.params.id, (err) => {
    if (err) return next(err)
    res.status(204).end()
  })
})

app.use((err, req, res, next) => {
  res.status(err.status && err.status < 500 ? err.status : 503)
    .json({ status: 503, title: 'Service Unavailable', detail: String(err.name || err) })
})

// connect-dynamodb creates its table on first use (provisioned, as it
// does); wait until it is ACTIVE so the first measured request finds it.
async function ready () {
  await store.initialize()
  for (let i = 0; i < 300; i++) {
    const t = await client.send(new DescribeTableCommand({ TableName: table }))
    if (t.Table.TableStatus === 'ACTIVE') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('table ' + table + ' never became ACTIVE')
}

ready().then(() => {
  const server = app.listen(port, '127.0.0.1', () => {
    console.log('listening on http://127.0.0.1:' + server.address().port)
  })
  // Idle keep-alive connections are held as long as sessiond holds them
  // (limits.connection_timeout = 30 s); Node's default is 5 s.
  server.keepAliveTimeout = 30000
  server.headersTimeout = 31000
  const stop = () => server.close(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}).catch((err) => {
  console.error('peer: ' + (err && err.stack ? err.stack : err))
  process.exit(1)
})
