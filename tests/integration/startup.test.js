'use strict'
// Command line and start-up errors (docs/configuration.md): each start-up
// error exits 1 with one clear line on stderr; -t, -V, -h.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')

const {
  ROOT,
  runDaemon,
  startDaemon,
  defaultSettings,
  merge,
  raw,
  renderSettings,
  lineOf,
  uniqueTable,
} = require('./lib/daemon')
const ddbLib = require('./lib/ddb')

const T = { timeout: 30000 }
const settingsText = (overrides = {}) => renderSettings(merge(defaultSettings(), overrides))
const show = (r) => `exit ${r.code}${r.signal ? ' signal ' + r.signal : ''}\nstdout: ${JSON.stringify(r.stdout)}\nstderr: ${JSON.stringify(r.stderr.slice(-3000))}`
const lines = (s) => s.split('\n').filter((l) => l.trim() !== '')
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

// Exit 1, never listened, and a line on stderr matching re.
function assertStartupError(r, re) {
  assert.equal(r.code, 1, show(r))
  assert.doesNotMatch(r.stderr, /listening on/, show(r))
  assert.ok(lines(r.stderr).length >= 1, `a line on stderr: ${show(r)}`)
  // Info and debug log lines (the settings summary names the table too)
  // are not errors; exactly one of the rest says what is wrong.
  const notices = /^\S+Z (info|debug) /
  const errors = lines(r.stderr).filter((l) => !notices.test(l))
  assert.equal(errors.filter((l) => re.test(l)).length, 1, `one stderr line matches ${re}: ${show(r)}`)
}

