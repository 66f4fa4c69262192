'use strict'
// docs/openapi.yaml against the daemon it describes:
//   1. the document is valid OpenAPI 3.1 (@readme/openapi-parser);
//   2. its paths and methods are exactly the routes of api_route_table[] in
//      src/api.c (HEAD wherever GET), with the security, request body media
//      type and id pattern each route implies;
//   3. live answers of the real binary (against dynalite) have a documented
//      status, the headers the document marks required, and bodies that
//      match the documented schemas.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { validate, compileErrors, parse, dereference } = require('@readme/openapi-parser')

const { startDaemon, request, describeExchange: ex, ROOT } = require('./lib/daemon')

const DOC = path.join(ROOT, 'docs', 'openapi.yaml')
const API_C = path.join(ROOT, 'src', 'api.c')
const CONF = path.join(ROOT, 'conf', 'sessiond.conf')
const T = { timeout: 20000 }
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace']
const ID_PATTERN = '^[A-Za-z0-9._~-]{1,256}$'

// ---------------------------------------------------------------------------
// The route table of src/api.c

function routeTable() {
  const src = fs.readFileSync(API_C, 'utf8')
  const m = /static const struct http_route api_route_table\[\] = \{([\s\S]*?)\n\};/.exec(src)
  assert.ok(m, 'api_route_table[] found in src/api.c')
  const rows = []
  // { pattern, HTTP_METHOD, name, HTTP_BODY_x, auth, handler }; auth is
  // HTTP_AUTH_NONE | REQUIRED | OPTIONAL (a bool in older trees).
  const re = /\{\s*"([^"]+)",\s*HTTP_([A-Z]+),\s*"([^"]+)",\s*HTTP_BODY_([A-Z_]+),\s*(true|false|HTTP_AUTH_[A-Z]+),\s*(\w+)\s*\}/g
  const AUTH = { true: 'required', false: 'none', HTTP_AUTH_REQUIRED: 'required', HTTP_AUTH_NONE: 'none', HTTP_AUTH_OPTIONAL: 'optional' }
  for (let r; (r = re.exec(m[1])); ) {
    assert.ok(AUTH[r[5]], `auth kind ${r[5]} is known to this test`)
    rows.push({ pattern: r[1], method: r[2].toLowerCase(), name: r[3], body: r[4], auth: AUTH[r[5]] })
  }
  assert.match(m[1], /\{\s*NULL,/, 'the table ends with its NULL row')
  const rowCount = (m[1].match(/^\s*\{/gm) || []).length - 1 // minus the NULL row
  assert.equal(rows.length, rowCount, 'every row of api_route_table[] was understood')
  return rows
}

// Path → Set of served methods (lower case); the server answers HEAD with
// the GET route.
function servedMethods(rows) {
  const out = new Map()
  for (const r of rows) {
    if (!out.has(r.pattern)) out.set(r.pattern, new Set())
    out.get(r.pattern).add(r.method)
    if (r.method === 'get') out.get(r.pattern).add('head')
  }
  return out
}

function docMethods(doc) {
  const out = new Map()
  for (const [p, item] of Object.entries(doc.paths)) out.set(p, new Set(METHODS.filter((m) => item[m])))
  return out
}

// ---------------------------------------------------------------------------
// A small JSON Schema checker for the keywords the document uses. Any other
// keyword throws, so the document cannot outgrow what is checked here.

const ANNOTATIONS = new Set(['description', 'examples', 'example', 'default', 'format', 'title', '$schema'])
const ASSERTIONS = new Set(['type', 'properties', 'required', 'additionalProperties', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'const', 'not'])

function typeOf(v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (Number.isInteger(v)) return 'integer'
  return typeof v
}

function schemaErrors(schema, v, at = '$', errs = []) {
  for (const k of Object.keys(schema)) {
    if (!ANNOTATIONS.has(k) && !ASSERTIONS.has(k)) throw new Error(`schema keyword "${k}" at ${at} is not checked by this test`)
  }
  if ('const' in schema && JSON.stringify(v) !== JSON.stringify(schema.const)) errs.push(`${at}: must be ${JSON.stringify(schema.const)}`)
  if (schema.type) {
    const t = typeOf(v)
    const ok = schema.type === t || (schema.type === 'number' && t === 'integer')
    if (!ok) {
      errs.push(`${at}: must be ${schema.type}, is ${t}`)
      return errs
    }
  }
  if (typeof v === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(v)) errs.push(`${at}: must match ${schema.pattern}`)
    if (schema.minLength !== undefined && [...v].length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`)
    if (schema.maxLength !== undefined && [...v].length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`)
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum) errs.push(`${at}: below ${schema.minimum}`)
    if (schema.maximum !== undefined && v > schema.maximum) errs.push(`${at}: above ${schema.maximum}`)
  }
  if (typeOf(v) === 'object') {
    for (const k of schema.required || []) if (!(k in v)) errs.push(`${at}: missing member "${k}"`)
    const props = schema.properties || {}
    for (const [k, x] of Object.entries(v)) {
      if (props[k]) schemaErrors(props[k], x, `${at}.${k}`, errs)
      else if (schema.additionalProperties === false) errs.push(`${at}: member "${k}" is not allowed`)
      else if (typeof schema.additionalProperties === 'object') schemaErrors(schema.additionalProperties, x, `${at}.${k}`, errs)
    }
  }
  if (schema.not && schemaErrors(schema.not, v, `${at}(not)`).length === 0) errs.push(`${at}: matches what "not" forbids`)
  return errs
}

