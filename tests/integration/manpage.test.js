'use strict'
// docs/sessiond.8 against what it documents, so they cannot drift apart:
// every setting of conf/sessiond.conf (with its default) and no other, every
// option and the usage line of `sessiond -h`. The page is read as text with
// its roff markup removed; when groff is installed it must also format the
// page without a warning.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const { bin, ROOT } = require('./lib/daemon')

const PAGE = path.join(ROOT, 'docs', 'sessiond.8')
const CONF = path.join(ROOT, 'conf', 'sessiond.conf')

// The settings of a libconfig file written as conf/sessiond.conf is: groups
// "name = {" ... "};", one "name = value;" a line inside them.
function confSettings(text) {
  const out = []
  let group = null
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '')
    if (line.startsWith('#') || line === '') continue
    let m
    if ((m = /^(\w+)\s*=\s*\{/.exec(line))) {
      assert.equal(group, null, `groups do not nest: ${raw}`)
      group = m[1]
    } else if (/^\};/.test(line)) {
      assert.notEqual(group, null, `a group ends that began: ${raw}`)
      group = null
    } else if ((m = /^(\w+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*;/.exec(line))) {
      assert.notEqual(group, null, `every setting is in a group: ${raw}`)
      out.push({ group, name: m[1], path: `${group}.${m[1]}`, value: m[2] })
    } else {
      assert.fail(`a line of ${CONF} this test does not understand: ${raw}`)
    }
  }
  assert.equal(group, null, 'the last group ends')
  return out
}

// Macro arguments: blank-separated, "double quoted" when they hold blanks.
function roffArgs(s) {
  const args = []
  const re = /"((?:[^"]|"")*)"|(\S+)/g
  for (let m; (m = re.exec(s)); ) args.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2])
  return args
}

