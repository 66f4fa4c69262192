'use strict'
// A tiny DynamoDB JSON client over fetch, to check and seed the tables the
// daemon uses directly in the test DynamoDB engine (dynalite). dynalite does
// not verify signatures, only that the Authorization header is well formed.

const DEFAULT_AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, ' +
  'SignedHeaders=host;x-amz-date, Signature=00'

function amzDate(d = new Date()) {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '') // 20150830T123600Z
}

class DdbError extends Error {
  constructor(op, status, body) {
    const type = body && typeof body.__type === 'string' ? body.__type.split('#').pop() : 'UnknownError'
    const msg = body && (body.message || body.Message)
    super(`${op}: HTTP ${status} ${type}${msg ? ': ' + msg : ''}`)
    this.name = type
    this.code = type
    this.status = status
    this.body = body
  }
}

function endpointFromEnv() {
  const e = process.env.SESSIOND_TEST_DDB_ENDPOINT
  if (!e) throw new Error('SESSIOND_TEST_DDB_ENDPOINT is not set')
  return e
}

// client(endpoint) → { call, getItem, putItem, deleteItem, scan, ... }
function client(endpoint = endpointFromEnv()) {
  const base = endpoint.replace(/\/+$/, '') + '/'

  async function call(op, body) {
    const res = await fetch(base, {
      method: 'POST',
      headers: {
        Authorization: DEFAULT_AUTH,
        'X-Amz-Date': amzDate(),
        'X-Amz-Target': `DynamoDB_20120810.${op}`,
        'Content-Type': 'application/x-amz-json-1.0',
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    })
    const text = await res.text()
    let json
    try {
      json = text ? JSON.parse(text) : {}
    } catch {
      json = { message: text }
    }
    if (!res.ok) throw new DdbError(op, res.status, json)
    return json
  }

  // Key of a session item: { [hashKey]: { S: prefix + id } }.
  const key = (id, { hashKey = 'id', prefix = 'sess:' } = {}) => ({ [hashKey]: { S: prefix + id } })

  return {
    call,
    key,
    // Resolves with the Item or undefined.
    async getItem(table, k) {
      const r = await call('GetItem', { TableName: table, Key: k, ConsistentRead: true })
      return r.Item
    },
    async putItem(table, item, extra = {}) {
      return call('PutItem', { TableName: table, Item: item, ...extra })
    },
    async deleteItem(table, k) {
      return call('DeleteItem', { TableName: table, Key: k })
    },
    // Every item of table, following LastEvaluatedKey.
    async scan(table, extra = {}) {
      const items = []
      let start
      do {
        const r = await call('Scan', {
          TableName: table,
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
          ...extra,
        })
        items.push(...(r.Items || []))
        start = r.LastEvaluatedKey
      } while (start)
      return items
    },
    async describeTable(table) {
      return (await call('DescribeTable', { TableName: table })).Table
    },
    // Resolves true if the table exists.
    async tableExists(table) {
      try {
        await call('DescribeTable', { TableName: table })
        return true
      } catch (e) {
        if (e.code === 'ResourceNotFoundException') return false
        throw e
      }
    },
    // Creates a sessions table (on-demand) and waits until it is ACTIVE.
    async createTable(table, hashKey = 'id') {
      await call('CreateTable', {
        TableName: table,
        AttributeDefinitions: [{ AttributeName: hashKey, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: hashKey, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      })
      const until = Date.now() + 15000
      for (;;) {
        const t = (await call('DescribeTable', { TableName: table })).Table
        if (t.TableStatus === 'ACTIVE') return t
        if (Date.now() > until) throw new Error(`table ${table} not ACTIVE after 15 s`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async deleteTable(table) {
      return call('DeleteTable', { TableName: table })
    },
  }
}

// A connect-dynamodb style session item (no version unless given).
function sessionItem(id, { data = {}, expires, version, hashKey = 'id', prefix = 'sess:' } = {}) {
  const item = {
    [hashKey]: { S: prefix + id },
    expires: { N: String(expires) },
    type: { S: 'connect-session' },
    sess: { S: JSON.stringify(data) },
  }
  if (version !== undefined) item.version = { N: String(version) }
  return item
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

module.exports = { client, sessionItem, amzDate, nowSeconds, DdbError }
