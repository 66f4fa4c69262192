'use strict'
// Issue 15: docs/deploy.md against the code it describes: every setting it
// names (`group.name`) is a setting of conf/sessiond.conf; every libconfig
// snippet passes `sessiond -t`; the systemd unit's TimeoutStopSec and the
// stop timeouts the page gives for containers leave room for the drain its
// snippet configures (limits.drain + limits.request_timeout_ms + a margin);
// the Dockerfile stops with SIGTERM. (Its IAM table is checked by
// iam-policy.test.js.)

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { runDaemon, ROOT } = require('./lib/daemon')

const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8')
const CONF = fs.readFileSync(path.join(ROOT, 'conf', 'sessiond.conf'), 'utf8')
const UNIT = fs.readFileSync(path.join(ROOT, 'systemd', 'sessiond.service'), 'utf8')
const DOCKERFILE = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')

// group.name of every setting in conf/sessiond.conf (groups one level deep).
function confSettings() {
  const out = new Set()
  let group = null
  for (const raw of CONF.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    let m
    if ((m = /^(\w+)\s*=\s*\{/.exec(line))) group = m[1]
    else if (/^\};/.test(line)) group = null
    else if (group && (m = /^(\w+)\s*=/.exec(line))) out.add(`${group}.${m[1]}`)
  }
  return out
}

const snippets = (lang) => [...DOC.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1])
const setting = (text, group, name) => {
  const g = new RegExp(`${group}\\s*=\\s*\\{([\\s\\S]*?)\\};`).exec(text)
  const m = g && new RegExp(`\\b${name}\\s*=\\s*(\\d+)\\s*;`).exec(g[1])
  return m ? Number(m[1]) : undefined
}

describe('docs/deploy.md', () => {
  it('names only settings that exist', () => {
    const known = confSettings()
    const groups = new Set([...known].map((s) => s.split('.')[0]))
    const named = [...DOC.matchAll(/`([a-z_]+)\.([a-z_]+)`/g)].filter((m) => groups.has(m[1])).map((m) => `${m[1]}.${m[2]}`)
    assert.ok(named.length >= 10, `settings named: ${named}`)
    for (const s of named) assert.ok(known.has(s), `${s} is a setting of conf/sessiond.conf`)
  })

  it('has settings snippets that pass sessiond -t', async () => {
    const all = snippets('libconfig')
    assert.ok(all.length >= 1)
    // Files the snippets name are made for the check, as an operator would.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sessiond-deploy-'))
    const tokens = path.join(dir, 'tokens')
    fs.writeFileSync(tokens, '# for the apps\nk3Jd9f0aLq2ZxQp7Tt1uVw8yRr4sBn6C\n', { mode: 0o600 })
    for (const original of all) {
      const text = original.replaceAll('"/etc/sessiond/tokens"', JSON.stringify(tokens))
      const r = await runDaemon(['-t'], text)
      assert.equal(r.code, 0, `sessiond -t:\n${r.stderr}\n${text}`)
      assert.match(r.stdout, /configuration OK/)
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('gives the supervisors room for the drain it configures', () => {
    const text = snippets('libconfig')[0]
    const drain = setting(text, 'limits', 'drain')
    const timeoutMs = setting(text, 'limits', 'request_timeout_ms') ?? 5000
    assert.ok(drain > 0, 'the snippet sets limits.drain')
    const need = drain + Math.ceil(timeoutMs / 1000)
    const unitStop = Number(/^TimeoutStopSec=(\d+)$/m.exec(UNIT)[1])
    assert.ok(unitStop >= need + 5, `TimeoutStopSec=${unitStop} >= drain ${drain} + ${timeoutMs} ms + 5 s`)
    for (const [re, what] of [[/docker stop -t (\d+)/, 'docker stop -t'], [/stopTimeout: (\d+)/, 'ECS stopTimeout'],
      [/stop_grace_period: (\d+)s/, 'Compose stop_grace_period']]) {
      const m = re.exec(DOC)
      assert.ok(m, `the page gives ${what}`)
      assert.ok(Number(m[1]) > need, `${what} ${m[1]} > ${need}`)
    }
    // The drop-in example: its TimeoutStopSec covers the drain its comment names.
    const dropIn = snippets('ini')[0]
    const d = /limits\.drain \((\d+)\)/.exec(dropIn)
    assert.ok(Number(/TimeoutStopSec=(\d+)/.exec(dropIn)[1]) >= Number(d[1]) + 5 + 5)
    assert.match(DOCKERFILE, /^STOPSIGNAL SIGTERM$/m)
  })
})
