'use strict'
// Issue 15: docs/iam-policy.json is valid JSON, a well-formed IAM policy, and
// names exactly the DynamoDB actions the daemon calls: the list is read from
// the code's own table of operations (ddb_codec_op_targets in
// src/ddb_codec.c, the X-Amz-Target of every request sessiond sends), so a
// new operation without a policy line, or a policy line no code uses, fails
// here. CreateTable, UpdateTable and UpdateTimeToLive (start-up with
// dynamodb.create_table = true) live in their own statement and nowhere
// else; Query (the users index) is allowed on the index ARN only.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const POLICY = path.join(ROOT, 'docs', 'iam-policy.json')
const CODEC = path.join(ROOT, 'src', 'ddb_codec.c')
const DEPLOY = path.join(ROOT, 'docs', 'deploy.md')

// Named in the policy ahead of the code that calls them: the users index
// (feat-users: Query on the index, UpdateTable to add it). Once the code
// names one, this test fails until it is removed from here.
const AHEAD_OF_CODE = [] // actions the policy names before the code calls them (none now)
const CREATE_ONLY = ['CreateTable', 'UpdateTable', 'UpdateTimeToLive']
const INDEX_ONLY = ['Query']

// The operations of the code: `[DDB_OP_X] = "DynamoDB_20120810.Name",` in
// the ddb_codec_op_targets table.
function codeOperations() {
  const src = fs.readFileSync(CODEC, 'utf8')
  const table = /ddb_codec_op_targets\s*\[[^\]]*\]\s*=\s*\{([\s\S]*?)\};/.exec(src)
  assert.ok(table, 'src/ddb_codec.c has the ddb_codec_op_targets table')
  const ops = [...table[1].matchAll(/\[DDB_OP_\w+\]\s*=\s*"DynamoDB_20120810\.(\w+)"/g)].map((m) => m[1])
  assert.ok(ops.length >= 8, `operations found: ${ops}`)
  // Every enum value has its row (DDB_OP_COUNT excepted).
  const header = fs.readFileSync(path.join(ROOT, 'include', 'sessiond', 'ddb_codec.h'), 'utf8')
  const enumBody = /enum ddb_op \{([\s\S]*?)\};/.exec(header)[1]
  const values = [...enumBody.matchAll(/DDB_OP_(\w+)/g)].map((m) => m[1]).filter((v) => v !== 'COUNT')
  assert.equal(ops.length, values.length, 'one target per enum ddb_op value')
  return ops
}

const policy = () => JSON.parse(fs.readFileSync(POLICY, 'utf8'))
const actionsOf = (st) => [].concat(st.Action).map((a) => {
  assert.match(a, /^dynamodb:[A-Z]\w+$/, `a DynamoDB action, no wildcard: ${a}`)
  return a.slice('dynamodb:'.length)
})

describe('docs/iam-policy.json', () => {
  it('is a well-formed IAM policy: Allow statements with Sids, no wildcard actions, table ARNs', () => {
    const p = policy()
    assert.equal(p.Version, '2012-10-17')
    assert.ok(Array.isArray(p.Statement) && p.Statement.length >= 2)
    const sids = new Set()
    for (const st of p.Statement) {
      assert.deepEqual(Object.keys(st).sort(), ['Action', 'Effect', 'Resource', 'Sid'])
      assert.match(st.Sid, /^[A-Za-z0-9]+$/)
      assert.ok(!sids.has(st.Sid), `Sid ${st.Sid} is unique`)
      sids.add(st.Sid)
      assert.equal(st.Effect, 'Allow')
      for (const r of [].concat(st.Resource)) assert.match(r, /^arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]+(\/index\/(\*|[A-Za-z0-9_.-]+))?$/)
      actionsOf(st)
    }
  })

  it('names exactly the operations the code calls, each once', (t) => {
    const code = codeOperations()
    for (const a of AHEAD_OF_CODE) {
      assert.ok(!code.includes(a), `the code calls ${a} now: remove it from AHEAD_OF_CODE in this test`)
    }
    const named = policy().Statement.flatMap(actionsOf)
    assert.equal(new Set(named).size, named.length, `no action twice: ${named}`)
    assert.deepEqual([...named].sort(), [...code, ...AHEAD_OF_CODE].sort())
    t.diagnostic(`code: ${code.join(', ')}; ahead of the code: ${AHEAD_OF_CODE.join(', ') || 'none'}`)
  })

  it('grants table creation only in its own statement, and Query only on the index', () => {
    for (const st of policy().Statement) {
      const acts = actionsOf(st)
      const creates = acts.filter((a) => CREATE_ONLY.includes(a))
      if (creates.length) {
        assert.deepEqual(acts.sort(), [...CREATE_ONLY].sort(), `${st.Sid}: the create_table statement holds only those`)
        assert.match(st.Sid, /CreateTable/)
      }
      const onIndex = [].concat(st.Resource).every((r) => /\/index\//.test(r))
      assert.equal(acts.some((a) => INDEX_ONLY.includes(a)), onIndex, `${st.Sid}: Query and index ARNs go together`)
      if (onIndex) assert.deepEqual(acts, INDEX_ONLY)
    }
  })

  it('docs/deploy.md says why each action is there', () => {
    const text = fs.readFileSync(DEPLOY, 'utf8')
    for (const a of policy().Statement.flatMap(actionsOf)) {
      assert.match(text, new RegExp(`\\| \`dynamodb:${a}\` \\|`), `deploy.md has a row for dynamodb:${a}`)
    }
  })
})