describe('start-up errors exit 1 with one clear line', () => {
  it('table missing and create_table = false', T, async () => {
    const table = uniqueTable('missing')
    const r = await runDaemon([], settingsText({ dynamodb: { table, create_table: false } }))
    assertStartupError(r, new RegExp(`${esc(table)}.*(exist|found|missing|create_table)`, 'i'))
    const ddb = ddbLib.client()
    assert.equal(await ddb.tableExists(table), false, 'the daemon did not create it')
  })

  it('no AWS credentials anywhere: one line naming every provider tried', T, async () => {
    const home = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'sessiond-nocreds-'))
    const env = { PATH: process.env.PATH, HOME: home, AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'), AWS_CONFIG_FILE: path.join(home, 'none') }
    const r = await runDaemon([], settingsText({ credentials: { access_key_id: null, secret_access_key: null } }), { env })
    fs.rmSync(home, { recursive: true, force: true })
    assertStartupError(r, /no AWS credentials found: settings: .*environment: .*profile: .*web-identity: .*container: .*imds: /)
  })

  it('an unknown top-level setting: FILE:LINE: unknown setting "x"', T, async () => {
    const text = settingsText() + 'x = 1;\n'
    const line = lineOf(text, 'x = 1;')
    const r = await runDaemon([], text)
    assertStartupError(r, new RegExp(`^${esc(r.file)}:${line}: unknown setting "x"`))
  })

  it('an unknown setting inside a group names its file and line', T, async () => {
    const text = settingsText({ listen: { x: 1 } })
    const line = lineOf(text, 'x = 1;')
    const r = await runDaemon([], text)
    assertStartupError(r, new RegExp(`^${esc(r.file)}:${line}: unknown setting "(listen\\.)?x"`))
  })

  it('a setting with the wrong type names its file and line', T, async () => {
    for (const [over, needle] of [
      [{ listen: { port: 'eighty' } }, 'port = "eighty"'],
      [{ dynamodb: { create_table: raw('"yes"') } }, 'create_table = "yes"'],
      [{ session: { default_ttl: raw('1.5') } }, 'default_ttl = 1.5'],
      [{ auth: { tokens: raw('"t0k3n"') } }, 'tokens = "t0k3n"'],
      [{ log: { level: 3 } }, 'level = 3'],
    ]) {
      const text = settingsText(over)
      const line = lineOf(text, needle)
      const r = await runDaemon([], text)
      assertStartupError(r, new RegExp(`^${esc(r.file)}:${line}: `))
    }
  })

  it('a bad value (log.level "loud") names its file and line', T, async () => {
    const text = settingsText({ log: { level: 'loud' } })
    const line = lineOf(text, 'level = "loud"')
    const r = await runDaemon([], text)
    assertStartupError(r, new RegExp(`^${esc(r.file)}:${line}: `))
  })

  it('a syntax error names its file and line', T, async () => {
    const text = settingsText() + 'listen = {\n  port = 0\n  address = ;\n};\n'
    const r = await runDaemon([], text)
    assertStartupError(r, new RegExp(`^${esc(r.file)}:\\d+: `))
  })

  it('a settings file that does not exist', T, async () => {
    const file = path.join(ROOT, 'build', 'no-such-dir', 'sessiond.conf')
    const r = await runDaemon(['-c', file])
    assertStartupError(r, new RegExp(esc(file)))
  })

  it('port in use', T, async () => {
    const blocker = net.createServer()
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = blocker.address().port
    try {
      const r = await runDaemon([], settingsText({ listen: { address: '127.0.0.1', port } }))
      assertStartupError(r, new RegExp(`[:\\s]${port}\\b.*|in use`, 'i'))
    } finally {
      await new Promise((resolve) => blocker.close(resolve))
    }
  })

  // Its workers share the port in an SO_REUSEPORT group: a second daemon
  // must still be refused it, not join the group and take half the traffic.
  it('port held by another sessiond', T, async () => {
    const first = await startDaemon({ listen: { threads: 2 } })
    try {
      const r = await runDaemon([], settingsText({ listen: { address: '127.0.0.1', port: first.port } }))
      assertStartupError(r, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: Address already in use`))
      assert.equal((await fetch(`${first.url}/healthz`)).status, 200)
    } finally {
      await first.stop()
    }
  })
})

describe('-t / --test-config', () => {
  it('a good file: "configuration OK" on stdout, exit 0', T, async () => {
    for (const flag of ['-t', '--test-config']) {
      const r = await runDaemon([flag], settingsText({ auth: { tokens: ['a', 'b'] }, limits: { max_body: 1024 } }))
      assert.equal(r.code, 0, show(r))
      assert.match(r.stdout, /^configuration OK\s*$/, show(r))
      assert.doesNotMatch(r.stderr, /listening on/, show(r))
    }
  })

  it('the shipped example conf/sessiond.conf passes', T, async () => {
    const r = await runDaemon(['-t', '-c', path.join(ROOT, 'conf', 'sessiond.conf')])
    assert.equal(r.code, 0, show(r))
    assert.match(r.stdout, /configuration OK/, show(r))
  })

  it('a bad file: every error as FILE:LINE: on stderr, exit 1', T, async () => {
    const text = settingsText({ listen: { port: 'eighty', bogus: 1 }, log: { level: 'loud' } }) + 'x = 1;\n'
    const errs = [lineOf(text, 'port = "eighty"'), lineOf(text, 'bogus = 1'), lineOf(text, 'level = "loud"'), lineOf(text, 'x = 1;')]
    const r = await runDaemon(['-t'], text)
    assert.equal(r.code, 1, show(r))
    assert.doesNotMatch(r.stdout, /configuration OK/, show(r))
    for (const line of errs) {
      assert.ok(r.stderr.split('\n').some((l) => l.startsWith(`${r.file}:${line}: `)), `an error for line ${line}: ${show(r)}`)
    }
    assert.ok(r.stderr.split('\n').some((l) => l.startsWith(`${r.file}:${lineOf(text, 'x = 1;')}: unknown setting "x"`)), show(r))
  })

  it('-t does not start the service', T, async () => {
    const table = uniqueTable('t-only')
    const r = await runDaemon(['-t'], settingsText({ dynamodb: { table } }))
    assert.equal(r.code, 0, show(r))
    assert.doesNotMatch(r.stderr, /listening on/)
    assert.equal(await ddbLib.client().tableExists(table), false, '-t created no table')
  })
})

describe('-V, -h', () => {
  it('-V and --version print "sessiond X.Y.Z" (the VERSION file), exit 0', T, async () => {
    const version = fs.readFileSync(path.join(ROOT, 'VERSION'), 'utf8').trim()
    for (const flag of ['-V', '--version']) {
      const r = await runDaemon([flag])
      assert.equal(r.code, 0, show(r))
      assert.match(r.stdout, /^sessiond \d+\.\d+\.\d+\n?$/, show(r))
      assert.equal(r.stdout.trim(), `sessiond ${version}`, show(r))
    }
  })

  it('-h and --help print usage with every option, exit 0', T, async () => {
    for (const flag of ['-h', '--help']) {
      const r = await runDaemon([flag])
      assert.equal(r.code, 0, show(r))
      const out = r.stdout + r.stderr
      for (const opt of ['-c', '--config', '-t', '--test-config', '-h', '--help', '-V', '--version']) {
        assert.match(out, new RegExp(`(^|[\\s,\\[])${esc(opt)}\\b`), `usage mentions ${opt}: ${show(r)}`)
      }
    }
  })

  it('an unknown option exits non-zero', T, async () => {
    const r = await runDaemon(['--no-such-option'])
    assert.notEqual(r.code, 0, show(r))
  })
})

describe('signals', () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    it(`${sig}: exit 0`, T, async () => {
      const d = await startDaemon()
      try {
        d.child.kill(sig)
        const code = await Promise.race([d.wait(), new Promise((r) => setTimeout(() => r('still running after 10 s'), 10000).unref())])
        assert.equal(code, 0, d.stderr().slice(-2000))
      } finally {
        await d.stop()
      }
    })
  }
})
