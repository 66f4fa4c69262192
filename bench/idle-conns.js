#!/usr/bin/env node
// Opens COUNT keep-alive connections to a server, sends one GET /healthz on
// each (so the server has served a request on every one of them), prints
// "idle N of COUNT" and then holds them, idle, until SIGTERM.
//   node idle-conns.js URL COUNT
// The caller raises `ulimit -n`; connections are opened 250 at a time so
// the server's listen backlog never overflows.
'use strict'
const net = require('net')

const url = new URL(process.argv[2])
const count = Number(process.argv[3])
const request = 'GET /healthz HTTP/1.1\r\nHost: ' + url.host + '\r\n\r\n'
const sockets = []
let failed = 0

function one () {
  return new Promise((resolve) => {
    const s = net.connect({ host: url.hostname, port: Number(url.port) })
    let got = ''
    let done = false
    const finish = (ok) => {
      if (done) return
      done = true
      if (ok) sockets.push(s)
      else failed++
      resolve()
    }
    s.setNoDelay(true)
    s.on('connect', () => s.write(request))
    s.on('data', (chunk) => {
      got += chunk.toString('latin1')
      const end = got.indexOf('\r\n\r\n')
      if (end < 0) return
      const m = /content-length:\s*(\d+)/i.exec(got.slice(0, end))
      if (m && got.length >= end + 4 + Number(m[1])) finish(/^HTTP\/1\.1 200/.test(got))
    })
    s.on('error', () => finish(false))
    s.on('close', () => {
      if (!done) finish(false)
      else if (sockets.includes(s)) failed++ // closed by the server while idle
    })
  })
}

async function main () {
  for (let i = 0; i < count; i += 250) {
    const batch = []
    for (let j = i; j < i + 250 && j < count; j++) batch.push(one())
    await Promise.all(batch)
  }
  console.log('idle ' + sockets.length + ' of ' + count + (failed ? ' (' + failed + ' failed)' : ''))
}

process.on('SIGTERM', () => {
  for (const s of sockets) s.destroy()
  process.exit(0)
})
main()
setInterval(() => {}, 1 << 30) // hold until SIGTERM
