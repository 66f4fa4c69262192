'use strict'
// The README's "Try it" commands, run verbatim (only the port changes)
// against a daemon with default-ish settings: each must exit 0 (they use
// curl -f, so any 4xx/5xx fails) in the order the README gives them.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { startDaemon } = require('./lib/daemon')

function readmeCommands() {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8')
  const section = text.split('\n## Try it')[1].split('\n## ')[0]
  const block = section.split('```sh\n')[1].split('```')[0]
  return block.split('\n').filter((l) => l.startsWith('curl '))
}

describe('README examples', () => {
  let d
  before(async () => { d = await startDaemon() })
  after(async () => { if (d) await d.stop() })

  it('every endpoint has an example, and each one works verbatim', { timeout: 30000 }, () => {
    const cmds = readmeCommands()
    for (const route of ['POST', 'PUT', 'PATCH', 'DELETE', '/touch', '-I ', '/healthz', '/readyz', '/metrics'])
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