function assertSchema(schema, v, what) {
  const errs = schemaErrors(schema, v)
  assert.deepEqual(errs, [], `${what}: ${JSON.stringify(v)}`)
}

// ---------------------------------------------------------------------------
// Live answers against the (dereferenced) document

const mediaType = (ct) => (ct || '').split(';')[0].trim().toLowerCase()

// Checks r, the answer to method on the document path p: a documented status
// (405: the MethodNotAllowed response), its required headers with values
// matching their schemas, and its content type and body.
function assertDocumented(doc, p, method, r) {
  const op = doc.paths[p] && doc.paths[p][method.toLowerCase()]
  let resp
  if (r.status === 405) {
    assert.ok(!op, `405 only for undocumented methods: ${ex(r)}`)
    resp = doc.components.responses.MethodNotAllowed
  } else {
    assert.ok(op, `${method} ${p} is documented`)
    resp = op.responses[String(r.status)]
    assert.ok(resp, `status ${r.status} is documented for ${method} ${p}: ${ex(r)}`)
  }
  for (const [name, h] of Object.entries(resp.headers || {})) {
    const v = r.headers.get(name)
    if (!h.required) continue
    assert.ok(v !== null, `header ${name} on ${r.status} of ${method} ${p}: ${ex(r)}`)
    const val = h.schema.type === 'integer' && /^\d+$/.test(v) ? Number(v) : v
    assertSchema(h.schema, val, `header ${name}: ${ex(r)}`)
  }
  const content = resp.content || {}
  if (method === 'HEAD' || Object.keys(content).length === 0) {
    assert.equal(r.text, '', `no body: ${ex(r)}`)
    return
  }
  const mt = mediaType(r.headers.get('content-type'))
  assert.ok(content[mt], `content type ${mt} is documented for ${r.status} of ${method} ${p}: ${ex(r)}`)
  const schema = content[mt].schema
  if (/json$/.test(mt)) {
    assert.ok(r.json !== undefined, `JSON body: ${ex(r)}`)
    assertSchema(schema, r.json, `${r.status} body of ${method} ${p}: ${ex(r)}`)
  } else {
    assertSchema(schema, r.text, `${r.status} body of ${method} ${p}`)
  }
}

// ---------------------------------------------------------------------------

