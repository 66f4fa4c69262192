#!/usr/bin/env node
// Starts dynalite on 127.0.0.1 with a port chosen by the kernel (port 0), so
// parallel runs never collide, and writes the port to the file named by
// --port-file once the server listens. Used by scripts/dynalite.sh.
'use strict'
const fs = require('fs')
const path = require('path')
const argv = require('minimist')(process.argv.slice(2))
const dynalite = require(path.join(__dirname, '..', 'node_modules', 'dynalite'))

const opts = {}
if (argv.path) opts.path = argv.path
if (argv.ssl) opts.ssl = true
if (argv.createTableMs !== undefined) opts.createTableMs = Number(argv.createTableMs)
const server = dynalite(opts)
server.listen(Number(argv.port || 0), argv.host || '127.0.0.1', () => {
  const port = server.address().port
  if (argv['port-file']) {
    // Write then rename, so a reader never sees a half-written file.
    const tmp = argv['port-file'] + '.tmp'
    fs.writeFileSync(tmp, String(port) + '\n')
    fs.renameSync(tmp, argv['port-file'])
  }
  console.log('dynalite listening on 127.0.0.1:' + port)
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
