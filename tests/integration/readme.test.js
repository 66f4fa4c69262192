'use strict'
// The README's "Try it" commands, run verbatim (only the port changes)
// against a daemon with default-ish settings: each must exit 0 (they use
// curl -f, so any 4xx/5xx fails) in the order the README gives them. And
// its Layout section against the tree, so that it cannot go stale again.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { startDaemon } = require('./lib/daemon')

const ROOT = path.join(__dirname, '..', '..')

// The text of the README's section under "## title", up to the next one.
function readmeSection(title) {
  const text = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  return text.split(`\n## ${title}\n`)[1].split('\n## ')[0]
}

function readmeCommands() {
  const block = readmeSection('Try it').split('```sh\n')[1].split('```')[0]
  return block.split('\n').filter((l) => l.startsWith('curl '))
}

// The directories below dir, as "dir/name/" ("name/" at the top), without
// hidden ones, build output and installed packages.
function subdirs(dir) {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && e.name !== 'build' && e.name !== 'node_modules')
    .map((e) => path.posix.join(dir, e.name) + '/')
}

describe('README layout', () => {
  it('names every module of src/ and every directory of the tree and of tests/', () => {
    const named = [...readmeSection('Layout').matchAll(/`([^`]+)`/g)].map((m) => m[1])
    for (const f of fs.readdirSync(path.join(ROOT, 'src')).filter((f) => f.endsWith('.c'))) {
      assert.ok(named.includes(f.slice(0, -2)), `the Layout table has a row for src/${f}`)
    }
    for (const d of [...subdirs('.'), ...subdirs('tests')]) {
      assert.ok(named.some((n) => n.startsWith(d)), `the Layout section names ${d}`)
    }
  })
})

describe('README examples', () => {
  let d
  // conf/sessiond.dev.conf (make run) has the users' index on.
  before(async () => { d = await startDaemon({ users: { index: 'sessions-by-user' } }) })
  after(async () => { if (d) await d.stop() })

  it('every endpoint has an example, and each one works verbatim', { timeout: 30000 }, () => {
    const cmds = readmeCommands()
    for (const route of ['POST', 'PUT', 'PATCH', 'DELETE', '/touch', '/regenerate', '/v1/users/', '-I ', '/healthz', '/readyz', '/metrics'])
      assert.ok(cmds.some((c) => c.includes(route)), `README has an example with ${route}`)
    for (const cmd of cmds) {
      assert.ok(cmd.includes('http://127.0.0.1:8080/'), `example uses the make run address: ${cmd}`)
      const local = cmd.replaceAll('http://127.0.0.1:8080/', `http://127.0.0.1:${d.port}/`)
      let out
      try {
        out = execFileSync('sh', ['-c', local], { encoding: 'utf8', timeout: 10000 })
      } catch (e) {
        assert.fail(`README example failed (exit ${e.status}): ${cmd}\n${e.stderr || ''}${e.stdout || ''}`)
      }
      if (!cmd.includes(' -I ') && !cmd.includes('/metrics') && !cmd.includes('DELETE'))
        assert.doesNotThrow(() => JSON.parse(out), `JSON from ${cmd}: ${out}`)
    }
  })
})
