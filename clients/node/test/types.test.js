'use strict'
// Type-checks test-d/usage.ts (the README's usage, and misuse that must not
// compile) against index.d.ts, when TypeScript and @types/express-session
// can be found from the package (npm i --no-save typescript
// @types/express-session @types/node); skipped otherwise.

const { it } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

const pkgDir = path.resolve(__dirname, '..')

function find(name) {
  try {
    return require.resolve(name, { paths: [pkgDir] })
  } catch {
    return null
  }
}

it('index.d.ts accepts the documented usage and rejects misuse (tsc --strict, nodenext)', { timeout: 120000 }, (t) => {
  const ts = find('typescript/package.json')
  if (!ts || !find('@types/express-session/package.json') || !find('@types/node/package.json')) {
    return t.skip('typescript, @types/express-session and @types/node are not installed')
  }
  const tsc = path.join(path.dirname(ts), 'bin', 'tsc')
  const r = spawnSync(
    process.execPath,
    [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', 'test-d/usage.ts'],
    { cwd: pkgDir, encoding: 'utf8' }
  )
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
})