describe('docs/openapi.yaml', () => {
  let doc // as written ($refs kept)
  let full // dereferenced

  before(async () => {
    doc = await parse(DOC)
    full = await dereference(DOC)
  })

  it('is valid OpenAPI 3.1', T, async () => {
    const res = await validate(DOC)
    assert.ok(res.valid, res.valid ? '' : compileErrors(res))
    assert.equal(res.specification, 'OpenAPI')
    assert.match(doc.openapi, /^3\.1\.\d+$/)
  })

  it('documents exactly the routes of api_route_table[] (HEAD wherever GET)', T, () => {
    const rows = routeTable()
    assert.ok(rows.length >= 9, `rows: ${JSON.stringify(rows)}`)
    const served = servedMethods(rows)
    const documented = docMethods(doc)
    for (const [p, ms] of served) {
      assert.ok(documented.has(p), `route ${p} is in the document`)
      for (const m of ms) assert.ok(documented.get(p).has(m), `${m.toUpperCase()} ${p} is in the document`)
    }
    for (const [p, ms] of documented) {
      assert.ok(served.has(p), `documented path ${p} is a route`)
      for (const m of ms) assert.ok(served.get(p).has(m), `documented ${m.toUpperCase()} ${p} is served`)
    }
  })

  it('each route has the security, request body type and id pattern the server applies', T, () => {
    const rows = routeTable()
    const global = full.security || []
    for (const r of rows) {
      const item = full.paths[r.pattern]
      for (const m of r.method === 'get' ? ['get', 'head'] : [r.method]) {
        const op = item[m]
        const where = `${m.toUpperCase()} ${r.pattern}`
        assert.ok(op, `${where} is documented`)
        const sec = op.security || global
        // required: the token; none: nothing; optional (a setting decides):
        // either no token or the token.
        const SEC = { required: [{ bearerAuth: [] }], none: [], optional: [{}, { bearerAuth: [] }] }
        assert.deepEqual(sec, SEC[r.auth], `${where}: security for auth ${r.auth}`)
        const want = { JSON: 'application/json', MERGE_PATCH: 'application/merge-patch+json', NONE: null }[r.body]
        assert.notEqual(want, undefined, `${where}: body kind ${r.body} is known to this test`)
        if (want) assert.deepEqual(Object.keys(op.requestBody.content), [want], `${where}: request body type`)
        else assert.equal(op.requestBody, undefined, `${where}: no request body`)
        const params = [...(item.parameters || []), ...(op.parameters || [])]
        const id = params.find((x) => x.in === 'path' && x.name === 'id')
        if (r.pattern.includes('{id}')) {
          assert.ok(id && id.required, `${where}: required id parameter`)
          assert.equal(id.schema.pattern, ID_PATTERN, where)
        } else {
          assert.equal(id, undefined, where)
        }
        // What every operation can be answered, and the headers that come with it.
        for (const s of ['400', '500']) assert.ok(op.responses[s], `${where} documents ${s}`)
        if (r.auth !== 'none') assert.ok(op.responses['401'], `${where} documents 401`)
        else assert.ok(!op.responses['401'], `${where} has no 401`)
        if (r.pattern.startsWith('/v1/')) for (const s of ['502', '503']) assert.ok(op.responses[s], `${where} documents ${s}`)
        if (want) assert.ok(op.responses['415'] && op.responses['413'], `${where} documents 413 and 415`)
      }
    }
  })

  it('every response documents X-Request-Id; 401, 405 and 503 their headers; errors are problem+json', T, () => {
    const all = []
    for (const [p, item] of Object.entries(full.paths)) {
      for (const m of METHODS) if (item[m]) for (const [s, resp] of Object.entries(item[m].responses)) all.push([`${m.toUpperCase()} ${p} ${s}`, s, resp, m])
    }
    for (const [name, resp] of Object.entries(full.components.responses)) all.push([`components.responses.${name}`, null, resp, null])
    const problemRequired = ['type', 'title', 'status', 'detail']
    for (const [where, s, resp, m] of all) {
      const h = resp.headers || {}
      assert.ok(h['X-Request-Id'] && h['X-Request-Id'].required, `${where}: X-Request-Id`)
      if (s === '401') assert.deepEqual(h['WWW-Authenticate'] && h['WWW-Authenticate'].schema.const, 'Bearer', `${where}: WWW-Authenticate`)
      if (s === '503') assert.ok(h['Retry-After'] && h['Retry-After'].required, `${where}: Retry-After`)
      if (s && s >= '400' && m !== 'head') {
        const c = resp.content && resp.content['application/problem+json']
        assert.ok(c, `${where}: application/problem+json`)
        assert.deepEqual([...c.schema.required].sort(), [...problemRequired].sort(), `${where}: problem members`)
      }
    }
    assert.ok(full.components.responses.MethodNotAllowed.headers.Allow.required, 'Allow on 405')
  })

  it('request bodies follow the daemon: ttl 1..max_ttl, not both ttl and expires, id/version ignored, others refused', T, () => {
    const conf = fs.readFileSync(CONF, 'utf8')
    const maxTtl = Number(/^\s*max_ttl\s*=\s*(\d+)\s*;/m.exec(conf)[1])
    const s = full.components.schemas
    for (const name of ['CreateBody', 'PutBody', 'TouchBody']) {
      const b = s[name]
      assert.equal(b.additionalProperties, false, name)
      assert.deepEqual(b.not, { required: ['ttl', 'expires'] }, `${name}: not both`)
      assert.equal(b.properties.ttl.type, 'integer', name)
      assert.equal(b.properties.ttl.minimum, 1, name)
      assert.equal(b.properties.ttl.maximum, maxTtl, `${name}: ttl maximum = the default session.max_ttl`)
      assert.match(b.properties.ttl.description, /max_ttl/, `${name}: says the maximum is configurable`)
      assert.equal(b.properties.expires.type, 'integer', name)
      for (const ro of ['id', 'version']) assert.equal(b.properties[ro].type, undefined, `${name}.${ro}: any value is tolerated`)
      assertSchema(b, { ...(b.required ? { data: {} } : {}), ttl: 60, id: 5, version: 'x' }, `${name} takes id/version`)
      assert.ok(schemaErrors(b, { ttl: 60, expires: 99 }).length > 0, `${name}: ttl and expires together are refused`)
      assert.ok(schemaErrors(b, { ttl: 60, other: 1 }).length > 0, `${name}: unknown members are refused`)
      assert.ok(schemaErrors(b, { ttl: maxTtl + 1 }).length > 0, `${name}: ttl over max_ttl`)
      assert.ok(schemaErrors(b, { ttl: 0 }).length > 0, `${name}: ttl 0`)
    }
    assert.deepEqual(s.PutBody.required, ['data'])
    assert.equal(s.TouchBody.properties.data, undefined, 'no data in a touch')
    assert.equal(full.paths['/v1/sessions/{id}'].patch.parameters.find((x) => x.name === 'ttl').schema.maximum, maxTtl)
    for (const name of ['Session', 'Problem']) for (const e of s[name].examples) assertSchema(s[name], e, `${name} example`)
  })

  describe('live answers', () => {
    let d
    let auth
    const api = (method, p, opts) => request(d.url, method, p, opts)
    const J = (json, extra = {}) => ({ json, ...extra })
    const S = '/v1/sessions'
    const ONE = '/v1/sessions/{id}'
    const TOUCH = '/v1/sessions/{id}/touch'
    const check = (p, method, r, status) => {
      assert.equal(r.status, status, ex(r))
      assertDocumented(full, p, method, r)
      return r
    }

    // Routes whose token a setting turns on (/metrics: auth.metrics).
    const optional = routeTable().filter((r) => r.auth === 'optional')

    before(async () => {
      const tokens = { auth: { tokens: ['t0k3n'], ...(optional.length ? { metrics: true } : {}) } }
      ;[d, auth] = await Promise.all([startDaemon(), startDaemon(tokens)])
    }, T)
    after(async () => {
      await Promise.all([d && d.stop(), auth && auth.stop()])
    }, T)

    it('v1.1: regenerate, and the sessions of a user (users.index on; off: 404 and 400)', T, async () => {
      const REGEN = '/v1/sessions/{id}/regenerate'
      const USERS = '/v1/users/{uid}/sessions'
      const u = await startDaemon({ users: { index: 'by-user' } })
      try {
        const call = (method, p, opts) => request(u.url, method, p, opts)
        const c = check(S, 'POST', await call('POST', S, J({ data: { a: 1 }, user: 'ann' })), 201)
        assert.equal(c.json.user, 'ann')
        check(ONE, 'PUT', await call('PUT', '/v1/sessions/oa-user', J({ data: {}, user: 'ann' })), 201)
        check(S, 'POST', await call('POST', S, J({ data: {}, user: '' })), 400)
        const r = check(REGEN, 'POST', await call('POST', `/v1/sessions/${c.json.id}/regenerate`), 201)
        assert.equal(r.headers.get('location'), `/v1/sessions/${r.json.id}`)
        check(REGEN, 'POST', await call('POST', `/v1/sessions/${c.json.id}/regenerate`), 404)
        check(REGEN, 'POST', await call('POST', `/v1/sessions/${r.json.id}/regenerate`, J({ ttl: 0 })), 400)
        check(REGEN, 'POST', await call('POST', `/v1/sessions/${r.json.id}/regenerate`, { body: '{}', type: 'text/plain' }), 415)
        const l = check(USERS, 'GET', await call('GET', '/v1/users/ann/sessions?limit=1'), 200)
        assert.equal(l.json.sessions.length, 1)
        for (const x of l.json.sessions) assert.deepEqual(Object.keys(x).sort(), ['expires', 'id'])
        check(USERS, 'GET', await call('GET', `/v1/users/ann/sessions?cursor=${l.json.next}`), 200)
        check(USERS, 'HEAD', await call('HEAD', '/v1/users/ann/sessions'), 200)
        check(USERS, 'GET', await call('GET', '/v1/users/ann/sessions?limit=0'), 400)
        check(USERS, 'GET', await call('GET', '/v1/users/ann/sessions?cursor=forged'), 400)
        check(USERS, 'DELETE', await call('DELETE', '/v1/users/ann/sessions?except=oa-user'), 200)
        check(USERS, 'DELETE', await call('DELETE', '/v1/users/ann/sessions?except=a%20b'), 400)
        assertDocumented(full, USERS, 'PUT', await call('PUT', '/v1/users/ann/sessions', J({})))
      } finally {
        await u.stop()
      }
      check(USERS, 'GET', await api('GET', '/v1/users/ann/sessions'), 404)
      check(S, 'POST', await api('POST', S, J({ data: {}, user: 'ann' })), 400)
    })

    it('sessions: create, read, replace, patch, touch, delete', T, async () => {
      const c = check(S, 'POST', await api('POST', S, J({ data: { a: 1 }, ttl: 600 })), 201)
      const id = c.json.id
      assert.equal(c.headers.get('location'), `/v1/sessions/${id}`)
      assert.equal(c.headers.get('etag'), '"1"')
      const url = `/v1/sessions/${id}`
      check(ONE, 'GET', await api('GET', url), 200)
      check(ONE, 'HEAD', await api('HEAD', url), 200)
      check(ONE, 'PUT', await api('PUT', url, J({ data: { b: 2 } })), 200)
      check(ONE, 'PUT', await api('PUT', url, J({ data: {} }, { headers: { 'If-Match': '"99"' } })), 412)
      check(ONE, 'PUT', await api('PUT', url, J({ data: {} }, { headers: { 'If-None-Match': '*' } })), 412)
      const p = check(ONE, 'PATCH', await api('PATCH', `${url}?ttl=120`, J({ c: 3 }, { type: 'application/merge-patch+json' })), 200)
      assert.deepEqual(p.json.data, { b: 2, c: 3 })
      check(ONE, 'PATCH', await api('PATCH', url, J({ c: 3 })), 415)
      check(ONE, 'PATCH', await api('PATCH', `${url}?ttl=0`, J({ c: 3 }, { type: 'application/merge-patch+json' })), 400)
      const t = check(TOUCH, 'POST', await api('POST', `${url}/touch`, J({ ttl: 300 })), 200)
      assert.equal(t.json.version, 3)
      check(TOUCH, 'POST', await api('POST', `${url}/touch`), 200)
      const slid = check(ONE, 'GET', await api('GET', `${url}?touch=1&ttl=900`), 200)
      assert.equal(slid.headers.get('sessiond-touch'), 'written')
      check(ONE, 'HEAD', await api('HEAD', `${url}?touch=1`), 200)
      check(ONE, 'GET', await api('GET', `${url}?touch=2`), 400)
      check(ONE, 'GET', await api('GET', `${url}?ttl=60`), 400)
      check(ONE, 'DELETE', await api('DELETE', url), 204)
      check(ONE, 'DELETE', await api('DELETE', url), 204)
      check(ONE, 'GET', await api('GET', url), 404)
      check(ONE, 'HEAD', await api('HEAD', url), 404)
      check(ONE, 'GET', await api('GET', `${url}?touch=1`), 404)
      check(TOUCH, 'POST', await api('POST', `${url}/touch`, J({ ttl: 60 })), 404)
      check(ONE, 'PATCH', await api('PATCH', url, J({ a: 1 }, { type: 'application/merge-patch+json' })), 404)
      const id2 = `openapi-${process.pid}-${Date.now()}`
      const put = check(ONE, 'PUT', await api('PUT', `/v1/sessions/${id2}`, J({ data: { x: 1 }, expires: Math.floor(Date.now() / 1000) + 60 })), 201)
      assert.equal(put.headers.get('location'), `/v1/sessions/${id2}`)
    })

    it('request body rules: id/version ignored, unknown members, both ttl and expires, bad ttl', T, async () => {
      const ok = check(S, 'POST', await api('POST', S, J({ data: {}, id: 'mine', version: 7 })), 201)
      assert.notEqual(ok.json.id, 'mine')
      assert.equal(ok.json.version, 1)
      const exp = Math.floor(Date.now() / 1000) + 60
      for (const body of [{ data: {}, ttl: 60, expires: exp }, { data: {}, other: 1 }, { data: 1 }, { data: {}, ttl: 0 }, { data: {}, ttl: 2592001 }, { data: {}, ttl: 1.5 }]) {
        const r = check(S, 'POST', await api('POST', S, J(body)), 400)
        assert.equal(r.json.status, 400)
      }
      check(S, 'POST', await api('POST', S, { body: '{"data": ', type: 'application/json' }), 400)
      check(S, 'POST', await api('POST', S, { body: '{"data": {}}', type: 'text/plain' }), 415)
      check(S, 'POST', await api('POST', S, { body: JSON.stringify({ data: { p: 'p'.repeat(409600) } }), type: 'application/json' }), 413)
      check(ONE, 'PUT', await api('PUT', '/v1/sessions/openapi-nodata', J({ ttl: 60 })), 400)
      check(TOUCH, 'POST', await api('POST', '/v1/sessions/openapi-x/touch', J({ data: {} })), 400)
    })

    it('a bad id is 400, an unknown path 404, both problem+json', T, async () => {
      for (const [p, m, url] of [
        [ONE, 'GET', '/v1/sessions/a!b'],
        [ONE, 'DELETE', `/v1/sessions/${'x'.repeat(257)}`],
        [TOUCH, 'POST', '/v1/sessions/a%2Fb/touch'],
      ]) {
        const r = check(p, m, await api(m, url), 400)
        assert.deepEqual(Object.keys(r.json).sort(), ['detail', 'status', 'title', 'type'])
      }
      const r = await api('GET', '/v1/nope')
      assert.equal(r.status, 404, ex(r))
      assertDocumented(full, ONE, 'GET', r) // the same NotFound problem document
    })

    it('405 with Allow = the methods the document lists for the path', T, async () => {
      for (const [p, item] of Object.entries(full.paths)) {
        const listed = METHODS.filter((m) => item[m]).map((m) => m.toUpperCase())
        const other = ['POST', 'PUT', 'DELETE', 'PATCH', 'GET'].find((m) => !listed.includes(m))
        const url = p.replace('{id}', 'openapi-405')
        const r = check(p, other, await api(other, url, other === 'GET' || other === 'DELETE' ? {} : J({})), 405)
        const allow = (r.headers.get('allow') || '').split(',').map((s) => s.trim()).filter(Boolean)
        assert.deepEqual(allow.sort(), listed.sort(), `Allow for ${p}: ${ex(r)}`)
      }
    })

    it('probes: GET and HEAD of /healthz, /readyz, /metrics', T, async () => {
      for (const p of ['/healthz', '/readyz', '/metrics']) {
        check(p, 'GET', await api('GET', p), 200)
        check(p, 'HEAD', await api('HEAD', p), 200)
      }
    })

    it('with tokens configured: 401 with WWW-Authenticate on /v1/, probes need none', T, async () => {
      const a = (method, p, opts) => request(auth.url, method, p, opts)
      check(S, 'POST', await a('POST', S, J({ data: {} })), 401)
      check(ONE, 'GET', await a('GET', '/v1/sessions/openapi-auth'), 401)
      check(ONE, 'GET', await a('GET', '/v1/sessions/openapi-auth', { headers: { Authorization: 'Bearer wrong' } }), 401)
      check(ONE, 'GET', await a('GET', '/v1/sessions/openapi-auth', { headers: { Authorization: 'Bearer t0k3n' } }), 404)
      check(TOUCH, 'POST', await a('POST', '/v1/sessions/openapi-auth/touch'), 401)
      const opt = new Set(optional.map((r) => r.pattern))
      for (const p of ['/healthz', '/readyz', '/metrics']) {
        if (!opt.has(p)) {
          check(p, 'GET', await a('GET', p), 200)
          continue
        }
        // auth.metrics = true: as /v1/
        check(p, 'GET', await a('GET', p), 401)
        check(p, 'HEAD', await a('HEAD', p), 401)
        check(p, 'GET', await a('GET', p, { headers: { Authorization: 'Bearer t0k3n' } }), 200)
      }
      // and without auth.metrics (the first daemon has no tokens at all)
      for (const p of opt) check(p, 'GET', await api('GET', p), 200)
    })
  })
})