const ESCAPES = [
  [/\\f(?:\[[^\]]*\]|\(..|.)/g, ''],
  [/\\\(dq/g, '"'],
  [/\\\(aq/g, "'"],
  [/\\\(em/g, '—'],
  [/\\\(en/g, '–'],
  [/\\-/g, '-'],
  [/\\&/g, ''],
  [/\\ /g, ' '],
  [/\\e/g, '\\'],
]

// The page as plain text: comments dropped, font macros' arguments joined
// the way roff joins them (.B/.I with blanks; .BR and friends without),
// escapes replaced. Good enough for finding names and values, not a
// formatter.
function deroff(src) {
  const lines = []
  for (const line of src.split('\n')) {
    if (/^\.\\"/.test(line) || /^'\\"/.test(line)) continue
    let text = line
    let m
    if ((m = /^\.(B|I|SM|SB)\s+(.*)$/.exec(line))) text = roffArgs(m[2]).join(' ')
    else if ((m = /^\.(BI|BR|IB|IR|RB|RI)\s+(.*)$/.exec(line))) text = roffArgs(m[2]).join('')
    else if ((m = /^\.(SH|SS)\s+(.*)$/.exec(line))) text = `@@${m[1]} ${roffArgs(m[2]).join(' ')}`
    else if (/^\.\w+/.test(line)) text = line.replace(/^\.\w+\s*/, '')
    for (const [re, to] of ESCAPES) text = text.replace(re, to)
    lines.push(text)
  }
  return lines.join('\n')
}

// The text of the .SH section name, up to the next .SH.
function section(text, name) {
  const head = `@@SH ${name}\n`
  const i = text.indexOf(head)
  assert.ok(i >= 0, `the page has a ${name} section`)
  const rest = text.slice(i + head.length)
  const j = rest.indexOf('@@SH ')
  return j >= 0 ? rest.slice(0, j) : rest
}

const words = (s) => s.replace(/\s+/g, ' ').trim()

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('docs/sessiond.8', () => {
  const src = fs.readFileSync(PAGE, 'utf8')
  const text = deroff(src)

  it('documents every setting of conf/sessiond.conf with its group, type and default', () => {
    const settings = confSettings(fs.readFileSync(CONF, 'utf8'))
    assert.ok(settings.length >= 30, `settings found: ${settings.map((s) => s.path).join(' ')}`)
    const conf = section(text, 'CONFIGURATION')
    const missing = []
    for (const s of settings) {
      // "group.name (type...; default VALUE)" at the start of a line, under
      // the subsection of its group.
      const re = new RegExp(`^${esc(s.path)} \\(([^;)]+); default ${esc(s.value)}\\)$`, 'm')
      const m = re.exec(conf)
      if (!m) {
        missing.push(`${s.path} = ${s.value}`)
        continue
      }
      const subs = [...conf.slice(0, m.index).matchAll(/^@@SS (.*)$/gm)]
      assert.equal(subs.length && subs[subs.length - 1][1], s.group, `${s.path} is under the subsection ${s.group}`)
    }
    assert.deepEqual(missing, [], 'settings without an entry "group.name (type; default value)" in CONFIGURATION')
  })

  it('documents no setting that conf/sessiond.conf does not have', () => {
    const known = new Set(confSettings(fs.readFileSync(CONF, 'utf8')).map((s) => s.path))
    const conf = section(text, 'CONFIGURATION')
    const entries = [...conf.matchAll(/^([a-z_]+\.[a-z_]+) \([^)]*; default [^\n]*\)$/gm)].map((m) => m[1])
    assert.ok(entries.length > 0)
    assert.deepEqual(entries.filter((p) => !known.has(p)), [], 'stale settings in the page')
    assert.equal(new Set(entries).size, entries.length, 'each setting once')
  })

  it('documents every option of `sessiond -h`, and its usage line', () => {
    const r = spawnSync(bin(), ['-h'], { encoding: 'utf8', timeout: 10000 })
    assert.equal(r.error, undefined, `cannot run ${bin()}: ${r.error}`)
    assert.equal(r.status, 0, r.stderr)
    const options = []
    for (const line of r.stdout.split('\n')) {
      const m = /^\s+(-\w)(?:,\s+(--[\w-]+))?(?:\s+([A-Z]+))?\s{2,}\S/.exec(line)
      if (m) options.push({ short: m[1], long: m[2], arg: m[3], line })
    }
    assert.ok(options.length >= 4, `options found in:\n${r.stdout}`)
    const opts = section(text, 'OPTIONS')
    for (const o of options) {
      const tag = [o.short + (o.arg ? ` ${o.arg}` : ''), o.long && o.long + (o.arg ? ` ${o.arg}` : '')].filter(Boolean).join(', ')
      assert.match(opts, new RegExp(`^${esc(tag)}$`, 'm'), `OPTIONS has "${tag}" (from: ${o.line.trim()})`)
    }
    const usage = /^usage: (sessiond .*)$/m.exec(r.stdout)
    assert.ok(usage, r.stdout)
    assert.equal(words(section(text, 'SYNOPSIS')), words(usage[1]), 'SYNOPSIS = the usage line')
    assert.match(opts, /\/etc\/sessiond\/sessiond\.conf/, 'the default settings file')
  })

  it('has the sections of a daemon page', () => {
    for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'CONFIGURATION', 'ENVIRONMENT', 'SIGNALS', 'EXIT STATUS', 'FILES', 'HTTP API', 'SEE ALSO']) section(text, s)
    assert.match(section(text, 'SIGNALS'), /SIGTERM[\s\S]*SIGINT[\s\S]*SIGHUP/)
    const exit = section(text, 'EXIT STATUS')
    assert.match(exit, /^0$/m)
    assert.match(exit, /^1$/m)
    assert.match(section(text, 'FILES'), /^\/etc\/sessiond\/sessiond\.conf$/m)
  })

  it('formats without warnings (when groff is installed)', (t) => {
    const probe = spawnSync('groff', ['--version'], { encoding: 'utf8' })
    if (probe.error) {
      t.skip('groff is not installed')
      return
    }
    const r = spawnSync('groff', ['-man', '-ww', '-z', PAGE], { encoding: 'utf8', timeout: 10000 })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr, '', 'groff -man -ww -z: no warnings')
  })
})
